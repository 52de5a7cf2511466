"""`skillrelay events`: what skillrelay has seen, normalised across sources."""

from __future__ import annotations

import argparse
import sys
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

MAX_AUDITED = 100  # ids listed in the audit entry of one retry


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
    actions = parser.add_subparsers(dest="events_command", metavar="ACTION")
    retry = actions.add_parser(
        "retry",
        help="give events set aside back to the workers, once what failed them is fixed",
    )
    chosen = retry.add_mutually_exclusive_group(required=True)
    chosen.add_argument("ids", metavar="ID", type=int, nargs="*", default=[], help="event id(s)")
    chosen.add_argument("--all", action="store_true", help="every event set aside")
    # SUPPRESS: `events --database URL retry 7` keeps the URL given before the action.
    retry.add_argument("--database", default=argparse.SUPPRESS, help="database URL")
    retry.set_defaults(func=run_retry)


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
    print("\nfixed what failed them? `skillrelay events retry ID` (or `--all`) gives them back")
    return 0


def run_retry(args: argparse.Namespace) -> int:
    """Events set aside go back to the inbox as new: a worker decides them again (and sets
    aside again, with the reason, any that still fail)."""
    with Store.open(database_url(args.database)) as store:
        with store.transaction() as conn:  # given back and audited together, as the web UI
            back = store.inbox.retry_failed(None if args.all else args.ids, conn=conn)
            if back:
                one = len(back) == 1 and not args.all
                target = f"event:{back[0]}" if one else "events:set-aside"  # the ids: below
                detail = {"count": len(back), "ids": back[:MAX_AUDITED]}
                store.audit.add(None, "events.retry", target, detail, "cli", conn=conn)
        missing = [] if args.all else sorted(set(args.ids) - set(back))
        for id in missing:
            item = store.inbox.get(id)
            state = f"is {item.status}, not set aside" if item else "does not exist"
            print(f"skillrelay: event {id} {state}: nothing to retry", file=sys.stderr)
    if back:
        print(f"{len(back)} event(s) go back to the workers: {', '.join(map(str, back))}")
    elif args.all:
        print("no events are set aside")
    return 2 if missing else 0


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
