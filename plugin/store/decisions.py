"""Decisions: every verdict of the rules engine with its evidence, awarded or not."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select

from plugin.store.base import Repository, prepared, to_model
from plugin.store.models import Decision, Json
from plugin.store.schema import decisions

_FOR_TICKET = (
    select(decisions).where(decisions.c.ticket_key == bindparam("ticket")).order_by(decisions.c.id)
)


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
        values = {
            "outcome": outcome,
            "skill_id": skill_id,
            "ticket_key": ticket_key,
            "person_id": person_id,
            "inbox_id": inbox_id,
            "detail": detail,
            "decided_at": decided_at or self.clock(),
        }
        with self.tx(conn) as c:
            stmt = prepared(c, "decisions.record", _insert)
            return to_model(Decision, c.execute(stmt, values).mappings().one())

    def record_many(self, rows: list[dict[str, Any]], *, conn: Connection | None = None) -> None:
        """Store many verdicts: each row has the keyword arguments of `record` (all of
        them, `decided_at` included)."""
        if rows:
            with self.tx(conn) as c:
                c.execute(prepared(c, "decisions.record_many", lambda _: insert(decisions)), rows)

    def for_ticket(self, ticket_key: str, *, conn: Connection | None = None) -> list[Decision]:
        with self.tx(conn) as c:
            rows = c.execute(_FOR_TICKET, {"ticket": ticket_key}).mappings()
            return [to_model(Decision, r) for r in rows]


def _insert(_conn: Connection) -> Any:
    return insert(decisions).returning(*decisions.c)
