"""The two webhook routes served in front of Flask (webhooks.direct) answer, count and store
exactly as the Flask views do, and skip Flask only for what they serve."""

from __future__ import annotations

import io
import logging
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, request_started
from sqlalchemy import text as sql_text
from werkzeug.test import Client, EnvironBuilder

from plugin.manifest import Manifest
from plugin.store import Store
from tests.test_webhooks_app import BAD_INPUT, DONE, STATEMENT
from tests.test_webhooks_support import (
    JSON_TYPE,
    automation,
    bearer,
    fixture_bytes,
    make_app,
    manifest,
    signed,
)
from webhooks.direct import DirectRoutes
from webhooks.services import EXTENSION, Services

__all__ = ["manifest"]

OTHER_PROJECT = DONE.replace(b"ACME", b"HR")
AUTOMATION = fixture_bytes("automation_format")
ARRAY = b"[" + STATEMENT + b"]"

# Requests that store, repeat, or are ignored: each pair of apps sees them in this order.
GOOD: list[tuple[str, str, bytes, Mapping[str, str]]] = [
    ("stored", "/webhooks/jira", DONE, signed(DONE, **{"X-Atlassian-Webhook-Identifier": "d-1"})),
    ("retried", "/webhooks/jira", DONE, signed(DONE, **{"X-Atlassian-Webhook-Identifier": "d-1"})),
    ("other-project", "/webhooks/jira", OTHER_PROJECT,
     signed(OTHER_PROJECT, **{"X-Atlassian-Webhook-Identifier": "d-2"})),
    ("automation", "/webhooks/jira", AUTOMATION, automation()),
    ("statement", "/webhooks/xapi", STATEMENT, bearer()),
    ("statement-again", "/webhooks/xapi", ARRAY, bearer()),
    ("json-with-charset", "/webhooks/xapi", STATEMENT,
     {**bearer(), "Content-Type": "Application/JSON; charset=utf-8"}),
]  # fmt: skip
REQUESTS = [(name, "POST", path, data, headers) for name, path, data, headers in GOOD] + [
    (name, method, path, data, headers) for name, method, path, data, headers, *_ in BAD_INPUT
]


def _store(folder: Path, template: Path, name: str) -> Store:
    shutil.copyfile(template, folder / f"{name}.db")
    return Store.open(f"sqlite:///{folder / name}.db")


@pytest.fixture
def stores(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[Store, Store]]:
    direct, flask = _store(tmp_path, sqlite_template, "a"), _store(tmp_path, sqlite_template, "b")
    with direct, flask:
        yield direct, flask


def _flask_only(app: Flask) -> Client:
    """A client of the app's Flask views alone, without the routes in front of them."""
    routes = app.wsgi_app
    assert isinstance(routes, DirectRoutes)
    return Client(routes.inner, Response)


def _answer(response: Any) -> tuple[int, Any, str, list[str], list[str]]:
    headers = response.headers
    return (
        response.status_code,
        response.get_json(silent=True),
        headers.get("Content-Type"),
        headers.getlist("WWW-Authenticate"),
        headers.getlist("Allow"),
    )


def _metrics(app: Flask) -> list[str]:
    """The exposition less what differs by timing (the latency histogram's sums and buckets)."""
    text = app.test_client().get("/metrics").get_data(as_text=True)
    timed = re.compile(r"^skillrelay_http_request_duration_seconds_(sum|bucket|created)")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return [line for line in lines if not timed.match(line) and "_created" not in line]


def _inbox(store: Store) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sql_text("SELECT source, kind, natural_key, payload, raw FROM inbox ORDER BY id")
        )
        return [tuple(row) for row in rows]


def test_both_paths_answer_count_and_store_the_same(
    stores: tuple[Store, Store], manifest: Manifest
) -> None:
    direct_app, flask_app = make_app(stores[0], manifest), make_app(stores[1], manifest)
    direct, flask = direct_app.test_client(), _flask_only(flask_app)
    for name, method, path, data, headers in REQUESTS:
        ours = direct.open(path, method=method, data=data, headers=dict(headers))
        theirs = flask.open(path, method=method, data=data, headers=dict(headers))
        assert _answer(ours) == _answer(theirs), name
    assert _metrics(direct_app) == _metrics(flask_app)
    stored = _inbox(stores[0])
    assert stored == _inbox(stores[1])
    assert len(stored) == 4  # the Jira change, the automation's, the statement, a marker


def test_the_webhook_routes_skip_flask_and_the_rest_do_not(
    stores: tuple[Store, Store], manifest: Manifest
) -> None:
    app = make_app(stores[0], manifest)
    seen: list[str] = []

    def started(sender: Flask, **extra: Any) -> None:
        from flask import request

        seen.append(f"{request.method} {request.path}")

    client = app.test_client()
    with request_started.connected_to(started, app):
        assert client.post("/webhooks/jira", data=DONE, headers=signed(DONE)).status_code == 200
        assert client.post("/webhooks/xapi", data=STATEMENT, headers=bearer()).status_code == 200
        assert client.get("/webhooks/jira").status_code == 405
        assert client.get("/healthz").status_code == 200
    assert seen == ["GET /webhooks/jira", "GET /healthz"]


def test_a_new_event_runs_the_stored_hooks_once(
    stores: tuple[Store, Store], manifest: Manifest
) -> None:
    app = make_app(stores[0], manifest)
    found = app.extensions[EXTENSION]
    assert isinstance(found, Services)
    calls: list[str] = []
    found.on_stored.append(lambda: calls.append("woken"))
    client = app.test_client()
    client.post("/webhooks/jira", data=DONE, headers=signed(DONE))
    client.post("/webhooks/jira", data=DONE, headers=signed(DONE))  # a duplicate
    client.post("/webhooks/jira", data=DONE, headers=signed(DONE, secret="wrong"))
    client.post("/webhooks/jira", data=OTHER_PROJECT, headers=signed(OTHER_PROJECT))  # ignored
    assert calls == ["woken"]
    client.post("/webhooks/xapi", data=STATEMENT, headers=bearer())
    assert calls == ["woken", "woken"]


def _call(app: Flask, environ: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    answered: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
        answered.extend([status, dict(headers)])

    body = b"".join(app.wsgi_app(environ, start_response))
    return answered[0], answered[1], body


def _streamed(body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """The environ of a body the server has de-chunked: no Content-Length, its end marked."""
    environ = EnvironBuilder("/webhooks/jira", method="POST", headers=dict(headers)).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["wsgi.input_terminated"] = True
    return environ


def test_a_body_without_a_length_is_read_within_the_limit(
    stores: tuple[Store, Store], manifest: Manifest
) -> None:
    app = make_app(stores[0], manifest, MAX_CONTENT_LENGTH=len(DONE))
    status, headers, body = _call(app, _streamed(DONE, signed(DONE)))
    assert status == "200 OK"
    assert headers["Content-Type"] == JSON_TYPE
    assert headers["Content-Length"] == str(len(body))
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", headers["Date"])
    longer = DONE + b" "
    status, _, body = _call(app, _streamed(longer, signed(longer)))
    assert status == "413 Request Entity Too Large"
    assert b"too_large" in body and str(len(DONE)).encode() in body


def test_a_bug_on_the_direct_route_is_logged_and_a_json_500(
    stores: tuple[Store, Store],
    manifest: Manifest,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr("webhooks.jira.parse_jira_webhook", broken)
    client = make_app(stores[0], manifest).test_client()
    with caplog.at_level(logging.ERROR, logger="skillrelay.webhooks"):
        response = client.post("/webhooks/jira", data=DONE, headers=signed(DONE))
    assert response.status_code == 500
    assert response.json == {"error": "internal_error", "message": "unexpected error"}
    assert "unexpected error in POST /webhooks/jira" in caplog.text
    assert "secret detail" in caplog.text  # the traceback is in the log, not the answer
