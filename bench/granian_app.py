"""The webhook app as `serve` builds it, for granian to serve in bench_ingest.py (the
comparison of servers): the store, manifest and secrets come from the environment."""

from webhooks import create_app

app = create_app()
