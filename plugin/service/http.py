"""The webhook app under waitress, with a shutdown that lets in-flight requests finish.

waitress runs one I/O loop (here in a thread of its own) and a pool of request threads. Its
own `close()` cancels queued requests and closes every connection at once; `HttpServer`
instead stops in three steps, each run inside the I/O loop through waitress's trigger (the
loop is not thread-safe):

1. `stop_accepting()`: close the listening socket; open connections stay;
2. `drain(deadline)`: wait until no connection has a request received but not answered,
   or an answer not yet sent;
3. `close(timeout)`: close the connections, end the loop and the request threads.

The server is guarded (plugin.service.guard): limits on bodies, headers, connections and
slow clients, applied before the app reads anything.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any

from waitress.adjustments import Adjustments  # type: ignore[import-untyped]
from waitress.task import ThreadedTaskDispatcher  # type: ignore[import-untyped]
from waitress.wasyncore import close_all, dispatcher  # type: ignore[import-untyped]

from plugin.service.guard import SWEEP, GuardedServer, Limits, adjustments

POLL = 0.02  # seconds between checks while draining


class QueueDepth:
    """Stands in for waitress's "Task queue depth is N" logger: under load it wrote a warning
    for nearly every request (thousands a second, on the request path). The depth is kept
    instead, for the `skillrelay_http_queued_requests` metric."""

    def __init__(self) -> None:
        self.peak = 0
        self.times = 0

    def warning(self, message: str, depth: int, *args: Any) -> None:
        self.times += 1
        self.peak = max(self.peak, depth)


def body_limit(app: Callable[..., Any]) -> int:
    """The app's own body limit (Flask's MAX_CONTENT_LENGTH), so both refuse the same."""
    config = getattr(app, "config", None)
    found = config.get("MAX_CONTENT_LENGTH") if isinstance(config, Mapping) else None
    return found if isinstance(found, int) and found > 0 else Limits.body


class HttpServer:
    def __init__(
        self,
        app: Callable[..., Any],
        *,
        host: str,
        port: int,
        threads: int,
        limits: Limits | None = None,
    ) -> None:
        self.limits = dataclasses.replace(limits or Limits(), body=body_limit(app))
        self._map: dict[int, Any] = {}
        # ident: the Server header names the product, not the server and its version.
        adj = Adjustments(
            host=host, port=port, threads=threads, ident="skillrelay", **adjustments(self.limits)
        )
        adj.asyncore_loop_timeout = SWEEP  # a float: the loop turns often enough to sweep
        tasks = ThreadedTaskDispatcher()
        self.depth = tasks.queue_logger = QueueDepth()
        self._tasks = tasks
        tasks.set_thread_count(threads)
        try:
            self.server: Any = GuardedServer(
                app, self.limits, map=self._map, adj=adj, dispatcher=tasks
            )
        except OSError:
            close_all(self._map)  # the wake-up pipe made before the bind failed
            raise
        self.threads = threads
        self.thread = threading.Thread(target=self.server.run, name="http", daemon=True)

    @property
    def address(self) -> str:
        host = str(self.server.effective_host)
        return f"http://{f'[{host}]' if ':' in host else host}:{self.server.effective_port}"

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def bytes_read(self) -> int:
        """Bytes read from every client so far."""
        return int(self.server.read)

    def connections(self) -> int:
        return len(self.server.active_channels)

    def queued(self) -> int:
        """Requests received and waiting for a free request thread, now."""
        return len(self._tasks.queue)

    def start(self) -> None:
        self.thread.start()

    def _in_loop(self, thunk: Callable[[], None], timeout: float = 2.0) -> bool:
        """Run `thunk` inside the I/O loop (or here, when the loop is not running); False if
        the loop did not get to it in time."""
        if not self.running:
            thunk()
            return True
        done = threading.Event()

        def run() -> None:
            try:
                thunk()
            finally:
                done.set()

        # The loop may wake for something else and run `run` between queueing it and the
        # write that wakes it; a thunk that closes everything has closed the pipe by then.
        with suppress(OSError):
            self.server.trigger.pull_trigger(run)
        return done.wait(timeout)

    def stop_accepting(self) -> None:
        # The base class's close: the listening socket only (waitress's own close would take
        # the trigger down too, and with it the way to reach the loop).
        self._in_loop(lambda: dispatcher.close(self.server))

    def busy(self) -> int:
        """Connections with a request being handled or an answer still being sent."""
        return sum(
            1
            for channel in list(self._map.values())
            if getattr(channel, "requests", None) or getattr(channel, "total_outbufs_len", 0)
        )

    def drain(self, deadline: float) -> int:
        """Wait until nothing is in flight or `deadline` (time.monotonic) passes; returns
        the number of connections still busy then."""
        while (busy := self.busy()) and time.monotonic() < deadline:
            time.sleep(POLL)
        return busy

    def close(self, timeout: float) -> bool:
        """Close every connection and stop the request threads; False if not within timeout."""
        end = time.monotonic() + max(0.0, timeout)
        self._in_loop(lambda: close_all(self._map), max(0.1, timeout))
        if self.thread.ident is not None:
            self.thread.join(max(0.0, end - time.monotonic()))
        left = max(0.0, end - time.monotonic())
        self.server.task_dispatcher.shutdown(cancel_pending=True, timeout=left)
        return not self.thread.is_alive()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the one the OS would give a bind to port 0)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port
