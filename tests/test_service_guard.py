"""The receiver protects itself before it reads (#10): real sockets against a real HttpServer
on 127.0.0.1 serving the real webhook app.

Slow clients cannot starve health checks, a body over the limit is refused from its
Content-Length (or while a chunked one streams) without being read or spooled, a request with
both Content-Length and Transfer-Encoding is refused with the connection, and the server's own
errors are JSON like the app's.
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from flask import Flask
from waitress.buffers import TempfileBasedBuffer  # type: ignore[import-untyped]

from plugin.manifest import Manifest
from plugin.service import options
from plugin.service.guard import Limits
from plugin.service.http import HttpServer
from plugin.store import Store
from tests.test_webhooks_support import fixture_bytes, make_app, manifest, signed, sqlite_store

__all__ = ["manifest", "sqlite_store"]  # fixtures shared from the support module

LIMIT = 1024 * 1024  # the app's MAX_CONTENT_LENGTH by default
CHUNK = 65536
SLOW_HEAD = b"POST /webhooks/jira HTTP/1.1\r\nHost: t\r\nX-Slow: "


@pytest.fixture
def app(sqlite_store: Store, manifest: Manifest) -> Flask:
    return make_app(sqlite_store, manifest)


@pytest.fixture
def spooled(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the temporary files waitress opens for request bodies."""
    made: list[int] = []
    original = TempfileBasedBuffer.newfile

    def newfile(self: Any) -> Any:
        made.append(1)
        return original(self)

    monkeypatch.setattr(TempfileBasedBuffer, "newfile", newfile)
    return made


@contextmanager
def serving(app: Flask, limits: Limits | None = None) -> Iterator[HttpServer]:
    extra = {} if limits is None else {"limits": limits}
    server = HttpServer(app, host="127.0.0.1", port=0, threads=2, **extra)
    server.start()
    try:
        yield server
    finally:
        assert server.close(5)


def port(server: HttpServer) -> int:
    return int(server.address.rsplit(":", 1)[1])


def connect(server: HttpServer, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port(server)), timeout=timeout)


@dataclass
class Answer:
    status: int = 0  # 0: no answer before the timeout
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    after: bytes = b""  # anything sent after this answer
    closed: bool = False  # the server closed the connection after it

    def json(self) -> Any:
        return json.loads(self.body)


def read_some(sock: socket.socket) -> bytes | None:
    """Bytes read, b"" when the server closed, None when nothing came before the timeout."""
    try:
        return sock.recv(CHUNK)
    except TimeoutError:
        return None
    except OSError:  # reset: closed
        return b""


def read_answer(sock: socket.socket, wait: float = 5.0, then: float = 1.0) -> Answer:
    """One response (within `wait` seconds), then whatever else arrives until the server
    closes or nothing comes for `then` seconds."""
    sock.settimeout(wait)
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 10 * CHUNK:
        got = read_some(sock)
        if not got:
            return Answer(closed=got == b"")
        data += got
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        got = read_some(sock)
        if not got:
            break
        rest += got
    answer = Answer(int(lines[0].split()[1]), headers, rest[:length], rest[length:])
    sock.settimeout(then)
    for _ in range(20):
        got = read_some(sock)
        if got is None:
            break
        if got == b"":
            answer.closed = True
            break
        answer.after += got
    return answer


def push(sock: socket.socket, chunk: bytes, most: int, seconds: float = 5.0) -> int:
    """Keep sending `chunk` until the server answers, refuses more, or `most` bytes went."""
    sent, deadline = 0, time.monotonic() + seconds
    while sent < most and time.monotonic() < deadline:
        readable, writable, _ = select.select([sock], [sock], [], 0.2)
        if readable:
            break
        if writable:
            try:
                sent += sock.send(chunk)
            except OSError:
                break
    return sent


def health_times(server: HttpServer, checks: int = 5, every: float = 0.4) -> list[float]:
    """Seconds each of a few GET /healthz took (each on a new connection)."""
    took = []
    for _ in range(checks):
        begun = time.monotonic()
        answer = requests.get(server.address + "/healthz", timeout=5)
        took.append(time.monotonic() - begun)
        assert answer.status_code == 200
        time.sleep(every)
    return took


class Tricklers:
    """`count` clients sending one byte of an endless header every `every` seconds; one that
    is cut off connects again and starts over (as an attacker would)."""

    def __init__(self, server: HttpServer, count: int, every: float = 0.5) -> None:
        self.server, self.count, self.every = server, count, every
        self.socks: list[socket.socket | None] = [None] * count
        self.reconnects = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def open(self, i: int) -> None:
        try:
            sock = connect(self.server, timeout=0.5)
        except OSError:
            return
        self.socks[i] = sock
        with suppress(OSError):
            sock.send(SLOW_HEAD)

    def run(self) -> None:
        for _ in range(int(30 / self.every)):  # bounded: a test ends long before
            for i, sock in enumerate(self.socks):
                if sock is None:
                    self.open(i)
                    continue
                try:
                    sock.send(b"a")
                except OSError:
                    sock.close()
                    self.socks[i] = None
                    self.reconnects += 1
            if self.stop.wait(self.every):
                return

    def __enter__(self) -> Tricklers:
        for i in range(self.count):
            self.open(i)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        for sock in self.socks:
            if sock is not None:
                sock.close()


# -- slow clients ---------------------------------------------------------------------------


def test_health_answers_while_a_hundred_clients_trickle(app: Flask) -> None:
    with serving(app) as server, Tricklers(server, 100):
        time.sleep(1.0)  # every trickler connected and sending
        assert max(health_times(server)) < 2.0


def test_at_the_connection_limit_the_stalest_slow_client_makes_room(app: Flask) -> None:
    with serving(app, Limits(connections=20)) as server, Tricklers(server, 100) as slow:
        time.sleep(1.0)
        assert max(health_times(server)) < 2.0
        assert server.connections() <= 21
    assert slow.reconnects > 0  # slow clients were cut off to make room


def trickle_until_closed(sock: socket.socket, every: float, seconds: float) -> float | None:
    """Send one byte every `every` seconds; seconds until the server closed, or None."""
    begun = time.monotonic()
    sock.settimeout(every)
    while time.monotonic() - begun < seconds:
        try:
            sock.send(b"a")
            if sock.recv(CHUNK) == b"":
                return time.monotonic() - begun
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - begun
    return None


def test_a_request_trickled_in_is_cut_off_at_the_read_timeout(app: Flask) -> None:
    with serving(app, Limits(read_timeout=1.0)) as server, connect(server) as sock:
        sock.sendall(SLOW_HEAD)
        closed_after = trickle_until_closed(sock, every=0.1, seconds=5)
    assert closed_after is not None and 0.8 <= closed_after < 3.0


def test_an_idle_connection_is_closed_after_the_idle_timeout(app: Flask) -> None:
    limits = Limits(idle_timeout=1.0, read_timeout=5.0)
    with serving(app, limits) as server, connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        begun = time.monotonic()
        answer = read_answer(sock, then=3)  # kept alive, then closed once idle
    assert answer.status == 200 and answer.closed
    assert 0.8 <= time.monotonic() - begun < 3.5


def test_requests_on_one_connection_are_still_answered_in_order(app: Flask) -> None:
    with serving(app) as server, connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n" * 2)
        first = read_answer(sock, wait=1)
    assert first.status == 200 and first.after.startswith(b"HTTP/1.1 200 OK\r\n")
    assert not first.closed


# -- bodies over the limit ------------------------------------------------------------------


def test_a_declared_oversized_body_is_refused_before_it_is_read(
    app: Flask, spooled: list[int]
) -> None:
    with serving(app) as server, connect(server) as sock:
        sock.sendall(
            b"POST /webhooks/jira HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1073741824\r\nExpect: 100-continue\r\n\r\n"
        )
        push(sock, b"x" * CHUNK, most=16 * LIMIT)  # the client keeps sending
        answer = read_answer(sock)
        read = server.bytes_read()
    assert answer.status == 413 and answer.closed
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "error": "too_large",
        "message": f"body: larger than the limit of {LIMIT} bytes",
    }
    assert read < CHUNK  # the headers and at most one read of the body
    assert not spooled


def chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def test_a_chunked_body_is_refused_once_it_passes_the_limit(app: Flask, spooled: list[int]) -> None:
    with serving(app) as server, connect(server) as sock:
        sock.sendall(
            b"POST /webhooks/jira HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        push(sock, chunked(b"x" * CHUNK), most=64 * LIMIT)
        answer = read_answer(sock)
        read = server.bytes_read()
    assert answer.status == 413 and answer.closed
    assert answer.json()["error"] == "too_large"
    assert LIMIT < read < LIMIT + 4 * CHUNK  # read up to the limit, not what followed
    assert not spooled


def test_bodies_within_the_limit_reach_the_app(app: Flask, spooled: list[int]) -> None:
    body = fixture_bytes("cloud_issue_updated_status_done")
    headers = "".join(f"{k}: {v}\r\n" for k, v in signed(body).items()).encode()
    parts = b"".join(chunked(body[i : i + 100]) for i in range(0, len(body), 100))
    with serving(app) as server:
        with connect(server) as sock:
            sock.sendall(
                b"POST /webhooks/jira HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                + headers
                + b"\r\n"
                + parts
                + b"0\r\n\r\n"
            )
            stored = read_answer(sock, wait=1)
        at_limit = requests.post(
            server.address + "/webhooks/jira",
            data=b"{" + b" " * (LIMIT - 2) + b"}",
            headers=signed(b"other"),
            timeout=5,
        )
    assert stored.status == 200, stored.body
    assert at_limit.status_code == 401  # the app read it and checked its signature
    assert not spooled


# -- ambiguous framing ----------------------------------------------------------------------

SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
END = b"0\r\n\r\n"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /webhooks/jira HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n%s%s" % (len(END + SMUGGLED), END, SMUGGLED),
        b"POST /webhooks/jira HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Length: 5\r\n\r\n%s%s" % (END, SMUGGLED),
        b"POST /webhooks/jira HTTP/1.0\r\nHost: t\r\nConnection: keep-alive\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n%s%s" % (END, SMUGGLED),
    ],
    ids=["cl-te", "te-cl", "http10-te"],
)
def test_ambiguous_framing_is_refused_and_nothing_smuggled_is_answered(
    app: Flask, request_bytes: bytes
) -> None:
    with serving(app) as server, connect(server) as sock:
        sock.sendall(request_bytes)
        answer = read_answer(sock)
    assert answer.status == 400 and answer.closed
    assert answer.json()["error"] == "bad_request"
    assert "Transfer-Encoding" in answer.json()["message"]
    assert answer.after == b""  # the request in the body was never answered


# -- the server's own errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (b"NONSENSE\r\n\r\n", 400, "bad_request"),
        (b"GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n", 400, "bad_request"),
        (b"POST /webhooks/jira HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello", 400, "bad_request"),
        (
            b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
            431,
            "headers_too_large",
        ),
        (
            b"POST /webhooks/jira HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
            "not_implemented",
        ),
    ],
    ids=["start-line", "header", "content-length", "headers-too-large", "transfer-coding"],
)
def test_the_servers_own_errors_are_json_like_the_apps(
    app: Flask, request_bytes: bytes, status: int, code: str
) -> None:
    with serving(app) as server, connect(server) as sock:
        sock.sendall(request_bytes)
        answer = read_answer(sock)
    assert answer.status == status and answer.closed
    assert answer.headers["content-type"] == "application/json"
    found = answer.json()
    assert set(found) == {"error", "message"} and found["error"] == code
    assert answer.headers["server"] == "skillrelay"


# -- options --------------------------------------------------------------------------------


def test_serve_options_set_the_limits() -> None:
    parser = argparse.ArgumentParser()
    options.add_http_limits(parser)
    assert options.http_limits(parser.parse_args([])) == Limits()
    args = parser.parse_args(
        ["--max-connections", "50", "--read-timeout", "5", "--idle-timeout", "1m"]
    )
    assert options.http_limits(args) == Limits(connections=50, read_timeout=5, idle_timeout=60)
    with ExitStack() as stack:
        stack.enter_context(pytest.raises(SystemExit))
        parser.parse_args(["--max-connections", "0"])
