"""`skillrelay notifications`: every message planned, its fate (sent, waiting, digested,
dropped), when, on which channel, and why; `skillrelay checkins`: the managers' check-ins
after an award, and `checkins done AWARD --by MANAGER [--note]` to record one."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from plugin.printable import printable
from plugin.settings import database_url
from plugin.store import Store
from plugin.store.notices import CheckIn, Notice

SHOWN_STATUS = {"pending": "waiting", "sent": "sent", "digested": "digested", "dropped": "dropped"}


def register(sub: Any) -> None:
    notes: argparse.ArgumentParser = sub.add_parser(
        "notifications", help="what was sent to whom, held, digested or dropped, and why"
    )
    notes.add_argument("--person", help="one person's messages")
    notes.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    notes.add_argument("--limit", type=int, default=200, help="at most N, newest first (200)")
    notes.add_argument("--database", help="database URL (default $SKILLRELAY_DATABASE_URL)")
    notes.set_defaults(func=run_list)

    checkins: argparse.ArgumentParser = sub.add_parser(
        "checkins", help="managers' check-ins after awards: due, overdue, done"
    )
    checkins.add_argument("--manager", help="one manager's check-ins")
    checkins.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    checkins.add_argument("--database", help="database URL (default $SKILLRELAY_DATABASE_URL)")
    checkins.set_defaults(func=run_checkins)
    actions = checkins.add_subparsers(dest="checkins_command", metavar="ACTION")
    done = actions.add_parser("done", help="record a check-in on an award")
    done.add_argument("award", type=int, metavar="AWARD", help="the award id")
    done.add_argument("--by", required=True, metavar="MANAGER", help="the manager's person id")
    done.add_argument("--note", help="what was talked about (shown in the review export)")
    done.add_argument("--database", default=argparse.SUPPRESS, help="database URL")
    done.set_defaults(func=run_done)


def _time(value: datetime | None) -> str:
    return value.isoformat(timespec="minutes") if value else ""


def notice_json(n: Notice) -> dict[str, Any]:
    return {
        "id": n.id,
        "person": n.person_id,
        "kind": n.kind,
        "status": SHOWN_STATUS[n.status],
        "channel": n.channel,
        "reason": n.reason,
        "due_at": _time(n.due_at),
        "sent_at": _time(n.sent_at),
        "digest": n.digest_id,
        "key": n.key,
    }


def _table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(printable(line) for line in lines)


def run_list(args: argparse.Namespace) -> int:
    with Store.open(database_url(args.database)) as store:
        found = store.notices.list(person=args.person, limit=max(1, args.limit))
    if args.json:
        for n in found:
            print(json.dumps(notice_json(n), ensure_ascii=False))
        return 0
    if not found:
        print("no notifications yet" + (f" for {printable(args.person)}" if args.person else ""))
        return 0
    rows = [("ID", "PERSON", "KIND", "STATUS", "CHANNEL", "WHEN", "WHY")]
    for n in found:
        when = _time(n.sent_at or n.due_at)
        rows.append(
            (
                str(n.id),
                n.person_id,
                n.kind,
                SHOWN_STATUS[n.status],
                n.channel or "",
                when,
                n.reason or "",
            )
        )
    print(_table(rows))
    return 0


def checkin_json(c: CheckIn) -> dict[str, Any]:
    return {
        "award": c.award_id,
        "manager": c.manager_id,
        "person": c.person_id,
        "due_at": _time(c.due_at),
        "done_at": _time(c.done_at),
        "done_by": c.done_by,
        "note": c.note,
        "reminders": c.reminders,
    }


def run_checkins(args: argparse.Namespace) -> int:
    with Store.open(database_url(args.database)) as store:
        found = store.checkins.list(manager=args.manager)
        done, asked = store.checkins.rate()
    if args.json:
        for c in found:
            print(json.dumps(checkin_json(c), ensure_ascii=False))
        return 0
    rows = [("AWARD", "MANAGER", "PERSON", "DUE", "DONE", "NOTE")]
    for c in found:
        rows.append(
            (
                str(c.award_id),
                c.manager_id,
                c.person_id,
                _time(c.due_at),
                _time(c.done_at),
                c.note or "",
            )
        )
    print(_table(rows) if found else "no check-ins asked for yet")
    if asked:
        print(f"\ncheck-in rate: {done} of {asked} awards ({done / asked:.0%})")
    return 0


def run_done(args: argparse.Namespace) -> int:
    with Store.open(database_url(args.database)) as store:
        found = store.checkins.done(args.award, args.by, args.note)
    print(
        printable(
            f"check-in on award {found.award_id} recorded by {found.done_by} "
            f"at {_time(found.done_at)}"
        )
    )
    return 0
