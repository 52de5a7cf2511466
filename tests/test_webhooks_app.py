"""The webhook app through Flask's test client: start-up rules, every bad input, storing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text as sql_text

from plugin.domain import CompletionState, TicketTransition
from plugin.errors import ConfigError
from plugin.manifest import Manifest
from plugin.store import Store, migrate
from plugin.sync import inbox_event
from tests.test_webhooks_support import (
    ENV,
    FORWARD_SECRET,
    JSON_TYPE,
    LOGSTORE,
    LRS_PASSWORD,
    LRS_USER,
    SECRET,
    automation,
    basic,
    bearer,
    fixture_bytes,
    fixture_json,
    make_app,
    manifest,
    manifest_text,
    signed,
    sqlite_store,
    write_manifest,
)
from webhooks import create_app
from webhooks.signature import sign

__all__ = ["manifest", "sqlite_store"]  # fixtures shared from the support module

DONE = fixture_bytes("cloud_issue_updated_status_done")
STATEMENT = (LOGSTORE / "completed.json").read_bytes()
HEX = "0" * 64


@pytest.fixture
def client(sqlite_store: Store, manifest: Manifest) -> FlaskClient:
    return make_app(sqlite_store, manifest).test_client()


# -- start-up -------------------------------------------------------------------------------


def test_refuses_to_start_without_secrets(sqlite_store: Store, manifest: Manifest) -> None:
    with pytest.raises(ConfigError) as caught:
        create_app({}, store=sqlite_store, manifest=manifest, env={})
    message = str(caught.value)
    for name in ("JIRA_WEBHOOK_SECRET", "JIRA_AUTOMATION_SECRET", "LRS_FORWARD_SECRET"):
        assert name in message
    assert "sources[jira].webhook_secret_env" in message
    assert "ALLOW_UNSIGNED" in message
    # The receiver never needs the credentials skillrelay signs in to the LRS with.
    assert "LRS_USERNAME" not in message and "LRS_PASSWORD" not in message


def test_refuses_to_start_when_one_named_secret_is_missing(
    sqlite_store: Store, manifest: Manifest
) -> None:
    env = {k: v for k, v in ENV.items() if k != "JIRA_AUTOMATION_SECRET"}
    with pytest.raises(ConfigError, match="JIRA_AUTOMATION_SECRET") as caught:
        create_app({}, store=sqlite_store, manifest=manifest, env=env)
    assert caught.value.exit_code == 2
    assert "JIRA_WEBHOOK_SECRET" not in str(caught.value)


@pytest.mark.parametrize(
    "name", ["JIRA_WEBHOOK_SECRET", "JIRA_AUTOMATION_SECRET", "LRS_FORWARD_SECRET"]
)
@pytest.mark.parametrize("unsigned", [False, True], ids=["signed", "allow-unsigned"])
def test_refuses_to_start_with_a_short_secret(
    sqlite_store: Store, manifest: Manifest, name: str, unsigned: bool
) -> None:
    # One captured delivery is enough to guess a short HMAC key or token offline.
    env = {**ENV, name: "fifteen-chars.."}
    with pytest.raises(ConfigError) as caught:
        create_app({"ALLOW_UNSIGNED": unsigned}, store=sqlite_store, manifest=manifest, env=env)
    message = str(caught.value)
    assert f"environment variable {name} holds 15 characters; at least 16 are required" in message
    assert "guessed offline" in message and "fifteen-chars" not in message
    assert caught.value.exit_code == 2
    make_app(sqlite_store, manifest, env={**ENV, name: "sixteen-chars..."})  # 16 is enough


def test_starts_unsigned_when_explicitly_allowed(sqlite_store: Store, manifest: Manifest) -> None:
    client = make_app(sqlite_store, manifest, env={"_": "_"}, ALLOW_UNSIGNED=True).test_client()
    headers = {"Content-Type": JSON_TYPE}
    assert client.post("/webhooks/jira", data=DONE, headers=headers).json == {
        "status": "stored",
        "events": 1,
        "duplicates": 0,
        "ignored": 0,
    }
    automation_body = fixture_bytes("automation_format")
    response = client.post("/webhooks/jira", data=automation_body, headers=headers)
    assert response.status_code == 200 and response.json is not None
    assert response.json["events"] == 1
    assert client.post("/webhooks/xapi", data=STATEMENT, headers=headers).status_code == 200
    # Credentials nobody configured are refused even then.
    cases = [
        ("/webhooks/jira", signed(DONE), "unexpected_signature"),
        ("/webhooks/jira", automation(), "unexpected_signature"),
        ("/webhooks/xapi", bearer(), "unexpected_credentials"),
        ("/webhooks/xapi", basic(), "unexpected_credentials"),
    ]
    for path, sent, code in cases:
        response = client.post(path, data=DONE if "jira" in path else STATEMENT, headers=sent)
        assert (response.status_code, _code(response.json)) == (401, code)


def test_allow_unsigned_from_the_environment(
    sqlite_store: Store, manifest: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKILLRELAY_ALLOW_UNSIGNED", "true")
    monkeypatch.setenv("SKILLRELAY_OUTBOX_STUCK_SECONDS", "60")
    app = create_app(store=sqlite_store, manifest=manifest, env={})
    assert app.config["ALLOW_UNSIGNED"] is True
    assert app.config["OUTBOX_STUCK_SECONDS"] == 60
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024


def test_opens_the_manifest_and_database_it_is_configured_with(tmp_path: Path) -> None:
    write_manifest(tmp_path)
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate.upgrade(url)
    config = {"MANIFEST": str(tmp_path / "manifest.yaml"), "DATABASE_URL": url}
    app = create_app(config, env=ENV)
    response = app.test_client().post("/webhooks/jira", data=DONE, headers=signed(DONE))
    assert response.status_code == 200
    with Store.open(url) as store:
        assert [i.natural_key for i in store.inbox.list(kind="ticket")] == ["jira:99291:10124"]
    app.extensions["skillrelay"].store.close()


def test_senders_missing_from_the_manifest_answer_404(sqlite_store: Store, tmp_path: Path) -> None:
    text = (Path(__file__).parent / "fixtures" / "manifests" / "minimal.yaml").read_text()
    minimal = write_manifest(tmp_path, text)  # LRS with bearer auth and no forward secret
    client = make_app(sqlite_store, minimal, env={"JIRA_WEBHOOK_SECRET": SECRET}).test_client()
    response = client.post("/webhooks/xapi", data=STATEMENT, headers=bearer())
    assert (response.status_code, _code(response.json)) == (404, "not_configured")


# -- who may forward statements -------------------------------------------------------------

CHALLENGES = ['Basic realm="skillrelay", charset="UTF-8"', 'Bearer realm="skillrelay"']


def test_the_xapi_receiver_takes_only_its_own_inbound_secret(client: FlaskClient) -> None:
    # The forward secret, as a bearer token or as a Basic password (any user name).
    for headers in (bearer(), basic("ralph", FORWARD_SECRET), basic("", FORWARD_SECRET)):
        assert client.post("/webhooks/xapi", data=STATEMENT, headers=headers).status_code == 200
    # The credentials skillrelay signs in to the LRS with are outbound: they open nothing.
    response = client.post("/webhooks/xapi", data=STATEMENT, headers=basic(LRS_USER, LRS_PASSWORD))
    assert (response.status_code, _code(response.json)) == (401, "bad_credentials")
    assert response.headers.getlist("WWW-Authenticate") == CHALLENGES
    response = client.post("/webhooks/xapi", data=STATEMENT, headers=bearer(LRS_PASSWORD))
    assert response.status_code == 401


def test_outbound_lrs_credentials_alone_do_not_open_the_receiver(
    sqlite_store: Store, tmp_path: Path
) -> None:
    text = manifest_text().replace("    forward_secret_env: LRS_FORWARD_SECRET\n", "")
    pulled = write_manifest(tmp_path, text)  # the LRS is read with basic auth, never pushes
    env = {k: v for k, v in ENV.items() if k != "LRS_FORWARD_SECRET"}
    client = make_app(sqlite_store, pulled, env=env).test_client()
    response = client.post("/webhooks/xapi", data=STATEMENT, headers=basic(LRS_USER, LRS_PASSWORD))
    assert (response.status_code, _code(response.json)) == (404, "not_configured")


# -- bad input: exact status and error code, never a 5xx -----------------------------------

NO_STATUS = fixture_json("cloud_issue_updated_status_done")
del NO_STATUS["issue"]["fields"]["status"]
NO_STATUS_BYTES = json.dumps(NO_STATUS).encode()
NESTED = b"[" * 50_000 + b"]" * 50_000
MALFORMED_STATEMENT = (LOGSTORE / "malformed.json").read_bytes()
TEXT = {"Content-Type": "text/plain"}

BAD_INPUT: list[tuple[str, str, str, bytes, Mapping[str, str], int, str, str]] = [
    ("jira-malformed-json", "POST", "/webhooks/jira", b"{nope", signed(b"{nope"), 400,
     "bad_json", "body: not valid JSON"),
    ("jira-nan", "POST", "/webhooks/jira", b'{"a": NaN}', signed(b'{"a": NaN}'), 400,
     "bad_json", "NaN"),
    ("jira-too-deep", "POST", "/webhooks/jira", NESTED, signed(NESTED), 400, "too_deep",
     "nested deeper than 64 levels"),
    ("jira-not-utf8", "POST", "/webhooks/jira", b'{"a": "\xff"}', signed(b'{"a": "\xff"}'),
     400, "bad_json", "body: not valid JSON"),
    ("jira-array", "POST", "/webhooks/jira", b"[1]", signed(b"[1]"), 400, "bad_payload",
     "body: expected a JSON object"),
    ("jira-missing-field", "POST", "/webhooks/jira", NO_STATUS_BYTES, signed(NO_STATUS_BYTES),
     400, "bad_payload", "issue.fields.status: missing"),
    ("jira-no-event", "POST", "/webhooks/jira", b"{}", signed(b"{}"), 400, "bad_payload",
     "webhookEvent: missing"),
    ("jira-identifier-too-long", "POST", "/webhooks/jira", DONE,
     signed(DONE, **{"X-Atlassian-Webhook-Identifier": "x" * 201}), 400, "bad_payload",
     "X-Atlassian-Webhook-Identifier"),
    ("jira-text-plain", "POST", "/webhooks/jira", DONE, {**signed(DONE), **TEXT}, 415,
     "unsupported_media_type", "expected application/json, got text/plain"),
    ("jira-no-content-type", "POST", "/webhooks/jira", DONE,
     {"X-Hub-Signature": sign("It's a Secret to Everybody", DONE)}, 415,
     "unsupported_media_type", "got none"),
    ("jira-oversized", "POST", "/webhooks/jira", b" " * (1024 * 1024 + 1),
     {"Content-Type": JSON_TYPE}, 413, "too_large", "1048576"),
    ("jira-unsigned", "POST", "/webhooks/jira", DONE, {"Content-Type": JSON_TYPE}, 401,
     "missing_signature", "X-Hub-Signature"),
    ("jira-empty-signature", "POST", "/webhooks/jira", DONE,
     {"Content-Type": JSON_TYPE, "X-Hub-Signature": ""}, 401, "missing_signature",
     "X-Hub-Signature"),
    ("jira-bad-signature", "POST", "/webhooks/jira", DONE, signed(DONE, secret="wrong"), 401,
     "bad_signature", "does not match"),
    ("jira-signature-other-body", "POST", "/webhooks/jira", DONE + b" ", signed(DONE), 401,
     "bad_signature", "does not match"),
    ("jira-unknown-method", "POST", "/webhooks/jira", DONE,
     {"Content-Type": JSON_TYPE, "X-Hub-Signature": f"md5={HEX[:32]}"}, 401,
     "unsupported_signature_method", "supported: sha256, sha1"),
    ("jira-no-equals", "POST", "/webhooks/jira", DONE,
     {"Content-Type": JSON_TYPE, "X-Hub-Signature": HEX}, 401, "bad_signature", "malformed"),
    ("jira-non-hex", "POST", "/webhooks/jira", DONE,
     {"Content-Type": JSON_TYPE, "X-Hub-Signature": "sha256=" + "g" * 64}, 401,
     "bad_signature", "hex digits"),
    ("jira-wrong-automation-token", "POST", "/webhooks/jira", DONE, automation("wrong"), 401,
     "bad_token", "X-Skillrelay-Token: wrong value"),
    ("jira-empty-automation-token", "POST", "/webhooks/jira", DONE, automation(""), 401,
     "bad_token", "X-Skillrelay-Token"),
    ("xapi-no-credentials", "POST", "/webhooks/xapi", STATEMENT, {"Content-Type": JSON_TYPE},
     401, "missing_credentials", "Authorization: missing"),
    ("xapi-bad-password", "POST", "/webhooks/xapi", STATEMENT, basic(password="nope"), 401,
     "bad_credentials", "wrong password"),
    ("xapi-outbound-credentials", "POST", "/webhooks/xapi", STATEMENT,
     basic(LRS_USER, LRS_PASSWORD), 401, "bad_credentials", "forward secret"),
    ("xapi-bad-bearer", "POST", "/webhooks/xapi", STATEMENT, bearer("nope"), 401,
     "bad_credentials", "wrong bearer token"),
    ("xapi-empty-bearer", "POST", "/webhooks/xapi", STATEMENT,
     {"Content-Type": JSON_TYPE, "Authorization": "Bearer"}, 401, "bad_credentials",
     "wrong bearer token"),
    ("xapi-digest", "POST", "/webhooks/xapi", STATEMENT,
     {"Content-Type": JSON_TYPE, "Authorization": "Digest username=x"}, 401,
     "bad_credentials", "expected Basic or Bearer"),
    ("xapi-basic-not-base64", "POST", "/webhooks/xapi", STATEMENT,
     {"Content-Type": JSON_TYPE, "Authorization": "Basic !!!"}, 401, "bad_credentials",
     "expected Basic or Bearer"),
    ("xapi-malformed-json", "POST", "/webhooks/xapi", b"[{", bearer(), 400, "bad_json",
     "body: not valid JSON"),
    ("xapi-missing-field", "POST", "/webhooks/xapi", MALFORMED_STATEMENT, bearer(), 400,
     "bad_payload", "statement.verb.id: Field required"),
    ("xapi-array-missing-field", "POST", "/webhooks/xapi",
     b"[" + STATEMENT + b"," + MALFORMED_STATEMENT + b"]", bearer(), 400, "bad_payload",
     "statements[1].verb.id"),
    ("xapi-array-of-numbers", "POST", "/webhooks/xapi", b"[1]", bearer(), 400, "bad_payload",
     "statements[0]: expected an object, got int"),
    ("xapi-string", "POST", "/webhooks/xapi", b'"statement"', bearer(), 400, "bad_payload",
     "body: expected a statement object or an array"),
    ("xapi-text-plain", "POST", "/webhooks/xapi", STATEMENT, {**bearer(), **TEXT}, 415,
     "unsupported_media_type", "application/json"),
    ("jira-get", "GET", "/webhooks/jira", b"", {}, 405, "method_not_allowed", "not allowed"),
    ("xapi-put", "PUT", "/webhooks/xapi", STATEMENT, bearer(), 405, "method_not_allowed",
     "not allowed"),
    ("healthz-post", "POST", "/healthz", b"{}", {"Content-Type": JSON_TYPE}, 405,
     "method_not_allowed", "not allowed"),
    ("unknown-path", "POST", "/webhooks/github", b"{}", {"Content-Type": JSON_TYPE}, 404,
     "not_found", "not found"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "data", "headers", "status", "code", "message"),
    [case[1:] for case in BAD_INPUT],
    ids=[case[0] for case in BAD_INPUT],
)
def test_bad_input(
    client: FlaskClient,
    sqlite_store: Store,
    method: str,
    path: str,
    data: bytes,
    headers: Mapping[str, str],
    status: int,
    code: str,
    message: str,
) -> None:
    response = client.open(path, method=method, data=data, headers=dict(headers))
    assert response.status_code == status
    assert response.mimetype == JSON_TYPE
    assert response.json is not None
    assert set(response.json) == {"error", "message"}
    assert response.json["error"] == code
    assert message.lower() in response.json["message"].lower()
    assert sqlite_store.inbox.list() == []  # nothing refused is stored
    if path == "/webhooks/xapi" and status == 401:  # says how to sign in
        assert response.headers.getlist("WWW-Authenticate") == CHALLENGES


def test_405_names_the_allowed_method(client: FlaskClient) -> None:
    assert "POST" in client.get("/webhooks/xapi").headers["Allow"]


def test_a_store_that_is_gone_is_a_503_so_jira_retries(
    tmp_path: Path, sqlite_template: Path, manifest: Manifest
) -> None:
    path = tmp_path / "gone.db"
    path.write_bytes(sqlite_template.read_bytes())
    store = Store.open(f"sqlite:///{path}")
    client = make_app(store, manifest).test_client()
    store.close()
    path.unlink()
    response = client.post("/webhooks/jira", data=DONE, headers=signed(DONE))
    assert (response.status_code, _code(response.json)) == (503, "store_unavailable")
    store.close()


# -- storing (SQLite and PostgreSQL) ---------------------------------------------------------


@pytest.fixture
def stored_client(store: Store, manifest: Manifest) -> FlaskClient:
    return make_app(store, manifest).test_client()


@pytest.mark.parametrize(
    ("name", "auth", "key"),
    [
        ("cloud_issue_updated_status_done", "signed", "jira:99291:10124"),
        ("cloud_issue_updated_labels", "signed", "jira:99291:10119"),
        ("cloud_issue_created", "signed", "jira:99291:created"),
        ("datacenter_issue_updated", "signed", "jira:20417:31337"),
        ("automation_format", "automation", "jira-automation:"),
        ("automation_jira_format", "automation", "jira-automation:"),
    ],
    ids=["status-done", "labels", "created", "datacenter", "automation", "automation-jira"],
)
def test_recorded_bodies_are_in_the_inbox_when_the_200_comes_back(
    stored_client: FlaskClient, store: Store, name: str, auth: str, key: str
) -> None:
    body = fixture_bytes(name)
    headers = signed(body) if auth == "signed" else automation()
    response = stored_client.post("/webhooks/jira", data=body, headers=headers)
    assert response.status_code == 200
    assert response.json == {"status": "stored", "events": 1, "duplicates": 0, "ignored": 0}
    (item,) = store.inbox.list()  # read right after the answer: already durable
    assert (item.source, item.kind, item.status) == ("jira", "ticket", "new")
    assert item.natural_key.startswith(key)
    event = TicketTransition.model_validate(item.payload)
    assert event.natural_key == item.natural_key
    raw = json.loads(body)
    assert item.raw == raw.get("issue", raw)


def _stored_raw(store: Store, key: str) -> str:
    """The raw column's text as the database holds it (not decoded and encoded again)."""
    query = sql_text("SELECT CAST(raw AS TEXT) FROM inbox WHERE natural_key = :key")
    with store.engine.connect() as conn:
        return str(conn.execute(query, {"key": key}).scalar_one())


# Spacing, key order, escapes and a number's spelling that a decode and encode would change.
ODD = '"summary": "Caf\\u00e9 \\ud83d\\ude00 \\/ 1.50",\n\t  "x-order" :  [ 1.50 , 2e0 ],'


def test_the_raw_issue_is_stored_as_the_bytes_received(
    stored_client: FlaskClient, store: Store
) -> None:
    text = fixture_bytes("cloud_issue_updated_status_done").decode()
    text = text.replace('"summary": "Speed up the invoice query",', ODD)
    body = text.replace('"issue": {', '"issue"  :{  ', 1).encode()
    response = stored_client.post("/webhooks/jira", data=body, headers=signed(body))
    assert response.json is not None and response.json["status"] == "stored"
    received = body[body.index(b"{  ") : body.index(b',\n  "changelog"')].decode()
    assert received.startswith("{  ") and received.endswith("}")
    assert _stored_raw(store, "jira:99291:10124") == received
    (item,) = store.inbox.list()
    assert item.raw is not None and item.raw["fields"]["summary"] == "Café 😀 / 1.50"


def test_forwarded_statements_are_stored_as_the_bytes_received(
    stored_client: FlaskClient, store: Store
) -> None:
    first = STATEMENT.decode().replace('"id"', ' "id" ', 1).strip()
    second = json.dumps(json.loads(STATEMENT) | {"id": "b3d0c4e4-1c1f-4e0e-8f3e-2a2d2b6f0a11"})
    body = f"[ {first} ,\n\t{second}  ]".encode()
    response = stored_client.post("/webhooks/xapi", data=body, headers=basic())
    assert response.json is not None and response.json["events"] == 2
    assert _stored_raw(store, json.loads(first)["id"]) == first
    assert _stored_raw(store, "b3d0c4e4-1c1f-4e0e-8f3e-2a2d2b6f0a11") == second


def test_a_retried_delivery_is_a_duplicate(stored_client: FlaskClient, store: Store) -> None:
    headers = signed(DONE, **{"X-Atlassian-Webhook-Identifier": "d3b07384-retry"})
    first = stored_client.post("/webhooks/jira", data=DONE, headers=headers)
    retry = stored_client.post(
        "/webhooks/jira", data=DONE, headers={**headers, "X-Atlassian-Webhook-Retry": "1"}
    )
    assert first.json is not None and first.json["status"] == "stored"
    assert retry.status_code == 200
    assert retry.json == {"status": "duplicate", "events": 0, "duplicates": 1, "ignored": 0}
    keys = sorted(i.natural_key for i in store.inbox.list())
    assert keys == ["jira:99291:10124"]  # one row: the event's key recognises the retry


def test_a_delivery_without_events_is_recognised_by_its_identifier(
    stored_client: FlaskClient, store: Store
) -> None:
    body = json.dumps({**fixture_json("cloud_issue_created"), "webhookEvent": "comment_created"})
    headers = signed(body.encode(), **{"X-Atlassian-Webhook-Identifier": "c0ffee"})
    first = stored_client.post("/webhooks/jira", data=body, headers=headers)
    again = stored_client.post("/webhooks/jira", data=body, headers=headers)
    assert first.json == {"status": "ignored", "events": 0, "duplicates": 0, "ignored": 1}
    assert again.json is not None and again.json["status"] == "duplicate"
    (marker,) = store.inbox.list()
    assert (marker.kind, marker.natural_key) == ("delivery", "jira-delivery:c0ffee")
    assert marker.payload == {"identifier": "c0ffee", "event": "comment_created", "events": 0}


@pytest.mark.parametrize(
    ("name", "headers"),
    [("cloud_issue_updated_status_done", "signed"), ("automation_format", "automation")],
)
def test_issues_of_projects_the_manifest_does_not_list_are_ignored(
    stored_client: FlaskClient, store: Store, name: str, headers: str
) -> None:
    body = json.dumps(fixture_json(name)).replace("ACME", "HR").encode()
    sent = signed(body) if headers == "signed" else automation()
    response = stored_client.post("/webhooks/jira", data=body, headers=sent)
    assert response.status_code == 200
    assert response.json == {"status": "ignored", "events": 0, "duplicates": 0, "ignored": 1}
    assert store.inbox.list(kind="ticket") == []


def test_without_identifier_the_natural_key_deduplicates(
    stored_client: FlaskClient, store: Store
) -> None:
    for _ in range(2):
        last = stored_client.post("/webhooks/jira", data=DONE, headers=signed(DONE))
    assert last.json is not None and last.json["status"] == "duplicate"
    body = fixture_bytes("automation_format")
    for _ in range(2):
        last = stored_client.post("/webhooks/jira", data=body, headers=automation())
    assert last.json is not None and last.json["status"] == "duplicate"
    assert len(store.inbox.list()) == 2


def test_a_change_the_sync_stored_first_is_a_duplicate(
    stored_client: FlaskClient, store: Store, manifest: Manifest
) -> None:
    from connectors.jira_webhook import parse_jira_webhook

    (event,) = parse_jira_webhook(
        fixture_json("cloud_issue_updated_status_done"),
        base_url="https://acme.atlassian.net",
        deployment="cloud",
    )
    synced = event.model_copy(update={"from_category": "indeterminate"})  # what the sync knows
    store.inbox.add_many([inbox_event(synced, None, store.clock())])
    response = stored_client.post("/webhooks/jira", data=DONE, headers=signed(DONE))
    assert response.json == {"status": "duplicate", "events": 0, "duplicates": 1, "ignored": 0}
    (item,) = store.inbox.list()
    assert item.payload["from_category"] == "indeterminate"


def test_forwarded_statements_become_completions(stored_client: FlaskClient, store: Store) -> None:
    names = [
        "completed",
        "completed_failure",
        "completed_other_module",
        "completed_success",
        "failed",
        "passed",
        "uncompleted",
        "viewed",
        "voided",
    ]
    statements = [json.loads((LOGSTORE / f"{n}.json").read_text()) for n in names]
    response = stored_client.post("/webhooks/xapi", data=json.dumps(statements), headers=basic())
    assert response.status_code == 200
    assert response.json == {"status": "stored", "events": 8, "duplicates": 0, "ignored": 1}
    items = {i.natural_key: i for i in store.inbox.list(source="xapi")}
    assert {i.kind for i in items.values()} == {"completion", "progress"}
    viewed = items.pop("6b3c3a1e-0f5c-4a53-9f0e-0c1b2a3d4e07")  # progress: test_progress_xapi
    assert (viewed.kind, viewed.payload["verb"]) == ("progress", "viewed")
    states = {key: item.payload["state"] for key, item in items.items()}
    prefix = "6b3c3a1e-0f5c-4a53-9f0e-0c1b2a3d4e0"
    assert states == {
        f"{prefix}1": CompletionState.COMPLETE,
        f"{prefix}2": CompletionState.PASSED,
        f"{prefix}3": CompletionState.FAILED,
        f"{prefix}4": CompletionState.INCOMPLETE,
        f"{prefix}5": CompletionState.PASSED,
        f"{prefix}6": CompletionState.FAILED,
        f"{prefix}9": CompletionState.INCOMPLETE,  # voids 01, in the same request
    }
    first = items[f"{prefix}1"].payload
    assert first["module"] == "https://moodle.example.org/mod/page/view.php?id=42"
    assert first["person"]["id"] == "account:https://moodle.example.org|17"
    assert items[f"{prefix}1"].raw == statements[0]


def test_a_statement_forwarded_twice_is_a_duplicate(
    stored_client: FlaskClient, store: Store
) -> None:
    first = stored_client.post("/webhooks/xapi", data=STATEMENT, headers=basic())
    again = stored_client.post("/webhooks/xapi", data=STATEMENT, headers=bearer())
    assert first.json is not None and first.json["events"] == 1
    assert again.json == {"status": "duplicate", "events": 0, "duplicates": 1, "ignored": 0}
    assert len(store.inbox.list()) == 1


def test_a_void_of_an_earlier_request_is_left_to_the_sync(stored_client: FlaskClient) -> None:
    voided = (LOGSTORE / "voided.json").read_bytes()
    response = stored_client.post("/webhooks/xapi", data=voided, headers=bearer())
    assert response.json == {"status": "ignored", "events": 0, "duplicates": 0, "ignored": 1}


def _code(body: Any) -> str | None:
    return body.get("error") if isinstance(body, dict) else None


def test_a_bug_is_a_json_500_without_details(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr("webhooks.jira.parse_jira_webhook", broken)
    response = client.post("/webhooks/jira", data=DONE, headers=signed(DONE))
    assert response.status_code == 500
    assert response.json == {"error": "internal_error", "message": "unexpected error"}
