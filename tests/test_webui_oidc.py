"""Single sign-on end to end: a real OpenID provider (oidc-provider-mock) on 127.0.0.1, the web
UI through Flask's test client and served over HTTP, and real Chromium for what a person sees."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Page, Route
from werkzeug.serving import make_server
from werkzeug.test import TestResponse
from werkzeug.wrappers import Request, Response

from plugin import cli
from plugin.errors import ConfigError
from plugin.service import compose
from plugin.settings import EXAMPLE_MANIFEST
from plugin.store import Store
from tests.peers.browser import save_screenshot
from tests.peers.oidc import Provider, running
from tests.test_pipeline_support import northwind
from tests.test_service_serve import closed_port
from tests.test_webui_app import PASSWORD, make_ui, sign_in
from webui.passwords import hash_password

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


CLIENT_ID = "skillrelay-ui"
SECRET = "a client secret for the tests"
AMARA = "amara.okafor@northwind.example"  # manages Ben (payments-core), not Farah
REFUSED = "is not in skillrelay's people list; ask L&D."


def sso(issuer: str) -> dict[str, str]:
    return {"OIDC_ISSUER": issuer, "OIDC_CLIENT_ID": CLIENT_ID, "OIDC_CLIENT_SECRET": SECRET}


@pytest.fixture
def db(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[str, Store]]:
    shutil.copyfile(sqlite_template, tmp_path / "store.db")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with Store.open(url) as store:
        northwind(store)
        yield url, store


@pytest.fixture
def store(db: tuple[str, Store]) -> Store:
    return db[1]


@pytest.fixture
def app(store: Store, oidc_provider: Provider) -> Flask:
    return make_ui(store, **sso(oidc_provider.issuer))


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def to_provider(client: FlaskClient) -> str:
    """/ui/oidc/login: the authorization URL it sends the browser to."""
    start = client.get("/ui/oidc/login")
    assert start.status_code == 302, start.get_data(as_text=True)
    return start.headers["Location"]


def authorize(url: str, sub: str) -> str:
    """What a person does on the provider's form: the callback URL it sends them back to."""
    answer = requests.post(url, data={"sub": sub}, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def through_provider(client: FlaskClient, sub: str) -> TestResponse:
    return client.get(authorize(to_provider(client), sub))


def signed_in(client: FlaskClient) -> bool:
    return client.get("/ui/me").status_code == 200


def local_only(page: Page) -> None:
    """The provider's form links a stylesheet on a CDN: nothing leaves this machine."""

    def empty(route: Route) -> None:
        route.fulfill(status=200, content_type="text/css", body="")

    page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), empty)


def sign_in_at_provider(page: Page, provider: Provider, base: str, sub: str) -> None:
    page.goto(f"{base}/ui/login")
    page.get_by_role("link", name="Sign in with single sign-on").click()
    page.wait_for_url(f"{provider.issuer}/oauth2/authorize*")
    page.locator("input[name=sub]").fill(sub)
    page.get_by_role("button", name="Authorize", exact=True).click()
    page.wait_for_load_state()


# --- in Chromium ---


def test_a_manager_signs_in_through_the_provider(
    served: str, oidc_provider: Provider, store: Store, page: Page, page_errors: list[str]
) -> None:
    base = served
    sub = oidc_provider.person(AMARA, sub="amara-at-the-provider")
    local_only(page)
    page.goto(f"{base}/ui/login")
    button = page.get_by_role("link", name="Sign in with single sign-on")
    password = page.get_by_label("Password")
    # The button comes first; the local form stays below it as the fallback.
    assert button.is_visible() and password.is_visible()
    assert button.bounding_box()["y"] < password.bounding_box()["y"]  # type: ignore[index]
    save_screenshot(page, "webui-oidc-login")

    sign_in_at_provider(page, oidc_provider, base, sub)
    assert page.url == f"{base}/ui/dashboard"
    page.goto(f"{base}/ui/approvals")
    assert "Signed in as Amara Okafor" in page.inner_text("header")
    rows = page.locator("tbody tr")
    assert rows.count() == 1 and "PAY-101" in rows.first.inner_text()
    assert "RISK-7" not in page.inner_text("body")  # Farah is in another team
    save_screenshot(page, "webui-oidc-approvals")

    # The session holds from page to page, though Amara has no local account at all.
    page.get_by_role("link", name="My page").click()
    page.wait_for_load_state()
    assert page.url == f"{base}/ui/me"
    assert store.users.get("amara.okafor") is None
    [entry] = [e for e in store.audit.list() if e.action == "login"]
    assert entry.person_id == "amara.okafor" and entry.detail == {"via": "oidc"}
    assert page_errors == []


def test_someone_not_in_the_manifest_gets_a_clear_refusal(
    served: str, oidc_provider: Provider, store: Store, page: Page, page_errors: list[str]
) -> None:
    base = served
    sub = oidc_provider.person("mallory@elsewhere.example")
    local_only(page)
    with page.expect_response(lambda r: "/ui/oidc/callback" in r.url) as answer:
        sign_in_at_provider(page, oidc_provider, base, sub)
    assert answer.value.status == 403
    body = page.inner_text("main")
    assert f"Your account (mallory@elsewhere.example) {REFUSED}" in body
    save_screenshot(page, "webui-oidc-refused")

    page.goto(f"{base}/ui/me")
    assert page.url == f"{base}/ui/login"  # no session was opened
    [refused] = [e for e in store.audit.list() if e.action == "login.refused"]
    assert refused.target == "mallory@elsewhere.example"
    assert refused.detail == {"via": "oidc", "reason": "unknown", "status": 403}
    assert not [e for e in store.audit.list() if e.action == "login"]
    # 403 is a page the browser logs as a failed load; only that one is expected.
    assert [e for e in page_errors if "403" not in e] == []


# --- through the test client ---


def test_the_authorization_request_carries_pkce_state_and_nonce(
    store: Store, oidc_provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A numeric client id in the environment (Google's start with digits) stays text.
    monkeypatch.setenv("SKILLRELAY_OIDC_CLIENT_ID", "1234567890")
    app = make_ui(store, OIDC_ISSUER=oidc_provider.issuer, OIDC_CLIENT_SECRET=SECRET)
    url = to_provider(app.test_client())
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["response_type"] == "code" and query["client_id"] == "1234567890"
    assert query["redirect_uri"] == "http://localhost/ui/oidc/callback"
    assert query["scope"] == "openid email profile"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 20 and len(query["nonce"]) >= 20


def test_e_mails_match_without_case_and_an_absent_verified_flag_is_enough(
    app: Flask, oidc_provider: Provider
) -> None:
    sub = oidc_provider.person("Ben.Carter@NORTHWIND.example", verified=None, sub="ben-upper")
    client = app.test_client()
    answer = through_provider(client, sub)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/ui/me")
    page = client.get("/ui/me").get_data(as_text=True)
    assert "Signed in as Ben Carter" in page and "PAY-101" in page
    assert client.get("/ui/people/farah.haddad").status_code == 403  # a learner still


def test_an_unverified_e_mail_is_refused(app: Flask, oidc_provider: Provider, store: Store) -> None:
    sub = oidc_provider.person(AMARA, verified=False, sub="amara-unverified")
    client = app.test_client()
    answer = through_provider(client, sub)
    assert answer.status_code == 403
    text = answer.get_data(as_text=True)
    assert f"has not verified the e-mail address {AMARA}" in text and "ask L&amp;D" in text
    assert not signed_in(client)
    [refused] = [e for e in store.audit.list() if e.action == "login.refused"]
    assert refused.target == AMARA and refused.detail is not None
    assert refused.detail["reason"] == "unverified"


def test_a_tampered_or_replayed_callback_opens_no_session(
    app: Flask, oidc_provider: Provider, store: Store
) -> None:
    sub = oidc_provider.person(AMARA, sub="amara-tampered")
    client = app.test_client()
    back = urlsplit(authorize(to_provider(client), sub))
    query = {k: v[0] for k, v in parse_qs(back.query).items()}
    forged = client.get(f"{back.path}?{urlencode({**query, 'state': 'forged-state-value'})}")
    assert forged.status_code == 400
    assert "was not started here" in forged.get_data(as_text=True)
    assert not signed_in(client)
    # Another browser (no session with this state) gets nowhere with the real answer either.
    stranger = app.test_client()
    assert stranger.get(f"{back.path}?{back.query}").status_code == 400
    assert not signed_in(stranger)
    # The right browser with the real answer signs in; replaying it afterwards is refused.
    assert client.get(f"{back.path}?{back.query}").status_code == 303
    assert signed_in(client)
    client.post("/ui/logout", data={"csrf_token": csrf_of(client)})
    assert client.get(f"{back.path}?{back.query}").status_code == 400
    assert not signed_in(client)
    failed = [e.detail for e in store.audit.list() if e.action == "login.failed"]
    assert failed == [{"via": "oidc", "reason": "state"}] * 3


def test_cancelling_at_the_provider_changes_nothing(app: Flask, store: Store) -> None:
    client = app.test_client()
    url = to_provider(client)
    denied = requests.post(url, data={"action": "deny"}, allow_redirects=False, timeout=10)
    assert denied.status_code == 302 and "error=access_denied" in denied.headers["Location"]
    answer = client.get(denied.headers["Location"])
    assert answer.status_code == 401
    assert "it was cancelled, or the provider refused it" in answer.get_data(as_text=True)
    assert not signed_in(client)
    [failed] = [e.detail for e in store.audit.list() if e.action == "login.failed"]
    assert failed == {"via": "oidc", "reason": "provider: access_denied"}


def csrf_of(client: FlaskClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/ui/me").text)
    assert found
    return found.group(1)


def test_callback_failures_count_toward_the_sign_in_limit(
    app: Flask, oidc_provider: Provider, store: Store
) -> None:
    client = app.test_client()
    for _ in range(5):
        assert client.get("/ui/oidc/callback?state=guess&code=guess").status_code == 400
    assert client.get("/ui/oidc/login").status_code == 429
    assert client.get("/ui/oidc/callback?state=guess&code=guess").status_code == 429
    # The address is limited for passwords too (one limiter for both ways in).
    store.users.add("ben.carter", hash_password(PASSWORD))
    assert sign_in(client, "ben.carter") == 429
    assert [e.action for e in store.audit.list(limit=3)] == ["login.limited"] * 3


def test_an_admin_who_only_signs_in_through_the_provider(
    app: Flask,
    oidc_provider: Provider,
    db: tuple[str, Store],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, store = db
    args = ["--manifest", str(EXAMPLE_MANIFEST), "--database", url]
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no password is asked for
    assert cli.main(["users", "add", "chloe.nguyen", "--admin", "--sso-only", *args]) == 0
    assert "as an admin by single sign-on only" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # a password and none at all: argparse refuses
        cli.main(["users", "add", "hana.sato", "--sso-only", "--password-stdin", *args])
    assert "not allowed with argument" in capsys.readouterr().err

    client = app.test_client()
    for password in (PASSWORD, "!sso-only", ""):
        assert sign_in(client, "chloe.nguyen", password) == 401  # no password opens it
    assert not signed_in(client)
    sub = oidc_provider.person("chloe.nguyen@northwind.example", sub="chloe-admin")
    assert through_provider(client, sub).status_code == 303
    assert client.get("/ui/audit").status_code == 200
    # Someone without an admin row is no admin, however they signed in.
    amara = app.test_client()
    assert (
        through_provider(amara, oidc_provider.person(AMARA, sub="amara-no-row")).status_code == 303
    )
    assert amara.get("/ui/audit").status_code == 403
    # A password change ends password sessions only; the provider's session stays open.
    store.users.set_password("chloe.nguyen", hash_password("a brand new password"))
    assert client.get("/ui/audit").status_code == 200


# --- ID tokens that must not be trusted ---


class Relay:
    """Between skillrelay and the provider: passes every request on, but can change what the
    token endpoint answers ("forge": another e-mail in the ID token, its signature kept) or
    whom it answers as ("other-issuer": the provider's own address, not the relay's)."""

    def __init__(self, upstream: str, mode: str) -> None:
        self.upstream = upstream
        self.mode = mode

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        token = request.path == "/oauth2/token"
        headers = {k: v for k, v in request.headers if k.lower() not in ("host", "content-length")}
        # The provider names itself after the Host it is asked at.
        upstream_host = urlsplit(self.upstream).netloc
        headers["Host"] = upstream_host if token and self.mode == "other-issuer" else request.host
        answer = requests.request(
            request.method,
            f"{self.upstream}{request.full_path}",
            headers=headers,
            data=request.get_data(),
            allow_redirects=False,
            timeout=10,
        )
        body = forged(answer.content) if token and self.mode == "forge" else answer.content
        relayed = Response(body, answer.status_code, content_type=answer.headers["Content-Type"])
        if "Location" in answer.headers:
            relayed.headers["Location"] = answer.headers["Location"]
        return relayed(environ, start_response)


def forged(body: bytes) -> bytes:
    """The token response with Amara's e-mail in its ID token, the signature left as it was."""
    token = json.loads(body)
    header, payload, signature = token["id_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["email"] = AMARA
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    token["id_token"] = f"{header}.{payload}.{signature}"
    return json.dumps(token).encode()


@contextmanager
def relayed(upstream: str, mode: str) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, Relay(upstream, mode), threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def refused_token(app: Flask, sub: str, store: Store) -> str:
    """Sign in as `sub`: the answer must be a 502 that opens no session; the audit's reason."""
    client = app.test_client()
    answer = through_provider(client, sub)
    assert answer.status_code == 502
    assert "sent an answer skillrelay cannot use" in answer.get_data(as_text=True)
    assert not signed_in(client)
    assert not [e for e in store.audit.list() if e.action == "login"]
    [failed] = [e.detail for e in store.audit.list() if e.action == "login.failed"]
    assert failed is not None
    return str(failed["reason"])


def test_an_id_token_with_a_forged_e_mail_is_refused(store: Store, oidc_provider: Provider) -> None:
    sub = oidc_provider.person("mallory@elsewhere.example", sub="mallory-forging")
    with relayed(oidc_provider.issuer, "forge") as relay:
        reason = refused_token(make_ui(store, **sso(relay)), sub, store)
    assert reason == "provider: its ID token was refused (BadSignatureError)"


def test_an_id_token_from_another_issuer_is_refused(store: Store, oidc_provider: Provider) -> None:
    sub = oidc_provider.person(AMARA, sub="amara-other-issuer")
    with relayed(oidc_provider.issuer, "other-issuer") as relay:
        reason = refused_token(make_ui(store, **sso(relay)), sub, store)
    assert reason.startswith("provider: its ID token was refused (InvalidClaimError")


def test_an_expired_id_token_is_refused(store: Store, tmp_path: Path) -> None:
    # Expired ten minutes ago: past the two minutes allowed for clocks that differ.
    with running(tmp_path / "provider.log", token_seconds=-600) as provider:
        sub = provider.person(AMARA, sub="amara-expired")
        reason = refused_token(make_ui(store, **sso(provider.issuer)), sub, store)
    assert reason == "provider: its ID token was refused (ExpiredTokenError)"


# --- settings and a provider that is down ---


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"OIDC_CLIENT_ID": "", "OIDC_CLIENT_SECRET": ""}, "SKILLRELAY_OIDC_CLIENT_ID is not set"),
        ({"OIDC_CLIENT_SECRET": None}, "SKILLRELAY_OIDC_CLIENT_SECRET is not set"),
        ({"OIDC_ISSUER": None}, "SKILLRELAY_OIDC_ISSUER is not set"),
        ({"OIDC_ISSUER": "http://sso.northwind.example"}, "SKILLRELAY_OIDC_ISSUER is"),
        ({"OIDC_ISSUER": "sso.northwind.example"}, "SKILLRELAY_OIDC_ISSUER is"),
        ({"OIDC_ISSUER": "https://sso.example/?tenant=1"}, "SKILLRELAY_OIDC_ISSUER is"),
        ({"OIDC_SCOPES": "openid profile"}, "SKILLRELAY_OIDC_SCOPES is 'openid profile'"),
    ],
)
def test_half_configured_single_sign_on_is_refused(
    store: Store, settings: dict[str, str | None], named: str
) -> None:
    config = {**sso("https://sso.northwind.example/realms/main"), **settings}
    with pytest.raises(ConfigError, match=re.escape(named)) as refused:
        make_ui(store, **config)
    assert refused.value.exit_code == 2


def test_serve_refuses_half_settings_and_starts_while_the_provider_is_down(
    db: tuple[str, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = db
    monkeypatch.setenv("SKILLRELAY_ALLOW_UNSIGNED", "true")
    monkeypatch.setenv("SKILLRELAY_UI_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("SKILLRELAY_OIDC_ISSUER", "https://sso.northwind.example")
    settings = compose.Settings(EXAMPLE_MANIFEST, url, "w", jira_dry_run=True)
    receive_only = compose.Workers(False, False)
    with pytest.raises(ConfigError) as refused:
        compose.serve(settings, compose.Http(port=0), receive_only, None)
    assert "SKILLRELAY_OIDC_CLIENT_ID is not set" in str(refused.value)
    assert "SKILLRELAY_OIDC_CLIENT_SECRET is not set" in str(refused.value)

    # Fully set, with nothing listening at the issuer: serve starts all the same (discovery
    # waits for the first sign-in).
    monkeypatch.setenv("SKILLRELAY_OIDC_ISSUER", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("SKILLRELAY_OIDC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SKILLRELAY_OIDC_CLIENT_SECRET", SECRET)
    service = compose.serve(settings, compose.Http(port=0), receive_only, None)
    assert service.shutdown()


def test_a_provider_that_is_down_gives_a_clear_page_until_it_is_back(
    store: Store, tmp_path: Path
) -> None:
    port = closed_port()
    app = make_ui(store, **sso(f"http://127.0.0.1:{port}"))
    client = app.test_client()
    down = client.get("/ui/oidc/login")
    assert down.status_code == 503 and down.mimetype == "text/html"
    assert "cannot be reached right now" in down.get_data(as_text=True)
    assert client.get("/ui/login").status_code == 200  # the password form still works
    with running(tmp_path / "provider.log", port):
        back = client.get("/ui/oidc/login")
        assert back.status_code == 302
        assert back.headers["Location"].startswith(f"http://127.0.0.1:{port}/oauth2/authorize?")


def test_a_provider_without_a_usable_discovery_document_gives_a_502(
    store: Store, oidc_provider: Provider
) -> None:
    # The provider answers, but not at this issuer's discovery address (a 404 there).
    app = make_ui(store, **sso(f"{oidc_provider.issuer}/realms/missing"))
    answer = app.test_client().get("/ui/oidc/login")
    assert answer.status_code == 502
    assert "sent an answer skillrelay cannot use" in answer.get_data(as_text=True)


def test_without_settings_there_is_no_single_sign_on(store: Store) -> None:
    client = make_ui(store).test_client()
    assert "single sign-on" not in client.get("/ui/login").get_data(as_text=True)
    assert client.get("/ui/oidc/login").status_code == 404
    assert client.get("/ui/oidc/callback?state=a&code=b").status_code == 404
