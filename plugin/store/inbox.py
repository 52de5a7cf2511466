"""The inbox: every raw event from every source, stored once per (source, natural key)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    update,
)

from plugin.store.base import Repository, prepared, to_model, upsert_insert
from plugin.store.engine import begin
from plugin.store.models import ClaimedItem, InboxEvent, InboxItem, InboxStatus, Json
from plugin.store.schema import INBOX_STATUSES, inbox

Items = list[InboxItem]
Learner = tuple[str, str, str | None, bool]  # system, id, email, completed
DEFAULT_LEASE = 300
_CLAIMED = [
    cast(inbox.c.payload, Text).label("payload") if column.name == "payload" else column
    for column in inbox.c
    if column.name in {f.name for f in fields(ClaimedItem)}
]
_FINISH = update(inbox).where(inbox.c.id.in_(bindparam("row_ids", expanding=True)))
_RELEASE = (
    update(inbox)
    .where(
        inbox.c.id.in_(bindparam("row_ids", expanding=True)),
        inbox.c.claimed_by == bindparam("worker"),
        inbox.c.status == "new",
    )
    .values(claimed_by=None, claimed_until=None)
)
# `kind || ''`: a row's kind in a form no index on kind serves, for reads of the rows after
# an id. Those must go by id; through the index on (kind, received_at), SQLite visited every
# row of the kinds asked for and sorted them, on each read: 3 ms at 20,000 rows.
KIND_BY_ID = inbox.c.kind + ""
# Claiming (Inbox.claim): the oldest unclaimed ids of some statuses, then those rows leased.
_FREE = or_(inbox.c.claimed_until.is_(None), inbox.c.claimed_until < bindparam("now"))
_PICK_ANY = (
    select(inbox.c.id)
    .where(inbox.c.status.in_(bindparam("statuses", expanding=True)), _FREE)
    .order_by(inbox.c.id)
    .limit(bindparam("limit"))
)
_PICK = (_PICK_ANY, _PICK_ANY.with_for_update(skip_locked=True))
_TAKE = (
    update(inbox)
    .where(inbox.c.id.in_(bindparam("lease_ids", expanding=True)))
    .values(
        claimed_by=bindparam("worker", type_=inbox.c.claimed_by.type),
        claimed_until=bindparam("until", type_=inbox.c.claimed_until.type),
        attempts=inbox.c.attempts + 1,
    )
    .returning(*_CLAIMED)
)
LEARNING = ("progress", "completion")
COUNTING = ("complete", "passed")
# A source's clock may run a little ahead of ours; beyond that, no event is stored before
# it happened, so the time it was received bounds the rows a period has to read.
SKEW = timedelta(days=1)


class Inbox(Repository):
    # Seconds a claim holds when the caller names none: a service sets its `--lease` here,
    # so a killed worker's events come back after that, whoever claims them.
    lease_seconds: float = DEFAULT_LEASE

    def add(
        self,
        source: str,
        kind: str,
        natural_key: str,
        payload: Json,
        raw: Json | None = None,
        received_at: datetime | None = None,
        *,
        conn: Connection | None = None,
    ) -> bool:
        """Store one event; False when its natural key was already there (a normal outcome)."""
        at = received_at or self.clock()
        new, _ = self.add_many([InboxEvent(source, kind, natural_key, payload, at, raw)], conn=conn)
        return new == 1

    def add_many(
        self, events: Iterable[InboxEvent], *, conn: Connection | None = None
    ) -> tuple[int, int]:
        """Store a batch; returns (new, duplicates)."""
        rows = [_row(e) for e in events]
        if not rows:
            return 0, 0
        # ON CONFLICT DO NOTHING rather than catching the integrity error: on PostgreSQL a
        # failed INSERT would abort the caller's whole transaction. One cached statement run
        # with a list of rows (SQLAlchemy batches them into multi-row INSERTs): compiling a
        # statement with the values inlined cost more than the insert itself.
        with self.tx(conn) as c:
            new = len(c.execute(prepared(c, "inbox.insert", _insert_new), rows).all())
        return new, len(rows) - new

    def claim(
        self,
        limit: int,
        worker: str,
        *,
        lease_seconds: float | None = None,
        statuses: Sequence[InboxStatus] = ("new",),
        conn: Connection | None = None,
    ) -> list[ClaimedItem]:
        """Lease the oldest unclaimed events to one worker; an expired lease is free again.

        The items come without `raw`: what was delivered is kept for people reading the
        inbox, and decoding it for every claim cost the pipeline more than the payload.
        The lease is `lease_seconds`, else the inbox's own `lease_seconds`."""
        now = self.clock()
        lease = self.lease_seconds if lease_seconds is None else lease_seconds
        params = {
            "statuses": list(statuses),
            "now": now,
            "limit": limit,
            "worker": worker,
            "until": now + timedelta(seconds=lease),
        }
        with self.tx(conn) as c:
            rows = self.lease_prepared(c, _PICK, _TAKE, params)
        items = (ClaimedItem(**r) for r in rows)
        return sorted(items, key=lambda item: item.id)

    def mark_processed(self, ids: Iterable[int], *, conn: Connection | None = None) -> None:
        self._finish(list(ids), conn, status="processed", processed_at=self.clock(), error=None)

    def mark_failed(self, id: int, error: str, *, conn: Connection | None = None) -> None:
        self._finish([id], conn, status="failed", error=error)

    def mark_deferred(self, id: int, reason: str, *, conn: Connection | None = None) -> None:
        """Park an event that cannot be decided yet; claim(statuses=("deferred",)) finds it."""
        self._finish([id], conn, status="deferred", error=reason)

    def release(self, ids: Iterable[int], worker: str, *, conn: Connection | None = None) -> int:
        """End `worker`'s lease on those of `ids` it still holds undecided; how many."""
        ids = list(ids)
        if not ids:
            return 0
        with self.tx(conn) as c:
            result = c.execute(_RELEASE, {"row_ids": ids, "worker": worker})
        return int(result.rowcount)

    def retry_failed(
        self, ids: Iterable[int] | None = None, *, conn: Connection | None = None
    ) -> list[int]:
        """Give events set aside back to the workers (all of them when `ids` is None); the
        ids given back. Workers' engines skipped them, so each counts them once decided."""
        query = update(inbox).where(inbox.c.status == SET_ASIDE)
        if ids is not None:
            query = query.where(inbox.c.id.in_(list(ids)))
        query = query.values(status="new", error=None, claimed_by=None, claimed_until=None)
        with self.tx(conn) as c:
            return sorted(c.execute(query.returning(inbox.c.id)).scalars())

    def _finish(self, ids: list[int], conn: Connection | None, **values: Any) -> None:
        if not ids:
            return
        values.update(claimed_by=None, claimed_until=None, row_ids=ids)
        with self.tx(conn) as c:
            c.execute(_FINISH, values)  # the SET clause comes from the other keys

    def get(self, id: int, *, conn: Connection | None = None) -> InboxItem | None:
        with self.tx(conn) as c:
            row = c.execute(select(inbox).where(inbox.c.id == id)).mappings().first()
        return to_model(InboxItem, row) if row else None

    def count_by_status(self, *, conn: Connection | None = None) -> dict[str, int]:
        counts = dict.fromkeys(INBOX_STATUSES, 0)
        query = select(inbox.c.status, func.count()).group_by(inbox.c.status)
        with self.tx(conn) as c:
            counts.update({status: n for status, n in c.execute(query)})
        return counts

    def list(
        self,
        source: str | None = None,
        kind: str | None = None,
        status: InboxStatus | None = None,
        limit: int = 100,
        *,
        before: int | None = None,
        conn: Connection | None = None,
    ) -> Items:
        """The newest events first; with `before`, those with lower ids (a keyset page)."""
        query = select(inbox).order_by(inbox.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(inbox.c.id < before)
        for column, value in (("source", source), ("kind", kind), ("status", status)):
            if value is not None:
                query = query.where(inbox.c[column] == value)
        with self.tx(conn) as c:
            return [to_model(InboxItem, r) for r in c.execute(query).mappings()]

    def payloads(
        self,
        kinds: Sequence[str],
        *,
        after_id: int = 0,
        up_to_id: int | None = None,
        chunk: int = 5000,
    ) -> Iterator[tuple[int, str, Json]]:
        """(id, kind, payload) of every event of these kinds, oldest first, read in chunks so
        a replay of millions of events never holds them all as rows at once."""
        # A connection per chunk: a long replay never holds SQLite's write lock throughout.
        last = after_id
        while True:
            with begin(self.engine) as c:
                rows = _payload_rows(c, kinds, last, up_to_id, chunk)
            yield from ((row[0], row[1], row[2]) for row in rows)
            if len(rows) < chunk:
                return
            last = rows[-1][0]

    def learners(
        self,
        modules: Sequence[str],
        since: datetime,
        until: datetime,
        *,
        conn: Connection | None = None,
    ) -> Sequence[Learner]:
        """Who worked on one of these modules (their keys) in [since, until): per person as
        the source names them (system, id, email), whether one of those events was a counting
        completion. Progress and completion events, set-aside ones left out; grouped in the
        database, so the answer has a row per learner, not per event."""
        if not modules:
            return []
        payload = inbox.c.payload
        system = payload[("person", "system")].as_string().label("ref_system")
        ident = payload[("person", "id")].as_string().label("ref_id")
        email = payload[("person", "email")].as_string().label("ref_email")
        counts = and_(inbox.c.kind == "completion", payload["state"].as_string().in_(COUNTING))
        with self.tx(conn) as c:
            at, start, end = _event_time(c, payload["at"].as_string(), since, until)
            query = (
                select(system, ident, email, func.max(case((counts, 1), else_=0)))
                .where(
                    inbox.c.kind.in_(LEARNING),
                    inbox.c.status != SET_ASIDE,
                    inbox.c.received_at >= since - SKEW,
                    payload["module"].as_string().in_(list(modules)),
                    at >= start,
                    at < end,
                )
                # By label: PostgreSQL would not match the JSON paths' separate parameters.
                .group_by("ref_system", "ref_id", "ref_email")
            )
            rows = c.execute(query).all()
        return [
            (s, i, e if isinstance(e, str) else None, bool(n))
            for s, i, e, n in rows
            if isinstance(s, str) and isinstance(i, str)
        ]

    def last_id(self, *, conn: Connection | None = None) -> int:
        with self.tx(conn) as c:
            return int(c.execute(select(func.coalesce(func.max(inbox.c.id), 0))).scalar_one())


# Events set aside (status failed) read as kind "failed": every reader that replays events
# skips them, yet their ids are seen, so nobody takes them for rows still committing.
SET_ASIDE = "failed"
SHOWN_KIND = case((inbox.c.status == SET_ASIDE, literal(SET_ASIDE)), else_=inbox.c.kind).label(
    "kind"
)


def read_payload_texts(
    conn: Connection,
    kinds: Sequence[str],
    *,
    after_id: int = 0,
    up_to_id: int | None = None,
    chunk: int = 5000,
) -> Iterator[tuple[int, str, str]]:
    """(id, kind, payload as JSON text) of every event of these kinds, oldest first, on a
    given connection (inside a caller's transaction: on SQLite a second connection could
    not begin while that transaction holds the write lock). Text, so a caller that has
    read an event already skips decoding it, and one that has not validates the text
    directly (pydantic's `validate_json`)."""
    last = after_id
    while True:
        rows = _payload_rows(conn, kinds, last, up_to_id, chunk, text=True)
        yield from ((row[0], row[1], row[2]) for row in rows)
        if len(rows) < chunk:
            return
        last = rows[-1][0]


def _payload_select(text: bool, bounded: bool) -> Any:
    payload = cast(inbox.c.payload, Text) if text else inbox.c.payload
    query = (
        select(inbox.c.id, SHOWN_KIND, payload)
        .where(
            KIND_BY_ID.in_(bindparam("kinds", expanding=True)),
            inbox.c.id > bindparam("after_id"),
        )
        .order_by(inbox.c.id)
        .limit(bindparam("chunk"))
    )
    return query.where(inbox.c.id <= bindparam("up_to_id")) if bounded else query


# Built once: the pipeline reads the rows stored since its last look several times a second.
_PAYLOADS = {(t, b): _payload_select(t, b) for t in (False, True) for b in (False, True)}


def _payload_rows(
    conn: Connection,
    kinds: Sequence[str],
    after_id: int,
    up_to_id: int | None,
    chunk: int,
    *,
    text: bool = False,
) -> Any:
    """The rows of `kinds` in (after_id, up_to_id], oldest first, at most `chunk`."""
    params = {"kinds": list(kinds), "after_id": after_id, "up_to_id": up_to_id, "chunk": chunk}
    return conn.execute(_PAYLOADS[text, up_to_id is not None], params).all()


def _event_time(
    conn: Connection, text: ColumnElement[Any], since: datetime, until: datetime
) -> tuple[ColumnElement[Any], Any, Any]:
    """An event's time (ISO text with any offset) and the bounds, comparable in SQL."""
    if conn.dialect.name == "postgresql":
        aware = DateTime(timezone=True)
        return cast(text, aware), literal(since, aware), literal(until, aware)
    # SQLite: strftime reads the offset and writes UTC text that sorts in time order.
    shape = "%Y-%m-%d %H:%M:%f"

    def utc(at: datetime) -> str:
        return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:23]

    return func.strftime(shape, text), utc(since), utc(until)


def _row(event: InboxEvent) -> dict[str, Any]:
    return {
        "source": event.source,
        "kind": event.kind,
        "natural_key": event.natural_key,
        "payload": event.payload,  # JsonText is written as it is (engine.json_text)
        "raw": event.raw,
        "received_at": event.received_at,
    }


def _insert_new(conn: Connection) -> Any:
    return (
        upsert_insert(conn, inbox)
        .on_conflict_do_nothing(index_elements=["source", "natural_key"])
        .returning(inbox.c.id)
    )
