"""Wake the pipeline and the outbox when another process stores rows for them (PostgreSQL
LISTEN/NOTIFY).

`serve` wakes its own pipeline for each delivery it stores, and a pipeline wakes its own
outbox, but a `worker` beside `serve --no-worker` processes (or an `--outbox-only` one)
would see the rows only at its next poll (`--poll`, 2 s). On PostgreSQL inserts into the
inbox notify channel `skillrelay_inbox` and inserts into the outbox `skillrelay_outbox`
(migration 0007); `Listener.step` holds a connection of its own listening on the channels
a process has loops for, and wakes the loop of each notification's channel at once.

The listener runs as a `Loop` (`close` its end): a step waits up to `WAIT` seconds for
notifications, then returns so a stop is seen. A lost connection fails the step (the loop
logs it and tries again after `--poll`); a new connection wakes every loop once, for
anything stored while nobody listened. The polls go on as before: a missed notification
costs one poll at most.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

import psycopg
from psycopg.rows import TupleRow
from sqlalchemy.engine import URL

log = logging.getLogger("skillrelay.service")
INBOX = "skillrelay_inbox"  # migration 0007's triggers notify these
OUTBOX = "skillrelay_outbox"
WAIT = 1.0  # seconds a step listens before it checks for a stop
APPLICATION = "skillrelay-listen"  # pg_stat_activity's name for the connection


class Listener:
    def __init__(
        self, url: URL, wakes: Mapping[str, Callable[[], None]], stop: threading.Event
    ) -> None:
        # psycopg takes the URL SQLAlchemy does, less the "+psycopg" driver name.
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._wakes = dict(wakes)  # channel: what to wake
        self._stop = stop
        self._conn: psycopg.Connection[TupleRow] | None = None

    def step(self) -> bool:
        """Listen for up to WAIT seconds, waking the loop of each notification's channel;
        False once a stop is asked for (the loop then ends, and its `end` closes the
        connection)."""
        if self._stop.is_set():
            return False
        conn = self._conn or self._connect()
        try:
            for notification in conn.notifies(timeout=WAIT):
                self._wakes[notification.channel]()
                if self._stop.is_set():
                    break
        except psycopg.Error:
            self.close()
            raise
        return not self._stop.is_set()

    def _connect(self) -> psycopg.Connection[TupleRow]:
        conn = psycopg.connect(
            self._conninfo, autocommit=True, application_name=APPLICATION, connect_timeout=10
        )
        try:
            for channel in self._wakes:
                conn.execute(f"LISTEN {channel}")
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        log.info("listen: woken by notifications on %s", ", ".join(self._wakes))
        for wake in self._wakes.values():  # for what was stored while nobody listened
            wake()
        return conn

    def close(self) -> None:
        """Close the connection (the loop's `end`: in its thread, once it stops)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
