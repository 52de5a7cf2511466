"""The two webhook routes served natively on granian's RSGI interface, for bench_ingest: a
prototype measured to choose the server, not shipped (README, "Facing the internet").

Each delivery runs the steps `serve` runs (`take`, `answered`, the JSON errors) on the event
loop; only the commit leaves it: `AsyncGroupCommit` writes what the requests queued
meanwhile in one transaction, in a thread of its own, and the loop wakes them. The body
is read under a deadline once its Content-Length is within the limit, so a slow or
oversized body holds no thread. Anything but POST to the two routes answers 404: the
benchmark sends deliveries only. The store, manifest and secrets come from the environment.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

from plugin.store.group_commit import AsyncGroupCommit
from plugin.store.intake import Encoded
from webhooks import create_app, errors, jira, xapi
from webhooks.direct import http_date
from webhooks.incoming import JSON_TYPE, Incoming
from webhooks.intake import Take, answered
from webhooks.services import EXTENSION, Services

BODY_SECONDS = 10.0  # serve's --read-timeout
ROUTES: dict[str, tuple[str, Take]] = {
    "/webhooks/jira": ("jira", jira.take),
    "/webhooks/xapi": ("xapi", xapi.take),
}

flask_app = create_app()
services: Services = flask_app.extensions[EXTENSION]
LIMIT: int = flask_app.config["MAX_CONTENT_LENGTH"]

# Started on the first delivery, on granian's event loop.
intake: AsyncGroupCommit[Encoded] = AsyncGroupCommit(services.store.inbox_writer.write)


def reply(proto: Any, status: int, body: bytes, *more: tuple[str, str]) -> None:
    headers = [("content-type", JSON_TYPE), ("date", http_date()), *more]
    proto.response_bytes(status, headers, body)


async def app(scope: Any, proto: Any) -> None:
    route = ROUTES.get(scope.path)
    if route is None or scope.method != "POST":
        reply(proto, 404, b'{"error":"not_found"}')
        return
    length = scope.headers.get("content-length")
    if length is None or not length.isdigit():  # deliveries have one (chunked: not here)
        reply(proto, 411, b'{"error":"length_required"}', ("connection", "close"))
        return
    if int(length) > LIMIT:
        reply(proto, 413, b'{"error":"too_large"}', ("connection", "close"))
        return
    try:
        async with asyncio.timeout(BODY_SECONDS):
            body = await proto()
    except TimeoutError:
        reply(proto, 408, b'{"error":"timeout"}', ("connection", "close"))
        return
    environ = {"CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
    for name, value in scope.headers.items():
        key = name.upper().replace("-", "_")
        if key != "CONTENT_LENGTH":
            environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    sender, take = route
    try:
        services.metrics.received_from[sender].inc()
        prepared = take(services, Incoming(environ, LIMIT))
        added = await intake.add_new(prepared.rows)
        found = answered(services, sender, prepared.finish(added))
    except Exception as exc:  # every failure becomes a JSON answer, as in serve
        found = errors.answer(exc, sender, LIMIT, services.metrics, f"POST {scope.path}")
    reply(proto, found.status, found.body, *found.headers)
