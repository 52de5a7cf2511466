"""waitress, guarded: a receiver facing the internet protects itself before it reads (#10).

waitress hands the app only complete requests, but out of the box it reads whatever a client
declares (a body past the limit is spooled to disk before the app's 413), trusts a connection
that trickles a byte at a time (its timeout counts silence, not time), stops accepting at its
connection limit, and answers with plain text. Here, in the I/O loop, before the app:

- a body is refused from its Content-Length, before any of it is read, and a chunked body
  once it passes the limit; bodies within the limit stay in memory (never a temp file);
- Content-Length with Transfer-Encoding, or Transfer-Encoding in HTTP/1.0, is refused: a
  proxy in front may frame the body differently, and what it thinks is body would be a
  second request here (request smuggling);
- after a refusal nothing more is parsed on that connection, and it is closed;
- a request must arrive whole within `read_timeout` of its first byte, and a connection with
  nothing in flight is closed after `idle_timeout`;
- at `connections`, the connection waiting longest for its request to arrive (or idle
  longest) is closed to let a new one in, so slow clients cannot lock out health checks;
- the server's own errors are JSON `{"error": code, "message": text}`, like the app's.
"""

from __future__ import annotations

import json
import logging
import select
import time
from dataclasses import dataclass
from typing import Any

from waitress.channel import HTTPChannel  # type: ignore[import-untyped]
from waitress.parser import HTTPRequestParser, ParsingError  # type: ignore[import-untyped]
from waitress.server import TcpWSGIServer  # type: ignore[import-untyped]
from waitress.task import ErrorTask  # type: ignore[import-untyped]
from waitress.utilities import RequestEntityTooLarge  # type: ignore[import-untyped]

log = logging.getLogger("skillrelay.http")

DEFAULT_BODY = 1024 * 1024  # bytes, when the app names no MAX_CONTENT_LENGTH
SWEEP = 0.25  # seconds between looks for connections past their timeouts (and loop turns)
# Codes of the server's own errors, by status (the app uses the same for 400 and 413).
CODES = {
    400: "bad_request",
    413: "too_large",
    431: "headers_too_large",
    500: "internal_error",
    501: "not_implemented",
}


@dataclass(frozen=True)
class Limits:
    connections: int = 200  # open connections; past it the stalest waiting one is closed
    read_timeout: float = 10.0  # seconds for a whole request to arrive, from its first byte
    idle_timeout: float = 30.0  # seconds a connection may stay open with nothing in flight
    header: int = 64 * 1024  # bytes of request line and headers
    body: int = DEFAULT_BODY  # bytes of body (HttpServer takes the app's MAX_CONTENT_LENGTH)


def adjustments(limits: Limits) -> dict[str, Any]:
    """waitress settings for `limits` (GuardedServer enforces the timeouts and connections)."""
    return {
        "max_request_header_size": limits.header,
        # Chunk framing counts here: a body sent one byte per chunk is refused early too.
        "max_request_body_size": 2 * limits.body + 65536,
        # A body is at most the limit and one read: in memory, never a temp file.
        "inbuf_overflow": limits.body + 65536,
        "asyncore_use_poll": True,  # select() cannot watch more than 1024 sockets
    }


class GuardedParser(HTTPRequestParser):  # type: ignore[misc]
    body_limit = DEFAULT_BODY
    error: Any = None

    def received(self, data: bytes) -> int:
        consumed: int = super().received(data)
        if self.error is None and self.headers_finished and self.over_limit():
            self.error = RequestEntityTooLarge(f"body over {self.body_limit} bytes")
            self.completed = True
        if self.error is not None:
            self.expect_continue = False  # never invite a body that is refused
            return len(data)  # nothing after a refused request is parsed
        return consumed

    def over_limit(self) -> bool:
        if self.chunked:
            return self.body_rcv is not None and len(self.body_rcv) > self.body_limit
        return bool(self.content_length > self.body_limit)

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        # waitress takes Transfer-Encoding out of the headers when it decodes it (HTTP/1.1)
        # and leaves it there when it ignores it (HTTP/1.0).
        if self.chunked and "CONTENT_LENGTH" in self.headers:
            raise ParsingError("Content-Length and Transfer-Encoding together")
        if "TRANSFER_ENCODING" in self.headers:
            raise ParsingError("Transfer-Encoding in an HTTP/1.0 request")


class JsonErrorTask(ErrorTask):  # type: ignore[misc]
    """The server's own error answers, in the app's JSON shape; the connection is closed."""

    def execute(self) -> None:
        error = self.request.error
        status = int(error.code)
        code = CODES.get(status, "http_error")
        message = str(error.body)[:200]
        if status == 413:
            message = f"body: larger than the limit of {self.channel.server.limits.body} bytes"
        log.debug("refused %s: %s %s", self.channel.addr, status, message)
        # The bytes Flask's jsonify writes for the app's errors: compact, then a newline.
        text = json.dumps({"error": code, "message": message}, separators=(",", ":"))
        body = f"{text}\n".encode()
        self.status = f"{status} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class GuardedChannel(HTTPChannel):  # type: ignore[misc]
    error_task_class = JsonErrorTask
    timed: Any = None  # the partial request `started` belongs to
    started = 0.0  # time.time() its first byte arrived

    def parser_class(self, adj: Any) -> GuardedParser:
        parser = GuardedParser(adj)
        parser.body_limit = self.server.limits.body
        return parser

    def received(self, data: bytes) -> bool:
        self.server.read += len(data)
        done: bool = super().received(data)
        if self.request is not None and self.request is not self.timed:
            self.timed, self.started = self.request, time.time()
        return done

    def writable(self) -> bool:
        # While a request's task writes its answer it holds the output lock, and the loop
        # cannot send (`_flush_some_if_lockable` gives up); asking for POLLOUT then woke the
        # loop at once, over and over, until the task let go: under load most of the
        # server's CPU. The task sends what it writes itself, and wakes the loop when it
        # ends or must wait for it (the lock is free then); SWEEP bounds any other wait.
        if not super().writable():
            return False
        if not self.requests or self.will_close or self.close_when_flushed:
            return True
        if not self.outbuf_lock.acquire(False):
            return False
        self.outbuf_lock.release()
        return True

    def waiting_since(self) -> float | None:
        """Since when this connection has waited for a request to arrive (or been idle);
        None while a request is being handled or the connection is closing."""
        if self.will_close or self.close_when_flushed or self.requests:
            return None
        if self.request is not None:
            return float(self.started)
        return float(self.last_activity)

    def expired(self, now: float, limits: Limits) -> bool:
        if self.will_close or self.close_when_flushed or self.requests:
            return False
        if self.request is not None:
            return bool(now - self.started > limits.read_timeout)
        return bool(now - self.last_activity > limits.idle_timeout)


class GuardedServer(TcpWSGIServer):  # type: ignore[misc]
    channel_class = GuardedChannel

    def __init__(self, app: Any, limits: Limits, **kw: Any) -> None:
        self.limits = limits
        self.read = 0  # bytes read from every client (the I/O loop alone writes it)
        self.next_sweep = 0.0
        self.full = False  # at the connection limit (logged when it changes)
        super().__init__(app, **kw)

    def readable(self) -> bool:
        # Called by the I/O loop once per turn (at least every SWEEP): the place to sweep.
        now = time.time()
        if now >= self.next_sweep:
            self.next_sweep = now + SWEEP
            self.sweep(now)
        if not self.accepting:
            return False
        channels = self.active_channels
        open_: list[Any] = []
        if len(channels) >= self.limits.connections:  # else no need to look at each, per turn
            open_ = [c for c in channels.values() if not c.will_close]
        full = len(open_) >= self.limits.connections
        if full != self.full:
            self.full = full
            if full:
                log.warning(
                    "http: connection limit (%d) reached; the one waiting longest is closed "
                    "for each new one",
                    self.limits.connections,
                )
            else:
                log.info("http: below the connection limit again")
        return self.make_room(open_) if full else True

    def sweep(self, now: float) -> None:
        for channel in list(self.active_channels.values()):
            if channel.expired(now, self.limits):
                channel.will_close = True  # closed by the loop, like waitress's own timeout

    def pending(self) -> bool:
        """A connection waits in the listen backlog."""
        poller = select.poll()
        poller.register(self.socket, select.POLLIN)
        return bool(poller.poll(0))

    def make_room(self, channels: list[GuardedChannel]) -> bool:
        """Close the connection waiting longest; False when every one has a request in
        hand (then new connections wait in the listen backlog)."""
        if not self.pending():
            return False  # nobody to make room for yet: look again next turn
        waiting = [(since, c) for c in channels if (since := c.waiting_since()) is not None]
        if not waiting:
            return False
        _, stalest = min(waiting, key=lambda pair: pair[0])
        stalest.will_close = True
        return True
