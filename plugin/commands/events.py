"""`skillrelay events`: what skillrelay has seen, normalised across sources."""

from __future__ import annotations

import argparse
from dataclasses import fields, replace
from typing import Any

from plugin.domain import TicketTransition
from plugin.engine import IdentityResolver
from plugin.events_view import (
    EVENT_KINDS,
    EventRow,
    EventViewer,
    TicketHistory,
    newest,
    read,
    render,
    ticket_events,
)
from plugin.manifest import load_manifest
from plugin.printable import json_text, printable
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
    limit = max(args.limit, 0)
    with Store.open(database_url(args.database)) as store:
        # Delivery markers only record that a webhook call arrived: they are no events.
        found = [store.inbox.list(source=args.source, kind=k, limit=limit) for k in EVENT_KINDS]
        items = newest(found, limit)  # oldest first reads like a story
        tickets = {e.ticket.id for e in map(read, items) if isinstance(e, TicketTransition)}
        # The status a transition left is the one the ticket showed in its previous event.
        payloads = store.inbox.payloads(("ticket",)) if tickets else iter(())
        history = TicketHistory(ticket_events(payloads, tickets))
        # Mappings recorded with `identities map` count as much as the manifest's.
        resolver = IdentityResolver(manifest, store.identities.learned())
    viewer = EventViewer(manifest, resolver, history)
    rows = [viewer.row(item) for item in items]
    if args.json:
        for row in rows:
            print(json_text(row.as_json()))
    elif rows:
        print(render([shown(row) for row in rows]))
    else:
        print("no events yet: run `skillrelay sync` or send webhooks to `skillrelay serve`")
    return 0


def shown(row: EventRow) -> EventRow:
    """The row with its text escaped: keys, names and statuses come from Jira and the LRS."""
    text = {f.name: getattr(row, f.name) for f in fields(row)}
    changed: dict[str, Any] = {k: printable(v) for k, v in text.items() if isinstance(v, str)}
    changed["skills"] = tuple(printable(skill) for skill in row.skills)
    return replace(row, **changed)
