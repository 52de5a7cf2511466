"""The app on granian (`serve --server granian`): the same interface as `HttpServer`.

granian runs embedded in a thread of its own with its own event loop, serving
`webhooks.rsgi.RsgiApp` over HTTP/1.1: bodies are read on the loop under the read timeout
and the body limit, the webhook routes run there, and the rest of the app runs in a pool of
`threads`. It serves from construction on, as waitress accepts from its bind on.
Shutdown: `stop_accepting` closes the listening socket and lets granian finish the requests
in flight; `drain` waits for them; `close` waits for granian to end.

What granian enforces itself, unlike waitress with the guards (README, "Facing the
internet"): slow request heads and idle connections are closed at one timeout (the read
timeout here; the idle timeout does not apply); past `connections` open connections a new
one waits in the listen backlog until another closes; its limit on the request head is its
own (hundreds of KiB); its own refusals (400, 431) have empty bodies.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

from flask import Flask
from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.server.embed import Server

from plugin.service.guard import Limits
from plugin.service.http import POLL, QueueDepth, free_port
from webhooks.rsgi import RsgiApp

MAX_HEAD_MS = 60_000  # granian's ceiling for its header read timeout
START_SECONDS = 10.0


class GranianHttp:
    def __init__(
        self, app: Flask, *, host: str, port: int, threads: int, limits: Limits | None = None
    ) -> None:
        limits = limits or Limits()
        self.host = host
        self.port = port or free_port(host)
        _check_free(host, self.port)  # an address in use fails here, as waitress's bind does
        self.app = RsgiApp(app, read_timeout=limits.read_timeout, threads=threads)
        self.depth = QueueDepth()  # requests wait in granian's loop, not in a queue we see
        head_ms = min(MAX_HEAD_MS, max(1, round(limits.read_timeout * 1000)))
        self._loop = asyncio.new_event_loop()
        self._server = Server(
            self.app,
            address=host,
            port=self.port,
            interface=Interfaces.RSGI,
            http=HTTPModes.http1,
            websockets=False,
            backpressure=limits.connections,
            http1_settings=HTTP1Settings(header_read_timeout=head_ms),
            log_enabled=False,  # it would configure logging for the whole process
        )
        self.thread = threading.Thread(target=self._run, name="http", daemon=True)
        self._serve_now()

    def _serve_now(self) -> None:
        """Start granian; returns once the port takes connections (OSError if it ended)."""
        self.thread.start()
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                socket.create_connection((_dial(self.host), self.port), timeout=1).close()
                return
            except OSError:
                if not self.thread.is_alive() or time.monotonic() > deadline:
                    self.close(1.0)
                    raise OSError(f"granian did not start listening on {self.address}") from None
                time.sleep(POLL)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        await self._server.serve()
        # On a stop granian's serve() may return while requests still await their commit:
        # the loop runs on until they are answered (close() bounds the wait), else they would
        # be dropped with it and the stop would wait out its deadline for them.
        while self.app.in_flight:
            await asyncio.sleep(POLL)

    @property
    def address(self) -> str:
        host = self.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def queued(self) -> int:
        return 0

    def busy(self) -> int:
        """Requests received and not answered yet."""
        return self.app.in_flight

    def start(self) -> None:
        """granian already serves (from construction, as waitress listens from its bind)."""
        if not self.thread.is_alive():
            raise OSError(f"granian stopped serving {self.address}")

    def stop_accepting(self) -> None:
        """Close the listening socket; granian finishes the requests in flight, then ends."""
        if self.thread.is_alive() and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._server.stop)

    def drain(self, deadline: float) -> int:
        """Wait until nothing is in flight or `deadline` (time.monotonic) passes; returns
        the number of requests still in flight then."""
        while (busy := self.busy()) and time.monotonic() < deadline:
            time.sleep(POLL)
        return busy

    def close(self, timeout: float) -> bool:
        """Wait for granian to end, then for the app's threads; False if not within timeout."""
        self.stop_accepting()
        if self.thread.ident is not None:
            self.thread.join(max(0.0, timeout))
        ended = not self.thread.is_alive()
        if ended:
            self.app.close()
        return ended


def _dial(host: str) -> str:
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104


def _check_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
