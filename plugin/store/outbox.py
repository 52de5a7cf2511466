"""The outbox: effects on other systems (comments, labels, statements), retried until done.

Each effect is stored once per idempotency key in the same transaction as the decision
that caused it; workers lease due rows, so a crashed worker's rows come back after the lease.

A claim is not an attempt: `start` counts one when the worker is about to send, and fences
it (only the lease holder may start, and starting renews the lease). `renew` keeps a lease
alive while a send runs; mark_* with `worker` record an outcome only for the lease holder.
`created_at` is when the effect was first due (queued, or due later): its retry budget runs
from there, and `retry` of a dead effect starts it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, func, or_, select, update

from plugin.store.base import Repository, prepared, to_model, upsert_insert
from plugin.store.models import Backlog, Json, OutboxItem, OutboxStatus
from plugin.store.schema import outbox

Items = list[OutboxItem]
# Built once and run with parameters, so SQLAlchemy reuses the compiled form.
_SET = update(outbox).where(outbox.c.id == bindparam("row_id")).returning(outbox.c.id)
_SET_HELD = _SET.where(outbox.c.claimed_by == bindparam("holder"), outbox.c.status == "in_flight")
_DONE_HELD = (
    update(outbox)
    .where(
        outbox.c.id.in_(bindparam("row_ids", expanding=True)),
        outbox.c.claimed_by == bindparam("holder"),
        outbox.c.status == "in_flight",
    )
    .values(
        status="done",
        last_error=None,
        claimed_by=None,
        claimed_until=None,
        updated_at=bindparam("now"),
    )
    .returning(outbox.c.id)
)
_HELD = and_(
    outbox.c.id.in_(bindparam("row_ids", expanding=True)),
    outbox.c.claimed_by == bindparam("holder"),
    outbox.c.status == "in_flight",
)
_RENEW = (
    update(outbox)
    .where(_HELD)
    .values(claimed_until=bindparam("until"), updated_at=bindparam("now"))
    .returning(outbox.c.id)
)
_STARTED = outbox.c.id.in_(bindparam("started", expanding=True))
_START = _RENEW.values(attempts=outbox.c.attempts + case((_STARTED, 1), else_=0))


class Outbox(Repository):
    def enqueue(
        self,
        idempotency_key: str,
        target: str,
        action: str,
        payload: Json,
        at: datetime | None = None,
        *,
        conn: Connection | None = None,
    ) -> bool:
        """Queue an effect, due at `at` (default now); False if the key was already queued."""
        now = self.clock()
        values = _effect_row(idempotency_key, target, action, payload, at or now, now)
        with self.tx(conn) as c:
            # RETURNING, not rowcount: the driver may report -1 for an INSERT on PostgreSQL.
            return c.execute(prepared(c, "outbox.enqueue", _enqueue), values).first() is not None

    def enqueue_many(
        self, effects: Sequence[tuple[str, str, str, Json]], *, conn: Connection | None = None
    ) -> int:
        """Queue (idempotency key, target, action, payload) effects due now; how many were
        new (keys already queued are left as they are)."""
        if not effects:
            return 0
        now = self.clock()
        rows = [_effect_row(*effect, now, now) for effect in effects]
        with self.tx(conn) as c:
            return len(c.execute(prepared(c, "outbox.enqueue", _enqueue), rows).all())

    def claim_due(
        self,
        now: datetime,
        limit: int,
        worker: str,
        lease_seconds: float = 60,
        *,
        conn: Connection | None = None,
    ) -> Items:
        """Lease up to `limit` due effects: pending and due, or in flight with a lapsed lease.
        Claiming spends no attempt (see `start`)."""
        due = or_(
            and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now),
            and_(outbox.c.status == "in_flight", outbox.c.claimed_until < now),
        )
        query = select(outbox.c.id).where(due).order_by(outbox.c.next_attempt_at, outbox.c.id)
        query = query.limit(limit)
        values = {
            "status": "in_flight",
            "claimed_by": worker,
            "claimed_until": now + timedelta(seconds=lease_seconds),
            "updated_at": now,
        }
        with self.tx(conn) as c:
            rows = self.lease(c, outbox, query, values)
        items = [to_model(OutboxItem, r) for r in rows]
        return sorted(items, key=lambda item: (item.next_attempt_at, item.id))

    def start(
        self,
        ids: Sequence[int],
        worker: str,
        now: datetime,
        lease_seconds: float,
        *,
        also: Sequence[int] = (),
        conn: Connection | None = None,
    ) -> set[int]:
        """About to send `ids`: count an attempt on each that `worker` still holds, and renew
        its lease from `now`, with those of `also` (the rest of the worker's batch: a batch
        keeps one deadline). The ids of both still held; the others are another worker's
        now, not to be sent or recorded."""
        values = {"started": list(ids)}
        every = [*ids, *also]
        until = now + timedelta(seconds=lease_seconds)
        return self._held(_START, every, worker, now, until, conn, **values)

    def renew(
        self,
        ids: Sequence[int],
        worker: str,
        until: datetime,
        *,
        conn: Connection | None = None,
    ) -> set[int]:
        """Extend the lease of the `ids` `worker` still holds to `until`; return them."""
        return self._held(_RENEW, ids, worker, self.clock(), until, conn)

    def _held(
        self,
        stmt: Any,
        ids: Sequence[int],
        worker: str,
        now: datetime,
        until: datetime,
        conn: Connection | None,
        **more: Any,
    ) -> set[int]:
        if not ids:
            return set()
        values = {"row_ids": list(ids), "holder": worker, "until": until, "now": now, **more}
        with self.tx(conn) as c:
            return set(c.execute(stmt, values).scalars())

    def mark_done(
        self, id: int, *, worker: str | None = None, conn: Connection | None = None
    ) -> bool:
        """Record success. With `worker`, only if that worker still holds the lease."""
        return self._set(id, worker, conn, status="done", last_error=None)

    def mark_done_many(
        self, ids: Sequence[int], *, worker: str, conn: Connection | None = None
    ) -> set[int]:
        """Record the success of many effects in one transaction; the ids this worker still
        held (the others' leases had passed to another worker)."""
        if not ids:
            return set()
        values = {"row_ids": list(ids), "holder": worker, "now": self.clock()}
        with self.tx(conn) as c:
            return set(c.execute(_DONE_HELD, values).scalars())

    def mark_retry(
        self,
        id: int,
        error: str,
        next_attempt_at: datetime,
        *,
        worker: str | None = None,
        conn: Connection | None = None,
    ) -> bool:
        return self._set(
            id, worker, conn, status="pending", last_error=error, next_attempt_at=next_attempt_at
        )

    def mark_dead(
        self, id: int, error: str, *, worker: str | None = None, conn: Connection | None = None
    ) -> bool:
        return self._set(id, worker, conn, status="dead", last_error=error)

    def retry(self, id: int, *, conn: Connection | None = None) -> bool:
        """Give a dead effect a fresh start now, with a fresh retry budget (its `created_at`
        moves to now); False if it was not dead."""
        now = self.clock()
        stmt = (
            update(outbox)
            .where(outbox.c.id == id, outbox.c.status == "dead")
            .values(
                status="pending", attempts=0, next_attempt_at=now, created_at=now, updated_at=now
            )
        )
        with self.tx(conn) as c:
            return c.execute(stmt.returning(outbox.c.id)).first() is not None

    def _set(self, id: int, worker: str | None, conn: Connection | None, **values: Any) -> bool:
        values.update(claimed_by=None, claimed_until=None, updated_at=self.clock())
        values["row_id"] = id
        with self.tx(conn) as c:
            if worker is None:
                stmt = _SET
            else:
                values["holder"] = worker
                stmt = _SET_HELD
            # The SET clause comes from the other keys of `values`.
            return c.execute(stmt, values).first() is not None

    def get(self, id: int, *, conn: Connection | None = None) -> OutboxItem | None:
        with self.tx(conn) as c:
            row = c.execute(select(outbox).where(outbox.c.id == id)).mappings().first()
        return to_model(OutboxItem, row) if row else None

    def list(
        self,
        status: OutboxStatus | None = None,
        limit: int = 100,
        *,
        conn: Connection | None = None,
    ) -> Items:
        query = select(outbox).order_by(outbox.c.id).limit(limit)
        if status is not None:
            query = query.where(outbox.c.status == status)
        with self.tx(conn) as c:
            return [to_model(OutboxItem, r) for r in c.execute(query).mappings()]

    def page(
        self,
        statuses: Sequence[OutboxStatus],
        before: int | None = None,
        limit: int = 50,
        *,
        conn: Connection | None = None,
    ) -> Items:
        """Effects in these statuses, newest first, with ids below `before`: one page of a
        keyset, so a late page costs what the first one does."""
        query = select(outbox).where(outbox.c.status.in_(list(statuses)))
        if before is not None:
            query = query.where(outbox.c.id < before)
        query = query.order_by(outbox.c.id.desc()).limit(limit)
        with self.tx(conn) as c:
            return [to_model(OutboxItem, r) for r in c.execute(query).mappings()]

    def count(self, statuses: Sequence[OutboxStatus], *, conn: Connection | None = None) -> int:
        """How many effects are in these statuses (the (status, next_attempt_at) index
        answers it)."""
        query = select(func.count()).select_from(outbox)
        query = query.where(outbox.c.status.in_(list(statuses)))
        with self.tx(conn) as c:
            return int(c.execute(query).scalar_one())

    def backlog(self, *, conn: Connection | None = None) -> Backlog:
        counts = select(outbox.c.status, func.count()).group_by(outbox.c.status)
        oldest = select(func.min(outbox.c.next_attempt_at)).where(outbox.c.status == "pending")
        with self.tx(conn) as c:
            by_status: dict[str, int] = dict(c.execute(counts).all())
            oldest_due = c.execute(oldest).scalar_one_or_none()
        return Backlog(
            pending=by_status.get("pending", 0),
            in_flight=by_status.get("in_flight", 0),
            dead=by_status.get("dead", 0),
            oldest_due=oldest_due,
        )


def _enqueue(conn: Connection) -> Any:
    stmt = upsert_insert(conn, outbox).on_conflict_do_nothing(index_elements=["idempotency_key"])
    return stmt.returning(outbox.c.id)


def _effect_row(
    key: str, target: str, action: str, payload: Json, due: datetime, now: datetime
) -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "target": target,
        "action": action,
        "payload": payload,
        "next_attempt_at": due,
        "created_at": due,  # first due: the retry budget runs from here
        "updated_at": now,
    }
