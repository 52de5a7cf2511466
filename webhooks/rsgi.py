"""skillrelay's web app on granian's RSGI interface: a receiver that waits for slow bodies
on an event loop, not in a thread (README, "Facing the internet").

Every request's body is read first, on the loop, under `read_timeout`: a Content-Length past
the limit is refused before any of it is read, a chunked body is cut off as it passes the
limit, a body that does not arrive in time gets 408. Then POST /webhooks/jira and
/webhooks/xapi run their steps on the loop (`take`, `answered`, the JSON errors: the ones
`webhooks.direct` runs), and only the commit leaves it (`AsyncGroupCommit`); every other
request goes to the Flask app in a thread pool. tests/test_webhooks_rsgi.py holds the
answers, the metrics and the inbox to the WSGI route's.

`create()` builds it from the environment as `serve --no-worker` builds its app, for
`granian --interface rsgi --factory webhooks.rsgi:create`; `skillrelay worker` processes
decide and deliver beside it.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from flask import Flask
from granian.rsgi import Scope
from werkzeug.exceptions import RequestEntityTooLarge

from plugin.store.group_commit import AsyncGroupCommit
from plugin.store.intake import Encoded
from webhooks import errors
from webhooks.direct import WEBHOOKS
from webhooks.errors import Answer, error_body
from webhooks.incoming import JSON_TYPE, Read
from webhooks.intake import Take, answered, receive
from webhooks.services import EXTENSION, Services

READ_TIMEOUT = 10.0  # seconds for a request's body, as serve's --read-timeout
THREADS = 4  # for the Flask app, as serve's --threads
Environ = dict[str, Any]


class HTTPProtocol(Protocol):
    """What is used here of granian's RSGI protocol object (`granian.rsgi.HTTPProtocol`)."""

    async def __call__(self) -> bytes: ...

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None: ...


class Refused(Exception):
    def __init__(self, answer: Answer) -> None:
        self.answer = answer


class RsgiApp:
    def __init__(
        self, flask_app: Flask, *, read_timeout: float = READ_TIMEOUT, threads: int = THREADS
    ) -> None:
        found = flask_app.extensions[EXTENSION]
        assert isinstance(found, Services)
        self.services = found
        self.wsgi = flask_app.wsgi_app
        self.limit: int = flask_app.config["MAX_CONTENT_LENGTH"]
        self.read_timeout = read_timeout
        self.intake: AsyncGroupCommit[Encoded] = AsyncGroupCommit(found.store.inbox_writer.write)
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="rsgi-flask")
        latency = found.metrics.latency
        self.latency = {path: latency.labels(path) for path in WEBHOOKS}
        self.in_flight = 0  # requests received and not answered yet (changed on the loop only)

    async def __call__(self, scope: Scope, proto: HTTPProtocol) -> None:
        if scope.proto != "http":
            return  # no websockets here
        self.in_flight += 1
        try:
            await self._serve(scope, proto)
        finally:
            self.in_flight -= 1

    async def _serve(self, scope: Scope, proto: HTTPProtocol) -> None:
        started = time.perf_counter()
        route = WEBHOOKS.get(scope.path) if scope.method == "POST" else None
        sender = route[0] if route else "other"
        try:
            body = await self._body(scope, proto, sender)
        except Refused as refused:
            _reply(proto, refused.answer, ("connection", "close"))
        else:
            request = Read(scope.headers.items(), body)
            if route is None:
                status, headers, data = await asyncio.get_running_loop().run_in_executor(
                    self.pool, _call, self.wsgi, _environ(scope, request)
                )
                proto.response_bytes(status, headers, data)
                return
            _reply(proto, await self._deliver(route, request, scope.path))
        if route is not None:
            self.latency[scope.path].observe(time.perf_counter() - started)

    async def _body(self, scope: Scope, proto: HTTPProtocol, sender: str) -> bytes:
        given = scope.headers.get("content-length")
        if given is not None:
            if not (given.isascii() and given.isdigit()):
                raise Refused(error_body(400, "bad_request", "Content-Length: not a number"))
            if int(given) > self.limit:
                raise Refused(self._too_large(sender, scope))
        try:
            async with asyncio.timeout(self.read_timeout):
                if given is not None:
                    return await proto()
                return await self._chunks(proto, sender, scope)
        except TimeoutError:
            message = f"the body did not arrive within {self.read_timeout:g} s"
            raise Refused(error_body(408, "timeout", message)) from None

    async def _chunks(self, proto: HTTPProtocol, sender: str, scope: Scope) -> bytes:
        body = bytearray()
        async for chunk in proto:
            body += chunk
            if len(body) > self.limit:
                raise Refused(self._too_large(sender, scope))
        return bytes(body)

    def _too_large(self, sender: str, scope: Scope) -> Answer:
        """The 413 the WSGI route gives, counted as it counts it (received, then refused)."""
        if sender in self.services.metrics.received_from:
            self.services.metrics.received_from[sender].inc()
        where = f"{scope.method} {scope.path}"
        return errors.answer(
            RequestEntityTooLarge(), sender, self.limit, self.services.metrics, where
        )

    async def _deliver(self, route: tuple[str, Take], incoming: Read, path: str) -> Answer:
        sender, take = route
        found = self.services
        try:
            prepared = receive(found, sender, take, incoming)
            added = await self.intake.add_new(prepared.rows)
            return answered(found, sender, prepared.finish(added))
        except Exception as exc:  # every failure becomes a JSON answer
            return errors.answer(exc, sender, self.limit, found.metrics, f"POST {path}")

    def close(self) -> None:
        self.intake.close()
        self.pool.shutdown(wait=True)


def _reply(proto: HTTPProtocol, answer: Answer, *more: tuple[str, str]) -> None:
    headers = [("content-type", JSON_TYPE), *answer.headers, *more]
    proto.response_bytes(answer.status, headers, answer.body)


def _environ(scope: Scope, request: Read) -> Environ:
    """The WSGI environ of the request (PEP 3333), its body already read."""
    body = request.body()
    host, _, port = scope.server.rpartition(":")
    environ: Environ = {
        "REQUEST_METHOD": scope.method,
        "SCRIPT_NAME": "",
        # PEP 3333: the path's bytes as latin-1; granian gives it percent-decoded, as UTF-8.
        "PATH_INFO": scope.path.encode("utf-8", "surrogateescape").decode("latin-1"),
        "QUERY_STRING": scope.query_string,
        "SERVER_NAME": host,
        "SERVER_PORT": port,
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
        "REMOTE_ADDR": scope.client.rpartition(":")[0],
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in request.headers.items():  # a repeated name is joined already
        key = name.upper().replace("-", "_")
        if key == "CONTENT_LENGTH":
            continue
        key = key if key == "CONTENT_TYPE" else f"HTTP_{key}"
        # x-a and x_a: one key here, joined as a WSGI server joins them
        environ[key] = f"{environ[key]}, {value}" if key in environ else value
    return environ


def _call(wsgi: Callable[..., Iterable[bytes]], environ: Environ) -> tuple[int, Any, bytes]:
    """Run the Flask app on a request: (status, headers, body)."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [int(status.split(" ", 1)[0]), headers]
        return lambda data: None

    chunks = wsgi(environ, start_response)
    try:
        data = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return started[0], started[1], data


def create() -> RsgiApp:
    """The app as `serve --no-worker` builds it: the store, manifest and secrets from the
    environment; SKILLRELAY_READ_TIMEOUT (seconds) for bodies."""
    from webhooks import create_app

    return RsgiApp(
        create_app(), read_timeout=float(os.environ.get("SKILLRELAY_READ_TIMEOUT", READ_TIMEOUT))
    )
