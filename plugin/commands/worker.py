"""`skillrelay worker`: decide and deliver without the webhook app, for scale-out."""

from __future__ import annotations

import argparse
import threading
from typing import Any

from plugin.outbox_worker import stop_on_signals
from plugin.service import compose, drain, options


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "worker",
        help="decide inbox events and deliver outbox effects (no webhook app)",
        description="Run the pipeline and outbox workers alone. Several worker processes may "
        "share one PostgreSQL database: each claims rows the others have not locked. "
        "SIGTERM or Ctrl-C stop it after the item in hand.",
    )
    parser.add_argument(
        "--once", action="store_true", help="work until nothing is due now, then exit"
    )
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--pipeline-only", action="store_true", help="decide; deliver nothing")
    only.add_argument("--outbox-only", action="store_true", help="deliver; decide nothing")
    # Given by `serve --worker-processes`: stop when that process is gone.
    parser.add_argument("--parent", type=int, metavar="PID", help=argparse.SUPPRESS)
    options.add_common(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    options.service_logging()
    workers = compose.Workers(pipeline=not args.outbox_only, outbox=not args.pipeline_only)
    settings = options.settings(args)
    if not args.once:
        return compose.worker(settings, workers, parent=args.parent).run()
    stop = threading.Event()
    stop_on_signals(stop)
    opened = compose.open_parts(settings)
    try:
        print(drain.drain(opened, settings, workers, stop), flush=True)
    finally:
        opened.store.close()
    return 0
