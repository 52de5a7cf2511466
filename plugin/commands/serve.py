"""`skillrelay serve`: the webhook receiver and sync, plus the workers: in a `skillrelay
worker` process it starts (plugin/service/child.py), or in its own threads."""

from __future__ import annotations

import argparse
from typing import Any

from plugin.errors import ConfigError
from plugin.service import compose, options


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="receive webhooks, decide, deliver effects and sync, until SIGTERM or Ctrl-C",
        description="Run the webhook app under a production server (waitress, or granian with "
        "--server granian), with a pipeline worker, an outbox worker (in a `skillrelay "
        "worker` process it starts, or in this process) and periodic sync. SIGTERM or "
        "Ctrl-C stop it cleanly: requests in flight and the effect in hand finish first.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (8080; 0 picks a free one)")
    parser.add_argument("--threads", type=int, default=4, help="request threads (4)")
    parser.add_argument(
        "--server",
        choices=("waitress", "granian"),
        default="waitress",
        help="waitress (the default: every limit below, tested as documented) or granian "
        "(2 to 3.5 times the deliveries a second; its limits differ, see the README)",
    )
    parser.add_argument("--no-sync", action="store_true", help="do not pull the sources")
    parser.add_argument(
        "--sync-interval",
        type=options.positive,
        default=300.0,
        metavar="S",
        help="seconds between syncs of every source (300)",
    )
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="receive only: `skillrelay worker` processes decide and deliver",
    )
    parser.add_argument(
        "--worker-processes",
        type=int,
        metavar="N",
        help="decide and deliver in N `skillrelay worker` processes that serve starts and "
        "stops, woken at once by what it stores (1; 0: in serve's own threads, as for a "
        "SQLite database in memory)",
    )
    options.add_http_limits(parser)
    options.add_common(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    options.service_logging()
    if args.threads < 1:
        raise ConfigError("--threads must be at least 1")
    settings = options.settings(args)
    processes = args.worker_processes
    if processes is not None and processes < 0:
        raise ConfigError("--worker-processes must be 0 or more")
    if processes and args.no_worker:
        raise ConfigError("--no-worker and --worker-processes: choose one")
    workers = compose.Workers(
        pipeline=not args.no_worker, outbox=not args.no_worker, processes=processes
    )
    limits = options.http_limits(args)
    http = compose.Http(
        host=args.host, port=args.port, threads=args.threads, limits=limits, server=args.server
    )
    sync = None if args.no_sync else args.sync_interval
    return compose.serve(settings, http, workers, sync).run()
