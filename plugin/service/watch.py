"""Wake the pipeline and the outbox when another process stores rows for them (SQLite).

SQLite has no LISTEN/NOTIFY (see listen.py for PostgreSQL), so a `worker` beside `serve`
on one SQLite file saw deliveries only at its next poll (`--poll`, 2 s). Meanwhile they
piled up, and the first decision after the poll caught up on all of them in one write
transaction: 0.4 to 0.9 s during which `serve` could store nothing.

`Watcher.step` looks every `EVERY` seconds at `PRAGMA data_version`, which changes when
any other connection commits, on a connection of its own that never writes; only after a
change does it read the largest inbox and outbox ids, and it wakes the loop of each table
that grew. A process's own updates (claims, marks) grow neither, so they wake nothing.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping
from urllib.parse import quote

log = logging.getLogger("skillrelay.service")
EVERY = 0.02  # seconds between looks: a pile-up of 20 ms is a short transaction
WAIT = 1.0  # seconds a step watches before it returns (the loop then sees a stop)
TOPS = {  # table: its largest id
    "inbox": "SELECT coalesce(max(id), 0) FROM inbox",
    "outbox": "SELECT coalesce(max(id), 0) FROM outbox",
}


class Watcher:
    def __init__(
        self, path: str, wakes: Mapping[str, Callable[[], None]], stop: threading.Event
    ) -> None:
        unknown = set(wakes) - set(TOPS)
        if unknown:
            raise ValueError(f"cannot watch {sorted(unknown)}")
        self._path = path
        self._wakes = dict(wakes)  # table: what to wake
        self._stop = stop
        self._conn: sqlite3.Connection | None = None
        self._version = -1
        self._last: dict[str, int] = {}

    def step(self) -> bool:
        """Watch for up to WAIT seconds; False once a stop is asked for."""
        conn = self._conn or self._connect()
        waited = 0.0
        while waited < WAIT and not self._stop.wait(EVERY):
            waited += EVERY
            try:
                self._look(conn)
            except sqlite3.Error:
                self.close()
                raise
        return not self._stop.is_set()

    def _look(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version == self._version:
            return
        self._version = version
        for table, top in self._tops(conn).items():
            if top > self._last.get(table, 0):
                self._last[table] = top
                self._wakes[table]()

    def _tops(self, conn: sqlite3.Connection) -> dict[str, int]:
        return {table: conn.execute(TOPS[table]).fetchone()[0] for table in self._wakes}

    def _connect(self) -> sqlite3.Connection:
        # Autocommit: each look reads the latest commit, and holds no snapshot between;
        # mode=rw: a database that is gone is an error, not a new empty file.
        uri = f"file:{quote(self._path)}?mode=rw"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        self._conn = conn
        self._version = conn.execute("PRAGMA data_version").fetchone()[0]
        self._last = self._tops(conn)
        log.info("watch: woken by other processes' rows in %s", ", ".join(self._wakes))
        for wake in self._wakes.values():  # for what was stored before this look
            wake()
        return conn

    def close(self) -> None:
        """Close the connection (the loop's `end`: in its thread, once it stops)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
