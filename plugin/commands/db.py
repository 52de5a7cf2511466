"""`skillrelay db upgrade|current`: create or upgrade the schema, or show where it stands."""

from __future__ import annotations

import argparse
from typing import Any

from plugin import settings
from plugin.store import migrate
from plugin.store.engine import safe_url

URL_HELP = f"database URL (default: ${settings.DATABASE_ENV}, else {settings.DEFAULT_DATABASE_URL})"


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "db", help="create, upgrade or inspect the database schema"
    )
    actions = parser.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    upgrade = actions.add_parser("upgrade", help="bring the schema to the latest revision")
    upgrade.add_argument("--url", help=URL_HELP)
    upgrade.set_defaults(func=run_upgrade)
    current = actions.add_parser("current", help="show the schema revision of the database")
    current.add_argument("--url", help=URL_HELP)
    current.set_defaults(func=run_current)


def run_upgrade(args: argparse.Namespace) -> int:
    url = settings.database_url(args.url)
    shown = safe_url(url)  # also rejects a malformed URL before any connection is tried
    result = migrate.upgrade(url)
    if result.before == result.after:
        print(f"database {shown} already at revision {result.after} (head)")
    else:
        before = result.before or "an empty schema"
        print(f"database {shown} upgraded from {before} to revision {result.after} (head)")
    return 0


def run_current(args: argparse.Namespace) -> int:
    url = settings.database_url(args.url)
    shown = safe_url(url)
    found, head = migrate.current(url), migrate.head()
    if found == head:
        print(f"database {shown} at revision {found} (head)")
    elif found is None:
        print(f"database {shown} has no schema; run `skillrelay db upgrade` (head is {head})")
    else:
        print(f"database {shown} at revision {found}; run `skillrelay db upgrade` (head is {head})")
    return 0
