"""`skillrelay events`: what skillrelay has seen, normalised across sources."""

from __future__ import annotations

import argparse
import json
from typing import Any

from plugin.events_view import EventViewer, render
from plugin.manifest import load_manifest
from plugin.runtime import SOURCE_NAMES
from plugin.settings import database_url, manifest_path
from plugin.store import Store


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "events", help="list completions and ticket transitions skillrelay has received"
    )
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    parser.add_argument("--source", choices=SOURCE_NAMES)
    parser.add_argument("--limit", type=int, default=50, help="newest N (default 50)")
    parser.add_argument("--manifest", help="manifest file (default $SKILLRELAY_MANIFEST)")
    parser.add_argument("--database", help="database URL (default $SKILLRELAY_DATABASE_URL)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    manifest = load_manifest(manifest_path(args.manifest))
    with Store.open(database_url(args.database)) as store:
        items = store.inbox.list(source=args.source, limit=max(args.limit, 0))
    viewer = EventViewer(manifest)
    rows = [viewer.row(item) for item in reversed(items)]  # oldest first reads like a story
    if args.json:
        for row in rows:
            print(json.dumps(row.as_json(), sort_keys=True))
    elif rows:
        print(render(rows))
    else:
        print("no events yet: run `skillrelay sync` or send webhooks to `skillrelay serve`")
    return 0
