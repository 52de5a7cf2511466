"""What can never be stored or decided is refused at the door with a JSON 400 naming the field,
never a 5xx that Jira would retry forever (#10). On SQLite and on PostgreSQL."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from plugin.manifest import Manifest
from plugin.store import Store
from tests.test_webhooks_support import (
    LOGSTORE,
    automation,
    bearer,
    fixture_json,
    make_app,
    manifest,
    signed,
)

__all__ = ["manifest"]  # fixture shared from the support module

DONE = fixture_json("cloud_issue_updated_status_done")
AUTOMATION = fixture_json("automation_format")
STATEMENT = json.loads((LOGSTORE / "completed.json").read_text())
MARK = "MARKER-5c1d"  # replaced in the encoded body by raw bytes or a bare token


def changed(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    copied = copy.deepcopy(body)
    *parents, last = path.split(".")
    target: Any = copied
    for name in parents:
        target = target[int(name)] if isinstance(target, list) else target[name]
    target[last] = value
    return copied


def encoded(body: dict[str, Any], raw: bytes | None = None) -> bytes:
    data = json.dumps(body).encode()
    return data if raw is None else data.replace(f'"{MARK}"'.encode(), raw)


def deep(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels - 1):
        value = [value]
    return value


# (body, code, the start of the message: the field it names)
JIRA: dict[str, tuple[bytes, str, str | tuple[str, ...]]] = {
    "lone surrogate, escaped": (
        encoded(changed(DONE, "issue.fields.summary", "x\ud800")),
        "unstorable",
        "issue.fields.summary: contains a lone UTF-16 surrogate",
    ),
    "lone surrogate in issue.id": (
        encoded(changed(DONE, "issue.id", "1\ud800")),
        "unstorable",
        "issue.id: contains a lone UTF-16 surrogate",
    ),
    "lone surrogate in changelog.id": (
        encoded(changed(DONE, "changelog.id", "\udfff")),
        "unstorable",
        "changelog.id: contains a lone UTF-16 surrogate",
    ),
    "lone surrogate in a key": (
        encoded(changed(DONE, "issue.fields.status.\udc00", 1)),
        "unstorable",
        "issue.fields.status: a key contains a lone UTF-16 surrogate",
    ),
    "lone surrogate, raw bytes ED A0 80": (
        encoded(changed(DONE, "issue.fields.summary", MARK), b'"x\xed\xa0\x80"'),
        "bad_json",
        "body: not valid JSON (not UTF-8",
    ),
    "NUL, escaped": (
        encoded(changed(DONE, "issue.fields.description", "a\x00b")),
        "unstorable",
        "issue.fields.description: contains a NUL character",
    ),
    "NUL in a list": (
        encoded(changed(DONE, "issue.fields.labels", ["ok", "\x00"])),
        "unstorable",
        "issue.fields.labels[1]: contains a NUL character",
    ),
    "1e999": (
        encoded(changed(DONE, "issue.fields.customfield_1", MARK), b"1e999"),
        "unstorable",
        "issue.fields.customfield_1: 1e999 is not a finite number",
    ),
    "-1e999 in the timestamp": (
        encoded(changed(DONE, "timestamp", MARK), b"-1e999"),
        "unstorable",
        "timestamp: -1e999 is not a finite number",
    ),
    "NaN": (
        encoded(changed(DONE, "issue.fields.x", MARK), b"NaN"),
        "bad_json",
        "body: not valid JSON (NaN is not JSON)",
    ),
    "Infinity": (
        encoded(changed(DONE, "issue.fields.x", MARK), b"Infinity"),
        "bad_json",
        "body: not valid JSON (Infinity is not JSON)",
    ),
    "65 levels": (
        encoded(changed(DONE, "issue.fields.x", deep(63))),
        "too_deep",
        "issue.fields.x[0][0][0]",
    ),
    "976 levels": (
        b'{"webhookEvent": "jira:issue_updated", "a": ' + b"[" * 975 + b"]" * 975 + b"}",
        "too_deep",
        ("a[0][0]", "body: nested deeper than 64"),  # named if the parser got there
    ),
    "50,000 levels": (b"[" * 50_000 + b"]" * 50_000, "too_deep", "body: nested deeper than 64"),
    "an issue id no index can hold": (
        encoded(changed(DONE, "issue.id", "1" * 3000)),
        "bad_payload",
        "issue.id: longer than 255 characters",
    ),
    "an integer issue id no index can hold": (
        encoded(changed(DONE, "issue.id", 10**299)),
        "bad_payload",
        "issue.id: longer than 255 characters",
    ),
    "an integer changelog id no index can hold": (
        encoded(changed(DONE, "changelog.id", 10**299)),
        "bad_payload",
        "changelog.id: longer than 255 characters",
    ),
    "an account id no index can hold": (
        encoded(changed(DONE, "issue.fields.assignee.accountId", "a" * 3000)),
        "bad_payload",
        "issue.fields.assignee.accountId: longer than 255 characters",
    ),
}


@pytest.fixture
def client(store: Store, manifest: Manifest) -> FlaskClient:
    return make_app(store, manifest).test_client()


def refused(
    client: FlaskClient, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, str, str]:
    response = client.post(path, data=body, headers=headers)
    answer = response.json
    assert isinstance(answer, dict), response.data[:200]
    return response.status_code, answer["error"], answer["message"]


@pytest.mark.parametrize("case", sorted(JIRA), ids=sorted(JIRA))
def test_jira_webhooks_the_store_cannot_hold_are_refused(
    client: FlaskClient, store: Store, case: str
) -> None:
    body, code, message = JIRA[case]
    status, error, text = refused(client, "/webhooks/jira", body, signed(body))
    assert (status, error) == (400, code), text
    assert text.startswith(message), text
    assert store.inbox.count_by_status()["new"] == 0


AUTOMATION_CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    "surrogate in the body hashed for its key": (
        changed(AUTOMATION, "fields.summary", "x\ud800"),
        "unstorable",
        "fields.summary: contains a lone UTF-16 surrogate",
    ),
    "NUL in the issue key": (
        changed(AUTOMATION, "key", "ACME-\x00"),
        "unstorable",
        "key: contains a NUL character",
    ),
}


@pytest.mark.parametrize("case", sorted(AUTOMATION_CASES), ids=sorted(AUTOMATION_CASES))
def test_automation_bodies_the_store_cannot_hold_are_refused(
    client: FlaskClient, store: Store, case: str
) -> None:
    body, code, message = AUTOMATION_CASES[case]
    status, error, text = refused(client, "/webhooks/jira", encoded(body), automation())
    assert (status, error) == (400, code), text
    assert text.startswith(message), text


XAPI: dict[str, tuple[bytes, str, str]] = {
    "surrogate in the actor": (
        encoded(changed(STATEMENT, "actor.account.name", "\ud83d")),
        "unstorable",
        "actor.account.name: contains a lone UTF-16 surrogate",
    ),
    "NUL in the statement id": (
        encoded(changed(STATEMENT, "id", "6b3c\x00")),
        "unstorable",
        "id: contains a NUL character",
    ),
    "1e999 in the score": (
        encoded(changed(STATEMENT, "result.score", MARK), b'{"scaled": 1e999}'),
        "unstorable",
        "result.score.scaled: 1e999 is not a finite number",
    ),
    "in the second statement of an array": (
        encoded({"list": [STATEMENT, changed(STATEMENT, "context.platform", "\x00")]}).replace(
            b'{"list": ', b""
        )[:-1],
        "unstorable",
        "[1].context.platform: contains a NUL character",
    ),
    "a statement id no index can hold": (
        encoded(changed(STATEMENT, "id", "6" * 3000)),
        "bad_payload",
        "statement.id: longer than 255 characters",
    ),
}


@pytest.mark.parametrize("case", sorted(XAPI), ids=sorted(XAPI))
def test_statements_the_store_cannot_hold_are_refused(
    client: FlaskClient, store: Store, case: str
) -> None:
    body, code, message = XAPI[case]
    status, error, text = refused(client, "/webhooks/xapi", body, bearer())
    assert (status, error) == (400, code), text
    assert text.startswith(message), text
    assert store.inbox.count_by_status()["new"] == 0


def test_valid_text_beside_the_hostile_kinds_is_kept(client: FlaskClient, store: Store) -> None:
    # Surrogate pairs (escaped emoji), a backslash before "u0000", huge but finite numbers and
    # 64 levels are all storable: only what cannot be stored is refused.
    body = changed(DONE, "issue.fields.summary", "Ship it 😀 \\u0000 \\ud800")
    body = changed(body, "issue.fields.customfield_2", [1e308, -1e-320, 10**40])
    body = changed(body, "issue.fields.customfield_3", deep(60))
    data = json.dumps(body, ensure_ascii=True).encode()
    assert b"\\ud83d\\ude00" in data
    response = client.post("/webhooks/jira", data=data, headers=signed(data))
    assert response.status_code == 200, response.json
    [item] = store.inbox.list(kind="ticket")
    assert item.payload["ticket"]["summary"] == "Ship it 😀 \\u0000 \\ud800"


def test_rejections_are_counted_by_reason(client: FlaskClient) -> None:
    body, _, _ = JIRA["NUL, escaped"]
    client.post("/webhooks/jira", data=body, headers=signed(body))
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'skillrelay_webhook_rejected_total{reason="unstorable",sender="jira"} 1.0' in metrics
