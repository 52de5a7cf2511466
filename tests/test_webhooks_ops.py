"""/healthz, /readyz, /metrics and /openapi.json; generated requests never get a 5xx."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from prometheus_client.parser import text_string_to_metric_families

from plugin.manifest import Manifest
from plugin.store import Store
from plugin.store.engine import make_engine
from tests.test_webhooks_support import (
    LOGSTORE,
    automation,
    basic,
    fixture_bytes,
    make_app,
    manifest,
    signed,
    sqlite_store,
)

__all__ = ["manifest", "sqlite_store"]  # fixtures shared from the support module

DONE = fixture_bytes("cloud_issue_updated_status_done")


@pytest.fixture
def client(store: Store, manifest: Manifest) -> FlaskClient:
    return make_app(store, manifest).test_client()


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json) == (200, {"status": "ok"})


def test_readyz_when_all_is_well(client: FlaskClient, store: Store) -> None:
    store.outbox.enqueue("k1", "jira", "comment", {})
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "pending": 1, "in_flight": 0}


def test_readyz_fails_on_dead_letters(client: FlaskClient, store: Store) -> None:
    store.outbox.enqueue("k1", "jira", "comment", {})
    (item,) = store.outbox.list()
    store.outbox.mark_dead(item.id, "HTTP 400")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json is not None and response.json["error"] == "outbox_dead_letters"


def test_readyz_fails_when_the_outbox_is_stuck(client: FlaskClient, store: Store) -> None:
    store.outbox.enqueue("k1", "jira", "comment", {}, at=store.clock() - timedelta(seconds=901))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json is not None and response.json["error"] == "outbox_stuck"
    assert "worker" in response.json["message"]


def _new_event(store: Store, key: str, age: timedelta, status: str = "new") -> None:
    store.inbox.add("jira", "ticket", key, {"x": 1}, received_at=store.clock() - age)
    if status == "failed":
        [item] = [i for i in store.inbox.list(status="new") if i.natural_key == key]
        store.inbox.mark_failed(item.id, "unreadable ticket payload: ticket: Field required")


def test_readyz_fails_when_inbox_events_wait_undecided(client: FlaskClient, store: Store) -> None:
    _new_event(store, "fresh", timedelta(seconds=30))
    assert client.get("/readyz").status_code == 200
    _new_event(store, "old", timedelta(seconds=901))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json is not None and response.json["error"] == "inbox_stuck"
    assert "waits undecided for 901 s" in response.json["message"]
    assert "worker" in response.json["message"]


def test_readyz_fails_when_events_keep_failing(client: FlaskClient, store: Store) -> None:
    for n in range(9):
        _new_event(store, f"recent-{n}", timedelta(minutes=1), status="failed")
    for n in range(5):  # failures older than the window are history, not a trend
        _new_event(store, f"old-{n}", timedelta(hours=2), status="failed")
    assert client.get("/readyz").status_code == 200
    _new_event(store, "recent-9", timedelta(minutes=1), status="failed")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json is not None and response.json["error"] == "inbox_failing"
    assert response.json["message"].startswith("10 inbox events received in the last 900 s")


def test_failed_events_are_in_the_metrics_by_reason(client: FlaskClient, store: Store) -> None:
    _new_event(store, "a", timedelta(minutes=1), status="failed")
    _new_event(store, "b", timedelta(minutes=1), status="failed")
    [item] = store.inbox.list(status="failed", limit=1)
    store.inbox.mark_failed(
        item.id, "unreadable ticket payload: x: contains a NUL; it cannot be stored"
    )
    text = client.get("/metrics").data
    assert _value(text, "skillrelay_inbox_failed_events", reason="unreadable") == 1
    assert _value(text, "skillrelay_inbox_failed_events", reason="unstorable") == 1
    assert _value(text, "skillrelay_inbox_failed_events", reason="other") == 0


def test_readyz_threshold_is_configurable(store: Store, manifest: Manifest) -> None:
    store.outbox.enqueue("k1", "jira", "comment", {}, at=store.clock() - timedelta(seconds=901))
    client = make_app(store, manifest, OUTBOX_STUCK_SECONDS=3600).test_client()
    assert client.get("/readyz").status_code == 200


def test_readyz_fails_when_the_database_file_is_gone(
    tmp_path: Path, sqlite_template: Path, manifest: Manifest
) -> None:
    path = tmp_path / "gone.db"
    shutil.copyfile(sqlite_template, path)
    store = Store.open(f"sqlite:///{path}")
    client = make_app(store, manifest).test_client()
    assert client.get("/readyz").status_code == 200
    store.close()
    path.unlink()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json is not None and response.json["error"] == "store_unreachable"
    assert client.get("/healthz").status_code == 200  # the process itself is fine
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert _value(metrics.data, "skillrelay_store_up") == 0
    store.close()


def test_readyz_fails_when_the_server_is_unreachable(manifest: Manifest) -> None:
    store = Store(make_engine("postgresql://nobody@127.0.0.1:9/none?connect_timeout=2"))
    client = make_app(store, manifest).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json is not None and response.json["error"] == "store_unreachable"
    store.close()


def test_metrics_move(client: FlaskClient, store: Store) -> None:
    headers = signed(DONE, **{"X-Atlassian-Webhook-Identifier": "m-1"})
    client.post("/webhooks/jira", data=DONE, headers=headers)
    client.post("/webhooks/jira", data=DONE, headers=headers)
    client.post("/webhooks/jira", data=DONE, headers=automation("wrong"))
    client.post("/webhooks/jira", data=b"{", headers=signed(b"{"))
    unread = _unread_verb((LOGSTORE / "viewed.json").read_bytes())
    completed = (LOGSTORE / "completed.json").read_bytes()
    client.post("/webhooks/xapi", data=b"[" + unread + b"," + completed + b"]", headers=basic())
    store.outbox.enqueue("k1", "jira", "comment", {})
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.data
    assert _value(text, "skillrelay_webhook_received_total", sender="jira") == 4
    assert _value(text, "skillrelay_webhook_received_total", sender="xapi") == 1
    assert _value(text, "skillrelay_webhook_duplicates_total", sender="jira") == 1
    ignored = "skillrelay_webhook_ignored_total"
    assert _value(text, ignored, sender="xapi", reason="verb") == 1
    assert _value(text, "skillrelay_inbox_stored_events_total", source="jira") == 1
    assert _value(text, "skillrelay_inbox_stored_events_total", source="xapi") == 1
    rejected = "skillrelay_webhook_rejected_total"
    assert _value(text, rejected, sender="jira", reason="bad_token") == 1
    assert _value(text, rejected, sender="jira", reason="bad_json") == 1
    assert _value(text, "skillrelay_outbox_backlog", status="pending") == 1
    assert _value(text, "skillrelay_outbox_dead") == 0
    # 2 events; the delivery with an event needs no marker row
    assert _value(text, "skillrelay_inbox_events", status="new") == 2
    assert _value(text, "skillrelay_store_up") == 1
    latency = "skillrelay_http_request_duration_seconds_count"
    assert _value(text, latency, endpoint="/webhooks/jira") == 4


def test_ignored_deliveries_are_counted_by_reason(client: FlaskClient) -> None:
    other = DONE.replace(b"ACME", b"HR")  # a project the manifest does not list
    client.post("/webhooks/jira", data=other, headers=signed(other))
    comment = json.dumps({**json.loads(DONE), "webhookEvent": "comment_created"}).encode()
    client.post("/webhooks/jira", data=comment, headers=signed(comment))
    text = client.get("/metrics").data
    ignored = "skillrelay_webhook_ignored_total"
    assert _value(text, ignored, sender="jira", reason="project") == 1
    assert _value(text, ignored, sender="jira", reason="event") == 1
    # the series exists from the start, at 0, for rate() to read
    assert _value(text, "skillrelay_inbox_stored_events_total", source="jira") == 0


def test_each_app_has_its_own_registry(store: Store, manifest: Manifest) -> None:
    first, second = make_app(store, manifest), make_app(store, manifest)
    first.test_client().post("/webhooks/jira", data=DONE, headers=signed(DONE))
    scraped = second.test_client().get("/metrics").data
    assert _value(scraped, "skillrelay_webhook_received_total", sender="jira") == 0
    mine = first.test_client().get("/metrics").data
    assert _value(mine, "skillrelay_webhook_received_total", sender="jira") == 1


def test_openapi_document_is_valid(client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json
    assert document is not None
    validate(document)
    assert set(document["paths"]) == {
        "/webhooks/jira",
        "/webhooks/xapi",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    }
    assert document["components"]["securitySchemes"]["automationToken"]["name"] == (
        "X-Skillrelay-Token"
    )


def test_openapi_says_what_the_app_does(client: FlaskClient) -> None:
    document = client.get("/openapi.json").json
    assert document is not None
    xapi = document["paths"]["/webhooks/xapi"]["post"]
    jira = document["paths"]["/webhooks/jira"]["post"]
    # Who retries a 503 depends on who sent the request.
    assert "Jira" in jira["responses"]["503"]["description"]
    assert "Jira" not in xapi["responses"]["503"]["description"]
    assert "LRS" in xapi["responses"]["503"]["description"]
    # The xAPI receiver's credentials are its own inbound forward secret, in either scheme.
    schemes = document["components"]["securitySchemes"]
    for name in ("forwardBasic", "forwardBearer"):
        assert {name: []} in xapi["security"]
        assert "forward secret" in schemes[name]["description"]
    assert "WWW-Authenticate" in xapi["responses"]["401"]["headers"]
    # The answers the app gives are the ones documented.
    accepted = document["components"]["schemas"]["Accepted"]
    statement = (LOGSTORE / "completed.json").read_bytes()
    unread = _unread_verb((LOGSTORE / "viewed.json").read_bytes())
    answers = [
        client.post("/webhooks/xapi", data=statement, headers=basic()),
        client.post("/webhooks/xapi", data=statement, headers=basic()),
        client.post("/webhooks/xapi", data=unread, headers=basic()),
    ]
    assert [a.json["status"] for a in answers if a.json] == ["stored", "duplicate", "ignored"]
    for answer in answers:
        jsonschema.validate(answer.json, accepted)
    refused = client.post("/webhooks/xapi", data=statement, headers=basic(password="nope"))
    assert refused.status_code == 401 and refused.headers.getlist("WWW-Authenticate")


def _unread_verb(statement: bytes) -> bytes:
    """The statement with a verb skillrelay reads nothing from ("viewed" is progress)."""
    viewed = b"http://id.tincanapi.com/verb/viewed"
    assert viewed in statement
    return statement.replace(viewed, b"http://id.tincanapi.com/verb/bookmarked")


def _value(text: bytes, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


# -- schemathesis: generated requests against the OpenAPI document, in unsigned demo mode -----


@pytest.fixture(scope="module")
def unsigned_app(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, manifest: Manifest
) -> Iterator[Flask]:
    path = tmp_path_factory.mktemp("schemathesis") / "store.db"
    shutil.copyfile(sqlite_template, path)
    with Store.open(f"sqlite:///{path}") as store:
        # Unsigned, so generated bodies reach the parsers instead of stopping at a 401.
        yield make_app(store, manifest, env={"_": "_"}, ALLOW_UNSIGNED=True)


@pytest.fixture(scope="module")
def api_schema(unsigned_app: Flask) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_wsgi("/openapi.json", unsigned_app)


# Driven through `as_strategy` rather than schemathesis' pytest plugin: its lazy
# `from_fixture` loader reads a pytest-internal attribute that pytest 9 no longer has.
def test_generated_requests_never_get_a_5xx(api_schema: schemathesis.BaseSchema) -> None:
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    cases = st.one_of([api_schema.as_strategy(mode) for mode in modes])
    seen: set[tuple[str, int]] = set()

    @given(case=cases)
    @settings(
        max_examples=120,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case[Any]) -> None:
        response = case.call()
        seen.add((case.path, response.status_code))
        assert response.status_code < 500, (case.method, case.path, response.status_code)

    check()
    paths = {path for path, _ in seen}
    assert {"/webhooks/jira", "/webhooks/xapi"} <= paths
    assert {status for _, status in seen} & {200, 400}
