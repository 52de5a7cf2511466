"""The engine for a database URL: SQLite on one machine, PostgreSQL to scale out."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from plugin.errors import ConfigError, Problem
from plugin.settings import DATABASE_ENV
from plugin.store.models import JsonText

log = logging.getLogger("skillrelay.store")
EXPECTED = "expected sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE"
# Bare PostgreSQL schemes (as hosting platforms hand them out) all mean our one driver.
POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg"}
SQLITE_BUSY_TIMEOUT_MS = 5000
WRITER_SUFFIX = "-writer"  # the lock file beside a SQLite database, as SQLite's -wal and -shm
_POLL_FIRST, _POLL_MOST = 0.0001, 0.001


class _Writer:
    """One writer at a time on a SQLite file. SQLite's own busy handler makes a waiting
    connection sleep 1, 2, 5, 10... up to 100 ms between tries, so writers contending for
    its lock spent most of their time asleep while it was free. Threads of this process
    queue on a lock instead, and processes (`serve` and a `worker` beside it) on an flock
    of a file beside the database, tried every 0.1 to 1 ms."""

    def __init__(self, path: str | None) -> None:
        self.path = path  # None: a database in memory, one process
        self.lock = threading.RLock()
        self.depth = 0  # nested turns of the thread holding `lock`
        self.locked = False  # this process holds the flock
        self.fd = -1
        self.pid = 0

    def acquire(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if not self.lock.acquire(timeout=timeout):
            return False
        self.depth += 1
        if self.depth == 1 and self.path is not None:
            self.locked = self._flock(deadline)
        return True

    def release(self) -> None:
        self.depth -= 1
        if self.depth == 0 and self.locked:
            self.locked = False
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.lock.release()

    def _flock(self, deadline: float) -> bool:
        """The flock, or False once the deadline passed or when the file cannot be opened
        (SQLite's busy timeout then decides, as it did before)."""
        assert self.path is not None
        if self.pid != os.getpid():  # a forked child must not share its parent's lock
            try:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                log.warning("store: no writers' lock file (%s); SQLite's own lock waits", exc)
                self.path = None
                return False
            self.pid = os.getpid()
            weakref.finalize(self, os.close, self.fd)
        wait = _POLL_FIRST
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                time.sleep(min(wait, left))
                wait = min(wait * 2, _POLL_MOST)


_WRITERS: weakref.WeakKeyDictionary[Engine, _Writer] = weakref.WeakKeyDictionary()


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
    writer = _WRITERS.get(engine)
    got = writer is not None and writer.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        yield
    finally:
        if got:
            assert writer is not None
            writer.release()


SYNCHRONOUS = ("normal", "full", "extra")


def sqlite_file(url: URL) -> str | None:
    """The file of a SQLite database on disk; None in memory, given as a URI (`?uri=true`:
    it may name memory), or not SQLite."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in {"", ":memory:"}:
        return None
    return None if url.query.get("uri") else database


def _sqlite_engine(url: URL) -> Engine:
    # ?synchronous=full: an acknowledged write survives power loss too, not only a crash of
    # the process (NORMAL, with WAL); it costs an fsync per transaction.
    synchronous = str(url.query.get("synchronous", "normal")).lower()
    if synchronous not in SYNCHRONOUS:
        expected = ", ".join(SYNCHRONOUS)
        raise _config_error(f"synchronous={synchronous!r} in the SQLite URL: one of {expected}")
    engine = create_engine(url.difference_update_query(["synchronous"]), json_serializer=json_text)
    file = sqlite_file(url)
    _WRITERS[engine] = _Writer(None if file is None else file + WRITER_SUFFIX)

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
