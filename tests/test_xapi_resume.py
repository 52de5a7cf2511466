"""No completion lost against a real Ralph: a pull cut off by 503s, then resumed; a batch
stored late with old timestamps. Every test ends with every completion in the inbox."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.http import RetryPolicy
from connectors.xapi import LrsClient, XapiSource, agent, statement_id
from connectors.xapi_cursor import SourceCursor, read_source_cursor
from connectors.xapi_source import STREAM
from plugin.store import Store
from plugin.sync import sync_source
from tests.peers.ralph import RalphServer

pytestmark = pytest.mark.ralph

SITE = "https://moodle.example.org"
MODULES = {f"{SITE}/mod/page/view.php?id={n}": f"module-{n}" for n in range(1, 6)}
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
# What the composition root passes by default (manifest: since_compares auto, 24 h, 60 min).
SCHEDULE: dict[str, Any] = {
    "since_compares": "auto",
    "reread_window": timedelta(hours=24),
    "reread_every": timedelta(minutes=60),
}


def completion(n: int, at: datetime, tag: str = "") -> dict[str, Any]:
    return {
        "id": statement_id(f"resume:{tag}{n}"),
        "actor": agent(f"account:{SITE}|{100 + n % 37}", f"Learner {n % 37}"),
        "verb": {"id": COMPLETED, "display": {"en": "completed"}},
        "object": {
            "objectType": "Activity",
            "id": f"{SITE}/mod/page/view.php?id={1 + n % 5}",
            "definition": {"name": {"en": "A module"}},
        },
        "result": {"completion": True},
        "timestamp": at.isoformat(),
    }


class Handler(BaseHTTPRequestHandler):
    server: FailingProxy

    def do_GET(self) -> None:
        self.forward("GET")

    def do_POST(self) -> None:
        self.forward("POST")

    def forward(self, method: str) -> None:
        proxy = self.server
        if method == "GET" and self.path.startswith("/xAPI/statements"):
            with proxy.lock:
                proxy.reads += 1
                failing = proxy.fail_after is not None and proxy.reads > proxy.fail_after
            if failing:
                self.answer(503, b'{"detail": "Service Unavailable"}', {})
                return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
        }
        upstream = requests.request(
            method, proxy.upstream + self.path, data=body, headers=headers, timeout=30
        )
        kept = {
            k: v
            for k, v in upstream.headers.items()
            if k.lower() not in ("content-length", "transfer-encoding", "connection")
        }
        self.answer(upstream.status_code, upstream.content, kept)

    def answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FailingProxy(ThreadingHTTPServer):
    """A plain HTTP proxy to Ralph on 127.0.0.1 that answers 503 to every statement read
    after the first `fail_after` (None: never)."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.upstream = upstream
        self.lock = threading.Lock()
        self.reads = 0
        self.fail_after: int | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/xAPI/"


@pytest.fixture
def proxy(ralph_lrs: RalphServer) -> Iterator[FailingProxy]:
    server = FailingProxy(ralph_lrs.root)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def sqlite_store(sqlite_template: Path, tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "store.db"
    path.write_bytes(sqlite_template.read_bytes())
    with Store.open(f"sqlite:///{path}") as opened:
        yield opened


def inbox_keys(store: Store) -> set[str]:
    return {item.natural_key for item in store.inbox.list(source="xapi", limit=10_000)}


def cursor(store: Store) -> SourceCursor:
    return read_source_cursor(store.cursors.get("xapi", STREAM))


def test_a_pull_cut_off_by_503s_and_resumed_loses_nothing(
    ralph_lrs: RalphServer, proxy: FailingProxy, sqlite_store: Store
) -> None:
    # Logstore's queue sends out of time order: insertion order is not timestamp order.
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=4)
    statements = [completion(n, base + timedelta(seconds=10 * n)) for n in range(758)]
    random.Random(15).shuffle(statements)
    LrsClient(ralph_lrs.endpoint, auth=ralph_lrs.auth).send_statements(statements)
    lrs = LrsClient(proxy.endpoint, auth=ralph_lrs.auth, policy=RetryPolicy(attempts=1))
    source = XapiSource(lrs, MODULES, **SCHEDULE)
    now = datetime.now(UTC)

    proxy.fail_after = 5  # Ralph pages 100 statements: 8 pages in all
    cut = sync_source(source, sqlite_store, now)
    assert cut.stopped is not None and "503" in cut.stopped
    assert 0 < len(inbox_keys(sqlite_store)) < 758
    assert sqlite_store.cursors.get("xapi", STREAM) is None  # nothing skipped: read it again

    proxy.fail_after = None
    resumed = sync_source(source, sqlite_store, now + timedelta(minutes=5))

    assert resumed.ok
    assert inbox_keys(sqlite_store) == {s["id"] for s in statements}


def test_a_pull_cut_off_after_an_earlier_cursor_loses_nothing(
    ralph_lrs: RalphServer, proxy: FailingProxy, sqlite_store: Store
) -> None:
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=4)
    lrs = LrsClient(proxy.endpoint, auth=ralph_lrs.auth, policy=RetryPolicy(attempts=1))
    first = [completion(n, base + timedelta(seconds=n)) for n in range(50)]
    lrs.send_statements(first)
    now = datetime.now(UTC)
    source = XapiSource(lrs, MODULES, **SCHEDULE)
    assert sync_source(source, sqlite_store, now).ok
    newer = [completion(n, base + timedelta(hours=1, seconds=n), "newer") for n in range(600)]
    random.Random(3).shuffle(newer)
    lrs.send_statements(newer)

    before = sqlite_store.cursors.get("xapi", STREAM)
    proxy.reads, proxy.fail_after = 0, 3
    assert not sync_source(source, sqlite_store, now + timedelta(minutes=5)).ok
    assert sqlite_store.cursors.get("xapi", STREAM) == before
    proxy.fail_after = None
    assert sync_source(source, sqlite_store, now + timedelta(minutes=10)).ok

    assert inbox_keys(sqlite_store) == {s["id"] for s in first + newer}


def test_a_batch_stored_late_with_old_timestamps_is_read_by_the_trailing_window(
    ralph_lrs: RalphServer, sqlite_store: Store
) -> None:
    lrs = LrsClient(ralph_lrs.endpoint, auth=ralph_lrs.auth)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    early = [completion(n, base + timedelta(minutes=n)) for n in range(150)]  # to base+149m
    lrs.send_statements(early)
    source = XapiSource(lrs, MODULES, **SCHEDULE)
    now = datetime.now(UTC)
    assert sync_source(source, sqlite_store, now).ok
    newest = base + timedelta(minutes=149)
    assert cursor(sqlite_store).at == newest

    # Logstore retries its queue: timestamps 2 hours older than the cursor, stored now.
    late = [completion(n, newest - timedelta(hours=2, seconds=n), "late") for n in range(40)]
    lrs.send_statements(late)

    assert sync_source(source, sqlite_store, now + timedelta(minutes=5)).ok
    assert inbox_keys(sqlite_store) == {s["id"] for s in early}  # not yet: the window is due
    assert sync_source(source, sqlite_store, now + timedelta(minutes=61)).ok

    assert inbox_keys(sqlite_store) == {s["id"] for s in early + late}


def test_ralph_is_found_to_compare_since_with_the_timestamp(
    ralph_lrs: RalphServer, sqlite_store: Store
) -> None:
    lrs = LrsClient(ralph_lrs.endpoint, auth=ralph_lrs.auth)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    lrs.send_statements([completion(n, base + timedelta(minutes=n)) for n in range(3)])
    source = XapiSource(lrs, MODULES, **SCHEDULE)
    assert sync_source(source, sqlite_store, datetime.now(UTC)).ok
    assert cursor(sqlite_store).lrs == "timestamp"
