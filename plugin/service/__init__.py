"""Process composition for `skillrelay serve` and `skillrelay worker` (a composition root).

- compose: which parts a process runs and how they wake each other;
- http: the webhook app under waitress, with a draining shutdown;
- loop: a background thread per worker (pipeline, outbox, sync);
- run: the process lifetime, signals and the ordered shutdown;
- drain: `worker --once`.
"""
