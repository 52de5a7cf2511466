"""Receiving and deciding in separate processes on one SQLite file: a worker's watcher sees
another process's inbox and outbox rows and wakes its pipeline or its outbox at once, not
at the next poll; the processes take turns to write on a lock file, not by SQLite's
sleeping busy handler."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from plugin.service.loop import Loop
from plugin.service.watch import Watcher
from plugin.store import Store, engine, migrate
from plugin.store.models import InboxEvent
from tests.test_service_support import (
    receiver_then_worker_decide,
    wait_until,
)

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def event(key: str) -> InboxEvent:
    return InboxEvent("test", "ticket_transition", key, {"n": key}, NOW)


def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'skillrelay.db'}"
    migrate.upgrade(url)
    return url


class Woken:
    def __init__(self) -> None:
        self.inbox = threading.Event()
        self.outbox = threading.Event()

    def clear(self) -> None:
        self.inbox.clear()
        self.outbox.clear()


def test_the_watcher_wakes_the_loop_of_the_table_another_connection_added_to(
    tmp_path: Path,
) -> None:
    url = sqlite_url(tmp_path)
    woken, stop = Woken(), threading.Event()
    with Store.open(url) as store:
        watcher = Watcher(
            str(tmp_path / "skillrelay.db"),
            {"inbox": woken.inbox.set, "outbox": woken.outbox.set},
            stop,
        )
        loop = Loop("watch", watcher.step, interval=0.2, stop=stop, end=watcher.close)
        loop.start()
        try:
            wait_until(woken.inbox.is_set, 10)  # its first look wakes both, for what it missed
            wait_until(woken.outbox.is_set, 10)
            woken.clear()
            store.inbox.add_many([event("a")])
            assert wait_until(woken.inbox.is_set, 5) < 1.0
            assert not woken.outbox.is_set()
            woken.clear()
            store.outbox.enqueue("label:PAY-1", "jira", "label", {"issue": "PAY-1", "label": "x"})
            assert wait_until(woken.outbox.is_set, 5) < 1.0
            assert not woken.inbox.is_set()
            woken.clear()
            # A process's own updates (a claim, a mark) add no row: they wake nothing.
            (item,) = store.inbox.list(source="test")
            store.inbox.mark_processed([item.id])
            time.sleep(0.3)
            assert not woken.inbox.is_set() and not woken.outbox.is_set()
        finally:
            stop.set()
            assert loop.join(3.0)
    assert watcher._conn is None  # the loop's end closed its connection


def test_the_watcher_refuses_a_table_it_cannot_watch_and_never_makes_a_database(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValueError, match="cannot watch"):
        Watcher(str(tmp_path / "x.db"), {"awards": lambda: None}, threading.Event())
    gone = tmp_path / "a folder with spaces" / "gone.db"
    gone.parent.mkdir()
    watcher = Watcher(str(gone), {"inbox": lambda: None}, threading.Event())
    with pytest.raises(sqlite3.OperationalError):
        watcher.step()  # the loop logs it and tries again after --poll
    assert not gone.exists()


def held_elsewhere(lock_file: Path) -> bool:
    """Whether some open file (here: the store's) holds the flock of `lock_file`."""
    fd = os.open(lock_file, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def test_a_write_holds_the_writers_lock_file_beside_the_database_until_it_ends(
    tmp_path: Path,
) -> None:
    url = sqlite_url(tmp_path)
    lock_file = tmp_path / f"skillrelay.db{engine.WRITER_SUFFIX}"
    with Store.open(url) as store:
        with engine.begin(store.engine) as conn:
            conn.execute(text("SELECT 1"))
            assert held_elsewhere(lock_file)
        assert not held_elsewhere(lock_file)
        store.inbox_writer.add_new([event("b")])  # the webhooks' writer takes it too
        assert not held_elsewhere(lock_file)
        assert [i.natural_key for i in store.inbox.list(source="test")] == ["b"]


def test_a_writer_lock_held_too_long_elsewhere_delays_a_write_but_never_loses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process stopped while it held the lock (SIGSTOP, a debugger) must not stop the
    others for good: after the busy timeout they write anyway, and SQLite's own lock
    decides, as it did before the lock file."""
    url = sqlite_url(tmp_path)
    monkeypatch.setattr(engine, "SQLITE_BUSY_TIMEOUT_MS", 300)
    with Store.open(url) as store:
        store.inbox.add_many([event("first")])  # creates the lock file
        fd = os.open(tmp_path / f"skillrelay.db{engine.WRITER_SUFFIX}", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            started = time.monotonic()
            store.inbox.add_many([event("second")])
            waited = time.monotonic() - started
        finally:
            os.close(fd)
        assert 0.25 <= waited < 3.0
        keys = sorted(i.natural_key for i in store.inbox.list(source="test"))
        assert keys == ["first", "second"]


def test_without_a_lock_file_writes_go_on_under_sqlites_own_lock(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A lock file that cannot be opened (here a folder in its place) costs the queue
    between processes, never a write."""
    url = sqlite_url(tmp_path)
    (tmp_path / f"skillrelay.db{engine.WRITER_SUFFIX}").mkdir()
    with Store.open(url) as store:
        store.inbox.add_many([event("a")])
        store.inbox.add_many([event("b")])
        store.inbox_writer.add_new([event("c")])
        keys = sorted(i.natural_key for i in store.inbox.list(source="test"))
    assert keys == ["a", "b", "c"]
    warned = [r.getMessage() for r in caplog.records if "writers' lock file" in r.getMessage()]
    assert len(warned) == 1, warned  # once, not at every write


def test_a_worker_process_decides_what_a_receiving_process_stored_on_sqlite_before_its_poll(
    tmp_path: Path,
) -> None:
    """`serve --no-worker` receives, `worker --poll 60` decides, on one SQLite file: without
    the watcher the delivery would wait a minute for the worker's next look."""
    receiver_then_worker_decide(
        tmp_path, sqlite_url(tmp_path), r"watch: woken by other processes' rows in inbox", NOW
    )
