"""Wake the pipeline when another process stores inbox rows (PostgreSQL LISTEN/NOTIFY).

`serve` wakes its own pipeline for each delivery it stores, but a `worker` beside
`serve --no-worker` processes would only see the rows at its next poll (`--poll`, 2 s).
On PostgreSQL the inbox notifies channel `skillrelay_inbox` on every insert (migration
0007); `InboxListener.step` holds a connection of its own listening there and wakes the
pipeline for each notification, so a delivery is decided as soon as it is stored.

The listener runs as a `Loop` (`close` its end): a step waits up to `WAIT` seconds for
notifications, then returns so a stop is seen. A lost connection fails the step (the loop
logs it and tries again after `--poll`); a new connection wakes the pipeline once, for
anything stored while nobody listened. The poll goes on as before: a missed notification
costs one poll at most.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import URL

log = logging.getLogger("skillrelay.service")
CHANNEL = "skillrelay_inbox"  # migration 0007's trigger notifies it
WAIT = 1.0  # seconds a step listens before it checks for a stop
APPLICATION = "skillrelay-listen"  # pg_stat_activity's name for the connection


class InboxListener:
    def __init__(self, url: URL, wake: Callable[[], None], stop: threading.Event) -> None:
        # psycopg takes the URL SQLAlchemy does, less the "+psycopg" driver name.
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._wake = wake
        self._stop = stop
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self.wakes = 0  # notifications passed on, for tests and logs

    def step(self) -> bool:
        """Listen for up to WAIT seconds, waking the pipeline for each notification; False
        once a stop is asked for (the loop then ends, and its `end` closes the connection)."""
        if self._stop.is_set():
            return False
        conn = self._conn or self._connect()
        try:
            for _ in conn.notifies(timeout=WAIT):
                self.wakes += 1
                self._wake()
                if self._stop.is_set():
                    break
        except psycopg.Error:
            self.close()
            raise
        return not self._stop.is_set()

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        conn = psycopg.connect(
            self._conninfo, autocommit=True, application_name=APPLICATION, connect_timeout=10
        )
        try:
            conn.execute(f"LISTEN {CHANNEL}")
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        log.info("pipeline: woken by notifications on %s", CHANNEL)
        self._wake()  # for what was stored while nobody listened
        return conn

    def close(self) -> None:
        """Close the connection (the loop's `end`: in its thread, once it stops)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
