"""The app as `serve --server granian` serves it (webhooks.rsgi on a real granian, on
127.0.0.1): it answers, counts and stores every request of the app tests as the WSGI route
does, reads bodies on its event loop under a deadline and a limit, and closes idle and slow
connections at the read timeout."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from typing import Any

from flask import Flask

from plugin.manifest import Manifest
from plugin.service.granian_http import GranianHttp
from plugin.service.guard import Limits
from plugin.store import Store
from tests.test_webhooks_app import DONE
from tests.test_webhooks_direct import REQUESTS, _answer, _inbox, _metrics, stores
from tests.test_webhooks_support import JSON_TYPE, make_app, manifest, signed

__all__ = ["manifest", "stores"]


@contextmanager
def served(app: Flask, **limits: Any) -> Iterator[int]:
    """`app` as `serve --server granian` serves it (GranianHttp, with `limits`); its port."""
    http = GranianHttp(app, host="127.0.0.1", port=0, threads=4, limits=Limits(**limits))
    try:
        http.start()
        yield http.port
    finally:
        http.stop_accepting()
        http.drain(time.monotonic() + 5)
        assert http.close(5)


@dataclass
class Reply:
    status_code: int
    body: bytes
    headers: Message

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def seen(self) -> tuple[int, Any, str | None, list[str], list[str]]:
        """What `_answer` reads of a Flask test response."""
        return (
            self.status_code,
            self.json(),
            self.headers.get("Content-Type"),
            list(self.headers.get_all("WWW-Authenticate") or []),
            list(self.headers.get_all("Allow") or []),
        )


def send(port: int, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request(method, path, body=body, headers=dict(headers))
        response = conn.getresponse()
        return Reply(response.status, response.read(), response.headers)
    finally:
        conn.close()


def test_every_request_is_answered_counted_and_stored_as_on_the_wsgi_route(
    stores: tuple[Store, Store], manifest: Manifest
) -> None:
    native_app, wsgi_app = make_app(stores[0], manifest), make_app(stores[1], manifest)
    wsgi = wsgi_app.test_client()
    with served(native_app) as port:
        for name, method, path, data, headers in REQUESTS:
            ours = send(port, method, path, data, headers)
            theirs = wsgi.open(path, method=method, data=data, headers=dict(headers))
            assert ours.seen() == _answer(theirs), name
    assert _metrics(native_app) == _metrics(wsgi_app)
    stored = _inbox(stores[0])
    assert stored == _inbox(stores[1])
    assert len(stored) == 4


def test_the_rest_of_the_app_is_served_through_flask(
    stores: tuple[Store, Store], manifest: Manifest
) -> None:
    app = make_app(stores[0], manifest)
    with served(app) as port:
        health = send(port, "GET", "/healthz", b"", {})
        wrong_method = send(port, "GET", "/webhooks/jira", b"", {})
        missing = send(port, "GET", "/nowhere?x=1", b"", {})
    client = app.test_client()
    assert health.seen() == _answer(client.get("/healthz"))
    assert wrong_method.seen() == _answer(client.get("/webhooks/jira"))
    assert missing.seen() == _answer(client.get("/nowhere?x=1"))
    assert wrong_method.status_code == 405 and missing.status_code == 404


def raw(port: int) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    return conn


def reply_of(conn: socket.socket) -> tuple[int, dict[str, Any] | None]:
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"}"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body.startswith(b"{") else None


def answers_promptly(port: int) -> bool:
    """/healthz answers within 0.9 s, whatever else holds connections."""
    started = time.monotonic()
    return send(port, "GET", "/healthz", b"", {}).status_code == 200 and (
        time.monotonic() - started < 0.9
    )


def posting(port: int, *headers: str) -> socket.socket:
    """A connection that has sent the head of a POST to /webhooks/jira with `headers`."""
    conn = raw(port)
    lines = "".join(f"{h}\r\n" for h in headers)
    head = f"POST /webhooks/jira HTTP/1.1\r\nHost: x\r\nContent-Type: {JSON_TYPE}\r\n"
    conn.sendall(f"{head}{lines}\r\n".encode())
    return conn


def chunks_past(conn: socket.socket, limit: int) -> tuple[int, dict[str, Any] | None]:
    """Send 64 KiB chunks until past `limit` (or refused meanwhile); the reply."""
    piece = b"x" * 65536
    try:
        for _ in range(limit // len(piece) + 2):
            conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    except OSError:
        pass  # refused and closed while still sending
    return reply_of(conn)


def test_a_trickled_body_gets_408_at_the_deadline_and_holds_nothing_up(
    stores: tuple[Store, Store], manifest: Manifest
) -> None:
    app = make_app(stores[0], manifest)
    with served(app, read_timeout=1.0) as port:
        slow = posting(port, f"Content-Length: {len(DONE)}")
        slow.sendall(DONE[:10])
        started = time.monotonic()
        assert answers_promptly(port)  # meanwhile
        status, body = reply_of(slow)
        waited = time.monotonic() - started
        slow.close()
    assert status == 408 and body is not None and body["error"] == "timeout"
    assert 0.5 < waited < 5
    assert _inbox(stores[0]) == []


def test_a_body_past_the_limit_is_refused_before_it_is_read(
    stores: tuple[Store, Store], manifest: Manifest
) -> None:
    app = make_app(stores[0], manifest)
    limit = app.config["MAX_CONTENT_LENGTH"]
    with served(app) as port:
        declared = posting(port, f"Content-Length: {1 << 30}")  # and sends none of it
        declared_answer = reply_of(declared)
        chunked = posting(port, "Transfer-Encoding: chunked")  # cut off past the limit
        chunked_answer = chunks_past(chunked, limit)
        # A small length and a long chunked body: granian drops the length (RFC 9112 6.3),
        # so the chunks are counted against the limit.
        both = posting(port, "Content-Length: 10", "Transfer-Encoding: chunked")
        both_answer = chunks_past(both, limit)
        for conn in (declared, chunked, both):
            conn.close()
    for status, body in (declared_answer, chunked_answer, both_answer):
        assert status == 413 and body is not None and body["error"] == "too_large"
        assert str(limit) in body["message"]


def test_a_chunked_delivery_within_the_limit_is_stored(
    stores: tuple[Store, Store], manifest: Manifest
) -> None:
    app = make_app(stores[0], manifest)
    headers = {**signed(DONE), "Transfer-Encoding": "chunked"}
    with served(app) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        conn.request(
            "POST",
            "/webhooks/jira",
            body=iter([DONE[:100], DONE[100:]]),
            headers=headers,
            encode_chunked=True,
        )
        response = conn.getresponse()
        answer = json.loads(response.read())
        conn.close()
    assert response.status == 200 and answer["status"] == "stored"
    assert len(_inbox(stores[0])) == 1


def test_idle_and_half_sent_connections_are_closed_at_the_read_timeout(
    stores: tuple[Store, Store], manifest: Manifest
) -> None:
    app = make_app(stores[0], manifest)
    with served(app, read_timeout=1.0) as port:
        idle = raw(port)
        half = [raw(port) for _ in range(50)]
        for conn in half:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
        started = time.monotonic()
        assert answers_promptly(port)
        closed = [closed_within(conn, 5) for conn in [idle, *half]]
        waited = time.monotonic() - started
    assert all(closed) and 0.5 < waited < 5


def closed_within(conn: socket.socket, seconds: float) -> bool:
    """Whether the server closes `conn` within `seconds` (whatever it sends first)."""
    conn.settimeout(seconds)
    try:
        while conn.recv(1024):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    finally:
        conn.close()


def test_an_idle_keep_alive_connection_does_not_hold_up_the_shutdown(
    stores: tuple[Store, Store], manifest: Manifest
) -> None:
    app = make_app(stores[0], manifest)
    http = GranianHttp(app, host="127.0.0.1", port=0, threads=4, limits=Limits())
    kept = raw(http.port)
    kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert kept.recv(65536).startswith(b"HTTP/1.1 200")  # and the connection stays open
    started = time.monotonic()
    http.stop_accepting()
    assert http.drain(started + 3) == 0
    assert http.close(3), "still serving 3 s after the stop"
    assert time.monotonic() - started < 3
    kept.close()


def test_a_repeated_header_is_read_joined_as_a_wsgi_server_reads_it(
    stores: tuple[Store, Store], manifest: Manifest
) -> None:
    """Headers sent twice are one value, joined with ", " (PEP 3333's CGI rule, which
    waitress follows): a signature sent twice matches no signature, and a Content-Type sent
    twice is not JSON."""
    app = make_app(stores[0], manifest)
    signature = signed(DONE)["X-Hub-Signature"]
    with served(app) as port:
        twice_signed = posting(
            port,
            f"X-Hub-Signature: {signature}",
            f"X-Hub-Signature: {signature}",
            f"Content-Length: {len(DONE)}",
        )
        twice_signed.sendall(DONE)
        signed_answer = reply_of(twice_signed)
        twice_typed = posting(
            port,
            f"Content-Type: {JSON_TYPE}",  # posting sends one already
            f"X-Hub-Signature: {signature}",
            f"Content-Length: {len(DONE)}",
        )
        twice_typed.sendall(DONE)
        typed_answer = reply_of(twice_typed)
        once = send(port, "POST", "/webhooks/jira", DONE, signed(DONE))
        for conn in (twice_signed, twice_typed):
            conn.close()
    assert signed_answer[0] == 401
    assert typed_answer[0] == 415
    assert once.status_code == 200 and len(_inbox(stores[0])) == 1


def test_a_delivery_being_committed_when_the_stop_comes_is_stored_and_answered(
    stores: tuple[Store, Store], manifest: Manifest
) -> None:
    """granian's serve() returns on the stop while a request still awaits its commit: the
    loop runs on until that request is answered, so the stop neither loses its wake-up (a
    closed loop) nor waits out the deadline for it."""
    app = make_app(stores[0], manifest)
    http = GranianHttp(app, host="127.0.0.1", port=0, threads=4, limits=Limits())
    write = http.app.intake._write

    def slow(rows: Any) -> Any:
        time.sleep(0.5)
        return write(rows)

    http.app.intake._write = slow
    answers: list[Reply] = []
    bodies = [DONE.replace(b"99291", str(99300 + i).encode()) for i in range(8)]
    senders = [
        threading.Thread(
            target=lambda body=body: answers.append(
                send(http.port, "POST", "/webhooks/jira", body, signed(body))
            )
        )
        for body in bodies
    ]
    for sender in senders:
        sender.start()
    while http.busy() < len(senders):
        time.sleep(0.01)
    started = time.monotonic()
    http.stop_accepting()
    assert http.drain(started + 5) == 0
    assert http.close(5)
    for sender in senders:
        sender.join(5)
    assert time.monotonic() - started < 3
    assert [a.status_code for a in answers] == [200] * len(senders)
    assert len(_inbox(stores[0])) == len(senders)
