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
from plugin.store import InboxItem, Store


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "events",
        help="list completions, progress on modules and ticket transitions skillrelay has received",
    )
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    parser.add_argument("--source", choices=SOURCE_NAMES)
    parser.add_argument("--limit", type=int, default=50, help="newest N (default 50)")
    parser.add_argument(
        "--failed",
        action="store_true",
        help="only the events that could not be read or decided, each with its reason",
    )
    parser.add_argument("--manifest", help="manifest file (default $SKILLRELAY_MANIFEST)")
    parser.add_argument("--database", help="database URL (default $SKILLRELAY_DATABASE_URL)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.failed:
        return run_failed(args)
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


def run_failed(args: argparse.Namespace) -> int:
    """The events set aside: kept in the inbox, counted by no engine, each with its reason."""
    with Store.open(database_url(args.database)) as store:
        items = store.inbox.list(source=args.source, status="failed", limit=max(args.limit, 0))
    items = [item for item in reversed(items) if item.kind in EVENT_KINDS]
    if args.json:
        for item in items:
            print(json_text(failed_json(item)))
        return 0
    if not items:
        print("no failed events")
        return 0
    table = [("#", "source", "received", "event", "reason")] + [
        (
            str(item.id),
            item.source,
            item.received_at.strftime("%Y-%m-%d %H:%M UTC"),
            printable(item.natural_key),
            printable(item.error or "-"),
        )
        for item in items
    ]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[4]]))
    return 0


def failed_json(item: InboxItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "source": item.source,
        "kind": item.kind,
        "natural_key": item.natural_key,
        "received_at": item.received_at.isoformat(),
        "reason": item.error,
    }


def shown(row: EventRow) -> EventRow:
    """The row with its text escaped: keys, names and statuses come from Jira and the LRS."""
    text = {f.name: getattr(row, f.name) for f in fields(row)}
    changed: dict[str, Any] = {k: printable(v) for k, v in text.items() if isinstance(v, str)}
    changed["skills"] = tuple(printable(skill) for skill in row.skills)
    return replace(row, **changed)
