"""The decided watermark: a worker that is behind catches up before it writes.

Every deciding transaction (under the decider lock) takes the next `decider.seq` and stamps
the events it marks processed with it. A worker remembers the seq it saw last; under the
lock it asks which events others decided since, and any of those its engine has not read
(ids its horizon gave up looking for, see horizon.py) are read and added before the ledger
is reconciled. So no worker writes the ledger from an engine that lacks an event another
worker has already decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Text, bindparam, cast, select, update

from plugin.store.base import prepared, upsert_insert
from plugin.store.inbox import SHOWN_KIND
from plugin.store.schema import decider, inbox

ROW = 1  # the one row of `decider`
_SEQ = select(decider.c.seq).where(decider.c.id == ROW)
_SINCE = (
    select(inbox.c.id)
    .where(inbox.c.decided_seq > bindparam("seen"), inbox.c.decided_seq <= bindparam("seq"))
    .order_by(inbox.c.id)
)
_STAMP = (
    update(inbox)
    .where(inbox.c.id.in_(bindparam("row_ids", expanding=True)))
    .values(decided_seq=bindparam("seq"))
)


_PAYLOADS = select(inbox.c.id, SHOWN_KIND, cast(inbox.c.payload, Text)).where(
    inbox.c.id.in_(bindparam("row_ids", expanding=True))
)


def current(conn: Connection) -> int:
    """The seq of the last deciding transaction (0 before the first)."""
    return int(conn.execute(_SEQ).scalar_one_or_none() or 0)


def decided_since(conn: Connection, seen: int, seq: int) -> list[int]:
    """Inbox ids decided by transactions seen+1 .. seq."""
    if seq <= seen:
        return []
    return list(conn.execute(_SINCE, {"seen": seen, "seq": seq}).scalars())


def advance(conn: Connection, seq: int, ids: Sequence[int]) -> None:
    """Record transaction `seq` and stamp the events it decided (under the decider lock)."""
    conn.execute(prepared(conn, "decider.advance", _advance), {"id": ROW, "seq": seq})
    if ids:
        conn.execute(_STAMP, {"row_ids": list(ids), "seq": seq})


def _advance(conn: Connection) -> Any:
    stmt = upsert_insert(conn, decider).values(id=bindparam("id"), seq=bindparam("seq"))
    return stmt.on_conflict_do_update(index_elements=["id"], set_={"seq": stmt.excluded.seq})


def payloads(conn: Connection, ids: Sequence[int]) -> list[tuple[int, str, str]]:
    """(id, kind, payload as JSON text) of these inbox rows, oldest first."""
    rows = conn.execute(_PAYLOADS, {"row_ids": list(ids)}).all()
    return sorted((int(r[0]), str(r[1]), str(r[2])) for r in rows)
