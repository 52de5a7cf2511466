"""The engine for a database URL: SQLite on one machine, PostgreSQL to scale out."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from weakref import WeakKeyDictionary

import msgspec
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from plugin.errors import ConfigError, Problem
from plugin.settings import DATABASE_ENV
from plugin.store.models import JsonText

EXPECTED = "expected sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE"
# Bare PostgreSQL schemes (as hosting platforms hand them out) all mean our one driver.
POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg"}
SQLITE_BUSY_TIMEOUT_MS = 5000
# One writer at a time per SQLite engine, queued in this process: SQLite's own busy handler
# makes a waiting connection sleep 1, 2, 5, 10... ms between tries, so threads contending
# for its write lock spent most of their time asleep while the lock was free.
_WRITERS: WeakKeyDictionary[Engine, threading.RLock] = WeakKeyDictionary()


def _config_error(message: str) -> ConfigError:
    return ConfigError([Problem(file="", line=None, field=DATABASE_ENV, message=message)])


def parse_url(url: str | URL) -> URL:
    """Parse and normalise a database URL; a bad one is a ConfigError naming the setting."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        # Never echo the text: a URL that fails to parse may still hold a password.
        raise _config_error(f"not a valid database URL ({EXPECTED})") from None
    if parsed.drivername in POSTGRES_SCHEMES:
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername in {"sqlite", "sqlite+pysqlite"}:
        return parsed
    raise _config_error(f"unsupported database {parsed.drivername!r} ({EXPECTED})")


def safe_url(url: str | URL) -> str:
    """The URL as it may be printed or logged: the password replaced by ***."""
    return parse_url(url).render_as_string(hide_password=True)


_ENCODE = msgspec.json.Encoder().encode


def json_text(value: Any) -> str:
    """JSON columns' serializer: a JsonText (JSON already: a statement or issue as received)
    is stored as it is, anything else as msgspec writes it (a tenth of `json.dumps`' time,
    which was a twentieth of deciding's); what msgspec cannot write (a lone surrogate) as
    `json.dumps` does, escaped."""
    if isinstance(value, JsonText):
        return str(value)
    try:
        return _ENCODE(value).decode()
    except UnicodeEncodeError:
        return json.dumps(value)


def make_engine(url: str | URL) -> Engine:
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return create_engine(parsed, pool_pre_ping=True, json_serializer=json_text)


@contextmanager
def begin(engine: Engine) -> Iterator[Connection]:
    """`engine.begin()`; on SQLite, after this process's turn to write (a transaction here
    always takes the write lock)."""
    with writer_turn(engine), engine.begin() as conn:
        yield conn


@contextmanager
def writer_turn(engine: Engine) -> Iterator[None]:
    """On SQLite, this process's turn to write; nothing to wait for on PostgreSQL. Waits up
    to the busy timeout, then goes on anyway, and SQLite answers as it would have (wait
    more, or "database is locked")."""
    lock = _WRITERS.get(engine)
    got = lock is not None and lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        yield
    finally:
        if got:
            assert lock is not None
            lock.release()


SYNCHRONOUS = ("normal", "full", "extra")


def _sqlite_engine(url: URL) -> Engine:
    # ?synchronous=full: an acknowledged write survives power loss too, not only a crash of
    # the process (NORMAL, with WAL); it costs an fsync per transaction.
    synchronous = str(url.query.get("synchronous", "normal")).lower()
    if synchronous not in SYNCHRONOUS:
        expected = ", ".join(SYNCHRONOUS)
        raise _config_error(f"synchronous={synchronous!r} in the SQLite URL: one of {expected}")
    engine = create_engine(url.difference_update_query(["synchronous"]), json_serializer=json_text)
    _WRITERS[engine] = threading.RLock()

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when a transaction starts.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        # One writer: take the write lock up front, so two transactions never deadlock
        # upgrading a read lock; others wait up to busy_timeout instead of failing.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
