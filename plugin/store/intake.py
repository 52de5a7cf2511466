"""The webhooks' inbox writer: rows handed straight to the database driver.

A webhook request answers only once its rows are committed, and group_commit.py gathers the
requests arriving together into one transaction. Through SQLAlchemy's execution layer such a
transaction cost about a millisecond of Python (checking a connection out of the pool, the
begin and commit events, the execution context), several times the database's own work and
all of it under the GIL the request threads share. This writer keeps one driver connection
and runs one multi-row `INSERT ... ON CONFLICT DO NOTHING RETURNING` per group, committed as
it completes. Each request encodes its own rows first (`encode`), through the columns' own
bind processors, so a row is stored exactly as `Inbox.add_many` stores it; a value given as
JsonText (JSON already: a body's bytes as received, a payload pydantic serialised) goes to
the database as that text.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection

from plugin.store.engine import writer_turn
from plugin.store.models import InboxEvent, JsonText
from plugin.store.schema import inbox

Key = tuple[str, str]  # (source, natural key)
COLUMNS = ("source", "kind", "natural_key", "payload", "raw", "received_at")


@dataclass(frozen=True, slots=True)
class Encoded:
    """An inbox row ready for the driver: its values in COLUMNS order."""

    source: str
    natural_key: str
    values: tuple[Any, ...]


class InboxWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._convert = [_bind(inbox.c[name], engine) for name in COLUMNS]
        self._text = _pg_json_text if self._postgres else str
        self._statements: dict[int, str] = {}
        self._lock = threading.Lock()  # the connection serves one transaction at a time
        self._conn: PoolProxiedConnection | None = None

    def add_new(self, events: Sequence[InboxEvent]) -> set[Key]:
        """Store the rows in one transaction; the (source, natural key) of those that were new."""
        return self.write([self.encode(event) for event in events])

    def encode(self, event: InboxEvent) -> Encoded:
        """The row as the driver takes it. Done by each request in its own thread, so the
        group's writer, which the others wait for, only writes."""
        source, kind, key, payload, raw, at = self._convert  # in COLUMNS order
        text = self._text
        converted = (
            source(event.source),
            kind(event.kind),
            key(event.natural_key),
            text(event.payload) if isinstance(event.payload, JsonText) else payload(event.payload),
            text(event.raw) if isinstance(event.raw, JsonText) else raw(event.raw),
            at(event.received_at),
        )
        return Encoded(event.source, event.natural_key, converted)

    def write(self, rows: Sequence[Encoded]) -> set[Key]:
        """Store encoded rows in one transaction; the keys of those that were new."""
        if not rows:
            return set()
        params = [value for row in rows for value in row.values]
        statement = self._statement(len(rows))
        with self._lock, writer_turn(self.engine):
            try:
                return self._attempt(statement, params)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
            # The connection was gone (a server restart, an idle timeout, a failover): once
            # more on a new one, as a pooled checkout's ping would have. Rows that did get
            # in before the connection broke are skipped, and count as already stored.
            return self._attempt(statement, params)

    def _attempt(self, statement: str, params: list[Any]) -> set[Key]:
        conn = self._connection()
        try:
            cursor = conn.cursor()
            try:
                # On SQLite (autocommit) one statement is its own transaction, so no BEGIN
                # or COMMIT calls: each gave the GIL away and waited to get it back.
                cursor.execute(statement, params)
                added = {(source, key) for source, key in cursor.fetchall()}
            finally:
                cursor.close()
            conn.commit()
        except BaseException as exc:
            wrapped = self._wrapped(exc, statement, invalidated=self._recover(conn))
            if wrapped is exc:
                raise
            raise wrapped from exc
        return added

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()  # back to the pool, which the store then disposes
                self._conn = None

    def _connection(self) -> PoolProxiedConnection:
        if self._conn is None:
            try:
                self._conn = self.engine.raw_connection()
            except Exception as exc:  # the pool hands back the driver's own error
                wrapped = self._wrapped(exc, "connect", invalidated=True)
                if wrapped is exc:
                    raise
                raise wrapped from exc
        return self._conn

    def _recover(self, conn: PoolProxiedConnection) -> bool:
        """Roll back; a connection that cannot (the server went away) is dropped, and the
        next group opens a new one. True if it was dropped."""
        try:
            conn.rollback()
        except Exception:
            conn.invalidate()
            self._conn = None
            return True
        return False

    def _wrapped(self, exc: BaseException, statement: str, *, invalidated: bool) -> BaseException:
        """A driver error as SQLAlchemy would raise it (DBAPIError: callers answer 503, not
        500); anything else as it is. The values are not echoed: they are people's data."""
        dialect = self.engine.dialect
        return DBAPIError.instance(
            statement,
            None,
            exc,
            dialect.loaded_dbapi.Error,
            hide_parameters=True,
            connection_invalidated=invalidated,
            dialect=dialect,
        )

    def _statement(self, rows: int) -> str:
        found = self._statements.get(rows)
        if found is None:
            mark = "%s" if self._postgres else "?"
            one = f"({', '.join([mark] * len(COLUMNS))})"
            # Only constant names and placeholders go into the text; the values are bound.
            found = self._statements[rows] = (
                f"INSERT INTO inbox ({', '.join(COLUMNS)}) VALUES {', '.join([one] * rows)} "  # noqa: S608
                "ON CONFLICT (source, natural_key) DO NOTHING RETURNING source, natural_key"
            )
        return found


def _bind(column: Column[Any], engine: Engine) -> Callable[[Any], Any]:
    """The conversion SQLAlchemy applies to the column's values on this database."""
    dialect = engine.dialect
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return process if process is not None else _same


def _pg_json_text(text: str) -> Any:
    """The text as a `json` parameter, sent as it is (the column keeps the text verbatim)."""
    from psycopg.types.json import Json  # only with PostgreSQL

    return Json(text, dumps=str)


def _same(value: Any) -> Any:
    return value
