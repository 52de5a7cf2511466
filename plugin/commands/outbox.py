"""`skillrelay outbox`: the effects waiting for, or given up on, delivery; and their retry."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any, get_args

from plugin.printable import printable
from plugin.settings import database_url
from plugin.store import OutboxItem, OutboxStatus, Store

ERROR_WIDTH = 60


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "outbox", help="list the effects skillrelay delivers to Jira and the LRS; retry dead ones"
    )
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--failed", action="store_true", help="only dead effects (given up on)")
    shown.add_argument("--status", choices=get_args(OutboxStatus), help="only this status")
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    parser.add_argument("--limit", type=int, default=100, help="at most N (default 100)")
    parser.add_argument("--database", help="database URL (default $SKILLRELAY_DATABASE_URL)")
    parser.set_defaults(func=run_list)
    actions = parser.add_subparsers(dest="outbox_command", metavar="ACTION")
    retry = actions.add_parser(
        "retry", help="send dead effects again (back to pending, with a fresh retry budget)"
    )
    retry.add_argument("ids", metavar="ID", type=int, nargs="+", help="outbox effect id(s)")
    # SUPPRESS: `outbox --database URL retry 7` keeps the URL given before the action.
    retry.add_argument("--database", default=argparse.SUPPRESS, help="database URL")
    retry.set_defaults(func=run_retry)


def _time(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


def as_json(item: OutboxItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "status": item.status,
        "target": item.target,
        "action": item.action,
        "key": item.idempotency_key,
        "attempts": item.attempts,
        "next_attempt_at": _time(item.next_attempt_at),
        "last_error": item.last_error,
        "updated_at": _time(item.updated_at),
    }


def render(items: list[OutboxItem]) -> str:
    head = ("ID", "STATUS", "EFFECT", "ATTEMPTS", "NEXT ATTEMPT", "KEY", "LAST ERROR")
    rows = [head]
    for item in items:
        # Errors quote what Jira or the LRS answered, keys embed ticket keys: escaped.
        error = printable(item.last_error or "")
        if len(error) > ERROR_WIDTH:
            error = error[: ERROR_WIDTH - 1] + "…"
        due = _time(item.next_attempt_at) if item.status in ("pending", "in_flight") else ""
        effect = f"{item.target}/{item.action}"
        rows.append(
            (
                str(item.id),
                item.status,
                effect,
                str(item.attempts),
                due,
                printable(item.idempotency_key),
                error,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def run_list(args: argparse.Namespace) -> int:
    status: OutboxStatus | None = "dead" if args.failed else args.status
    with Store.open(database_url(args.database)) as store:
        items = store.outbox.list(status=status, limit=max(args.limit, 0))
        backlog = store.outbox.backlog()
    if args.json:
        for item in items:
            print(json.dumps(as_json(item), sort_keys=True))
        return 0
    if items:
        print(render(items))
    else:
        print("no dead effects" if status == "dead" else "the outbox is empty")
    print(
        f"\npending {backlog.pending}, in flight {backlog.in_flight}, dead {backlog.dead}"
        + (": `skillrelay outbox retry ID` sends a dead one again" if backlog.dead else "")
    )
    return 0


def run_retry(args: argparse.Namespace) -> int:
    code = 0
    with Store.open(database_url(args.database)) as store:
        for id in args.ids:
            item = store.outbox.get(id)
            if item is None:
                print(f"skillrelay: no outbox effect {id}", file=sys.stderr)
                code = 2
            elif _retry(store, id, f"{item.target}/{item.action}"):
                print(
                    f"effect {id} ({item.target}/{item.action}) is pending again, "
                    "with a fresh retry budget"
                )
            else:
                print(
                    f"skillrelay: effect {id} is {item.status}, not dead: nothing to retry",
                    file=sys.stderr,
                )
                code = 2
    return code


def _retry(store: Store, id: int, name: str) -> bool:
    """Revive a dead effect; audited in the same transaction, as the web UI's Retry is."""
    with store.transaction() as conn:
        revived = store.outbox.retry(id, conn=conn)
        if revived:
            detail = {"effect": name, "outcome": "pending", "previous": "dead"}
            store.audit.add(None, "outbox.retry", f"effect:{id}", detail, "cli", conn=conn)
    return revived
