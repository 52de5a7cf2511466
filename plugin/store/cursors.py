"""Sync cursors, one per (source, stream). A cursor never moves backwards.

Each cursor keeps the value the connector wants back (a timestamp, a token) and an order key
that sorts like the position it stands for, so "is this later?" is one string comparison in
SQL and the check-and-set is a single atomic statement.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Connection, select

from plugin.store.base import Repository, upsert_insert
from plugin.store.schema import cursors

INT_WIDTH = 20  # digits of the largest unsigned 64-bit number


def sort_key(position: datetime | int) -> str:
    """A string that sorts like the position: UTC ISO time, or a zero-padded integer."""
    if isinstance(position, datetime):
        if position.tzinfo is None:
            raise ValueError("a cursor position needs a timezone")
        return position.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if position < 0:
        raise ValueError("a cursor position cannot be negative")
    return str(position).zfill(INT_WIDTH)


class Cursors(Repository):
    def get(self, source: str, stream: str, *, conn: Connection | None = None) -> str | None:
        query = select(cursors.c.value).where(
            cursors.c.source == source, cursors.c.stream == stream
        )
        with self.tx(conn) as c:
            value: str | None = c.execute(query).scalar_one_or_none()
            return value

    def for_source(self, source: str, *, conn: Connection | None = None) -> dict[str, str]:
        """Every stream's cursor value of one source."""
        query = select(cursors.c.stream, cursors.c.value).where(cursors.c.source == source)
        with self.tx(conn) as c:
            return {stream: value for stream, value in c.execute(query)}

    def set(
        self,
        source: str,
        stream: str,
        value: str,
        order_key: datetime | int,
        *,
        conn: Connection | None = None,
    ) -> bool:
        """Move the cursor to `value` if `order_key` is later; False (and no change) otherwise.

        Keep the order keys of one cursor of one kind: a time and an integer do not compare.
        """
        key = sort_key(order_key)
        with self.tx(conn) as c:
            stmt = upsert_insert(c, cursors).values(
                source=source, stream=stream, value=value, order_key=key, updated_at=self.clock()
            )
            old: ColumnElement[str] = cursors.c.order_key
            new: ColumnElement[str] = stmt.excluded.order_key
            if self.is_postgres(c):
                # Byte order, not the database locale's: the keys are built to sort bytewise.
                old, new = old.collate("C"), new.collate("C")
            stmt = stmt.on_conflict_do_update(
                index_elements=["source", "stream"],
                set_={
                    "value": stmt.excluded.value,
                    "order_key": stmt.excluded.order_key,
                    "updated_at": stmt.excluded.updated_at,
                },
                where=old < new,
            )
            # RETURNING, not rowcount: the driver may report -1 for an INSERT on PostgreSQL.
            return c.execute(stmt.returning(cursors.c.source)).first() is not None
