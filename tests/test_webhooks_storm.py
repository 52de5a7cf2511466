"""A retry storm against a real threaded server: one delivery posted 5 times at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from werkzeug.serving import make_server

from plugin.manifest import Manifest
from plugin.store import Store
from tests.test_webhooks_support import (
    LOGSTORE,
    basic,
    fixture_bytes,
    make_app,
    manifest,
    signed,
)

__all__ = ["manifest"]  # fixture shared from the support module

SENDERS = 5


@pytest.fixture
def server(store: Store, manifest: Manifest) -> Iterator[str]:
    app = make_app(store, manifest)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
        httpd.server_close()


def storm(url: str, body: bytes, headers: dict[str, str]) -> list[requests.Response]:
    start = threading.Barrier(SENDERS)

    def send(_: int) -> requests.Response:
        with requests.Session() as session:
            start.wait(timeout=10)
            return session.post(url, data=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(SENDERS) as pool:
        return list(pool.map(send, range(SENDERS)))


def test_the_same_jira_delivery_five_times_at_once_is_stored_once(
    server: str, store: Store
) -> None:
    body = fixture_bytes("cloud_issue_updated_status_done")
    headers = signed(body, **{"X-Atlassian-Webhook-Identifier": "storm-1"})
    responses = storm(f"{server}/webhooks/jira", body, headers)
    assert [r.status_code for r in responses] == [200] * SENDERS
    statuses = sorted(r.json()["status"] for r in responses)
    assert statuses == ["duplicate"] * (SENDERS - 1) + ["stored"]
    keys = sorted(i.natural_key for i in store.inbox.list())
    assert keys == ["jira:99291:10124"]


def test_the_same_statement_five_times_at_once_is_stored_once(server: str, store: Store) -> None:
    body = (LOGSTORE / "completed.json").read_bytes()
    responses = storm(f"{server}/webhooks/xapi", body, basic())
    assert [r.status_code for r in responses] == [200] * SENDERS
    assert sum(r.json()["events"] for r in responses) == 1
    assert len(store.inbox.list()) == 1
