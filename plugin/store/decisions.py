"""Decisions: every verdict of the rules engine with its evidence, awarded or not."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select

from plugin.store.base import Repository, to_model
from plugin.store.models import Decision, Json
from plugin.store.schema import decisions


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
        stmt = (
            insert(decisions)
            .values(
                outcome=outcome,
                skill_id=skill_id,
                ticket_key=ticket_key,
                person_id=person_id,
                inbox_id=inbox_id,
                detail=detail,
                decided_at=decided_at or self.clock(),
            )
            .returning(*decisions.c)
        )
        with self.tx(conn) as c:
            return to_model(Decision, c.execute(stmt).mappings().one())

    def for_ticket(self, ticket_key: str, *, conn: Connection | None = None) -> list[Decision]:
        query = select(decisions).where(decisions.c.ticket_key == ticket_key)
        with self.tx(conn) as c:
            return [
                to_model(Decision, r) for r in c.execute(query.order_by(decisions.c.id)).mappings()
            ]
