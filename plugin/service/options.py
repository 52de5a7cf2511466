"""Command-line options `serve` and `worker` share, and the logging a service wants."""

from __future__ import annotations

import argparse
import logging

from plugin.outbox_pacing import duration
from plugin.outbox_worker import BACKOFF_BASE, RETRY_BUDGET
from plugin.service.compose import Settings, default_worker_id
from plugin.service.guard import Limits
from plugin.settings import database_url, manifest_path


def positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def span(text: str) -> float:
    """Seconds from `90`, `90s`, `15m`, `24h` or `2d`; more than 0."""
    number, unit = text.strip(), "s"
    if number[-1:].lower() in UNITS:
        number, unit = number[:-1], number[-1].lower()
    try:
        value = float(number) * UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected seconds or a number with s, m, h or d (24h), not {text}"
        ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def add_http_limits(parser: argparse.ArgumentParser) -> None:
    """The receiver's limits on slow and idle clients (serve only)."""
    group = parser.add_argument_group("http limits")
    default = Limits()
    group.add_argument(
        "--max-connections",
        type=count,
        default=default.connections,
        metavar="N",
        help="open connections; past it the one waiting longest for its request is closed "
        f"({default.connections})",
    )
    group.add_argument(
        "--read-timeout",
        type=span,
        default=default.read_timeout,
        metavar="TIME",
        help="time a request may take to arrive whole, from its first byte "
        f"({default.read_timeout:g}s)",
    )
    group.add_argument(
        "--idle-timeout",
        type=span,
        default=default.idle_timeout,
        metavar="TIME",
        help=f"time a connection may stay open with no request ({default.idle_timeout:g}s)",
    )


def http_limits(args: argparse.Namespace) -> Limits:
    return Limits(
        connections=args.max_connections,
        read_timeout=args.read_timeout,
        idle_timeout=args.idle_timeout,
    )


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", help="manifest file (default $SKILLRELAY_MANIFEST)")
    parser.add_argument("--database", help="database URL (default $SKILLRELAY_DATABASE_URL)")
    parser.add_argument(
        "--id", dest="worker_id", metavar="NAME", help="worker name in claims (default host-pid)"
    )
    parser.add_argument(
        "--jira-dry-run",
        action="store_true",
        help="log the Jira comments and labels instead of writing them; they are recorded as "
        "done (for trials: without it, a manifest with Jira needs its API token)",
    )
    tuning = parser.add_argument_group("tuning")
    tuning.add_argument(
        "--poll",
        type=positive,
        default=2.0,
        metavar="S",
        help="seconds between looks at the inbox and outbox when nothing wakes them (2)",
    )
    tuning.add_argument(
        "--batch",
        type=int,
        default=100,
        metavar="N",
        help="inbox events the pipeline claims per run (100)",
    )
    tuning.add_argument(
        "--lease",
        type=positive,
        default=60.0,
        metavar="S",
        help="seconds a claimed inbox event or outbox effect stays with this worker before "
        "others may take it; renewed while an effect is being delivered (60)",
    )
    tuning.add_argument(
        "--retry-base",
        type=positive,
        default=BACKOFF_BASE,
        metavar="S",
        help="seconds a failing target (Jira, the LRS) is first left alone, doubling with "
        f"each failure in a row up to an hour; a longer Retry-After wins ({BACKOFF_BASE:g})",
    )
    tuning.add_argument(
        "--retry-budget",
        type=span,
        default=RETRY_BUDGET.total_seconds(),
        metavar="TIME",
        help="how long an effect may keep failing, from when it was first due, before it is "
        "dead-lettered: seconds, or 90m, 24h, 2d "
        f"({duration(RETRY_BUDGET)})",
    )
    tuning.add_argument(
        "--notify-every",
        type=positive,
        default=60.0,
        metavar="S",
        help="seconds between notification planning ticks (60)",
    )
    tuning.add_argument(
        "--grace",
        type=positive,
        default=10.0,
        metavar="S",
        help="seconds a shutdown may take before the process exits anyway (10)",
    )


def settings(args: argparse.Namespace) -> Settings:
    return Settings(
        manifest_file=manifest_path(args.manifest),
        database=database_url(args.database),
        worker_id=args.worker_id or default_worker_id(),
        poll=args.poll,
        batch=max(1, args.batch),
        lease=args.lease,
        retry_base=args.retry_base,
        retry_budget=args.retry_budget,
        grace=args.grace,
        jira_dry_run=args.jira_dry_run,
        notify_every=args.notify_every,
    )


def service_logging() -> None:
    """A service reports what it starts and stops: skillrelay's own INFO lines are shown
    unless the root level is already lower (--log-level DEBUG)."""
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        logging.getLogger("skillrelay").setLevel(logging.INFO)
