"""What every repository shares: an engine, a clock, and "use this transaction or open one"."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, RowMapping, Select, Table, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite

from plugin.store.engine import begin

Clock = Callable[[], datetime]
T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


class Repository:
    def __init__(self, engine: Engine, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock

    @contextmanager
    def tx(self, conn: Connection | None) -> Iterator[Connection]:
        """Run inside the caller's transaction, or in a new one committed on success."""
        if conn is not None:
            yield conn
            return
        with begin(self.engine) as new:
            yield new

    def is_postgres(self, conn: Connection) -> bool:
        return conn.dialect.name == "postgresql"

    def lease(
        self,
        conn: Connection,
        table: Table,
        query: Select[Any],
        values: dict[str, Any],
        columns: Sequence[Any] | None = None,
    ) -> Sequence[RowMapping]:
        """Claim the rows whose ids `query` selects: set `values` on them, return them
        (`columns` of them, or all).

        On PostgreSQL rows another worker is claiming right now are skipped, not waited for
        (FOR UPDATE SKIP LOCKED); SQLite has one writer, so the select and update are atomic.
        """
        returned = table.c if columns is None else columns
        take = (
            update(table)
            .where(table.c.id.in_(bindparam("lease_ids", expanding=True)))
            .values(**values)
            .returning(*returned)
        )
        pick = (query, query.with_for_update(skip_locked=True))
        return self.lease_prepared(conn, pick, take, {})

    def lease_prepared(
        self,
        conn: Connection,
        pick: tuple[Select[Any], Select[Any]],
        take: Any,
        params: Mapping[str, Any],
    ) -> Sequence[RowMapping]:
        """`lease` with statements built once: `pick` selects the ids (as it is, and with
        FOR UPDATE SKIP LOCKED for PostgreSQL), `take` updates the rows whose ids it binds
        as `lease_ids` and returns them; both read their other parameters from `params`.
        Under load the pipeline claims many times a second, and building both statements
        cost more than running them."""
        ids = conn.execute(pick[self.is_postgres(conn)], params).scalars().all()
        if not ids:
            return []
        return conn.execute(take, {**params, "lease_ids": ids}).mappings().all()


def upsert_insert(conn: Connection, table: Table) -> Any:
    """An INSERT that understands ON CONFLICT on this connection's database."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


_PREPARED: dict[tuple[str, str], Any] = {}


def prepared(conn: Connection, name: str, build: Callable[[Connection], Any]) -> Any:
    """The statement `name`, built once per kind of database and run with its parameters
    given to `execute`: SQLAlchemy then reuses its compiled form, where a statement carrying
    `.values(...)` is analysed afresh on every call (that cost more than the write)."""
    key = (conn.dialect.name, name)
    found = _PREPARED.get(key)
    if found is None:
        found = _PREPARED[key] = build(conn)
    return found


def to_model(model: type[T], row: RowMapping | Mapping[str, Any]) -> T:
    names = {f.name for f in fields(model)}  # type: ignore[arg-type]
    return model(**{k: v for k, v in row.items() if k in names})
