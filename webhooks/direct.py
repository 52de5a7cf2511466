"""POST /webhooks/jira and /webhooks/xapi served straight from WSGI, in front of Flask.

Every delivery comes through these two routes, so they skip Flask's request context,
routing and hooks: under load those were about a quarter of a delivery's CPU
(BENCHMARKS.md, ingest). Everything else, other methods on these two paths included, goes
to the Flask app. The answers are the same as the Flask views': the same steps
(webhooks.jira.take, webhooks.xapi.take), the same JSON errors and metrics
(webhooks.errors.answer), the body limit before reading (MAX_CONTENT_LENGTH, read per
request as Flask reads it); tests/test_webhooks_direct.py holds the two paths together.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

from flask import Flask
from prometheus_client.metrics import Histogram

from webhooks import errors, jira, xapi
from webhooks.incoming import JSON_TYPE, Incoming
from webhooks.intake import Take, respond
from webhooks.services import Services

# The two webhook routes: path -> (sender, its take). The WSGI route and the RSGI app serve these.
WEBHOOKS: dict[str, tuple[str, Take]] = {
    "/webhooks/jira": ("jira", jira.take),
    "/webhooks/xapi": ("xapi", xapi.take),
}
StartResponse = Callable[..., Any]
Wsgi = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
STATUS = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}
_date = (0, "")  # (second, its HTTP date): formatted once a second, not per answer


def http_date() -> str:
    """The Date header (RFC 9110), which the server would otherwise format per answer."""
    global _date  # replaced whole, never changed in place: safe across request threads
    second = int(time.time())
    if _date[0] != second:
        _date = (second, formatdate(second, usegmt=True))
    return _date[1]


@dataclass(frozen=True)
class Route:
    sender: str
    take: Take
    latency: Histogram  # the endpoint's child, bound once


class DirectRoutes:
    """The WSGI app in front of `flask_app` (installed as its `wsgi_app`)."""

    def __init__(self, flask_app: Flask, services: Services, inner: Wsgi) -> None:
        self.config = flask_app.config
        self.services = services
        self.inner = inner
        latency = services.metrics.latency
        self.routes = {
            path: Route(sender, take, latency.labels(path))
            for path, (sender, take) in WEBHOOKS.items()
        }

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        route = self.routes.get(environ.get("PATH_INFO", ""))
        if route is None or environ.get("REQUEST_METHOD") != "POST":
            return self.inner(environ, start_response)
        started = time.perf_counter()
        limit = self.config["MAX_CONTENT_LENGTH"]
        try:
            found = respond(self.services, route.sender, route.take, Incoming(environ, limit))
        except Exception as exc:  # every failure becomes a JSON answer
            where = f"POST {environ.get('PATH_INFO')}"
            found = errors.answer(exc, route.sender, limit, self.services.metrics, where)
        headers = [
            ("Content-Type", JSON_TYPE),
            ("Content-Length", str(len(found.body))),
            ("Date", http_date()),
            *found.headers,
        ]
        start_response(STATUS[found.status], headers)
        route.latency.observe(time.perf_counter() - started)
        return [found.body]
