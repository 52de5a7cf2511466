"""Decisions: every verdict of the rules engine with its evidence, awarded or not."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select

from plugin.store.base import Repository, to_model
from plugin.store.models import Decision, Json
from plugin.store.schema import decisions

# Built once and run with parameters, so SQLAlchemy reuses the compiled form.
_RECORD = insert(decisions).returning(*decisions.c)
_FOR_TICKETS = (
    select(decisions)
    .where(decisions.c.ticket_key.in_(bindparam("tickets", expanding=True)))
    .order_by(decisions.c.id)
)
_CHUNK = 500  # keys per query: well under SQLite's limit on bound values


class Decisions(Repository):
    def record(
        self,
        outcome: str,
        *,
        skill_id: str | None = None,
        ticket_key: str | None = None,
        person_id: str | None = None,
        inbox_id: int | None = None,
        detail: Json | None = None,
        decided_at: datetime | None = None,
        conn: Connection | None = None,
    ) -> Decision:
        """Store one verdict: "awarded" or a reason code such as "outside_window"."""
        values = decision_row(
            outcome, skill_id, ticket_key, person_id, inbox_id, detail, decided_at or self.clock()
        )
        with self.tx(conn) as c:
            return to_model(Decision, c.execute(_RECORD, values).mappings().one())

    def record_many(self, rows: list[dict[str, Any]], *, conn: Connection | None = None) -> None:
        """Store many verdicts, each a `decision_row`."""
        if rows:
            with self.tx(conn) as c:
                c.execute(insert(decisions), rows)

    def for_ticket(self, ticket_key: str, *, conn: Connection | None = None) -> list[Decision]:
        return self.for_tickets([ticket_key], conn=conn)[ticket_key]

    def for_tickets(
        self, ticket_keys: Iterable[str], *, conn: Connection | None = None
    ) -> dict[str, list[Decision]]:
        """`for_ticket` of many tickets at once; every key asked for is in the answer."""
        keys = sorted(set(ticket_keys))
        found: dict[str, list[Decision]] = {key: [] for key in keys}
        with self.tx(conn) as c:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                for r in c.execute(_FOR_TICKETS, {"tickets": chunk}).mappings():
                    found[r["ticket_key"]].append(to_model(Decision, r))
        return found


def decision_row(
    outcome: str,
    skill_id: str | None,
    ticket_key: str | None,
    person_id: str | None,
    inbox_id: int | None,
    detail: Json | None,
    decided_at: datetime,
) -> dict[str, Any]:
    """A decisions row as `record` and `record_many` store it."""
    return {
        "outcome": outcome,
        "skill_id": skill_id,
        "ticket_key": ticket_key,
        "person_id": person_id,
        "inbox_id": inbox_id,
        "detail": detail,
        "decided_at": decided_at,
    }
