"""The web UI through Flask's test client, on SQLite and PostgreSQL: sign-in, roles, CSRF,
idempotent approvals, the rate limit, check-ins and the audit trail."""

from __future__ import annotations

import html
import io
import re
import time
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from plugin import cli
from plugin.errors import ConfigError
from plugin.settings import EXAMPLE_MANIFEST
from plugin.store import Store
from tests.test_pipeline_support import MANIFEST, NOW, effect_keys, northwind
from webhooks import create_app
from webui.passwords import hash_password

KEY = "k" * 40
PASSWORD = "correct horse battery"
PEOPLE = {"amara.okafor": False, "elena.petrova": False, "ben.carter": False, "root.admin": True}


def make_ui(store: Store, **config: object) -> Flask:
    settings = {"ALLOW_UNSIGNED": True, "UI_SECRET_KEY": KEY, "UI_INSECURE_HTTP": True, **config}
    app = create_app(settings, store=store, manifest=MANIFEST, env={})
    app.config["TESTING"] = True
    return app


def add_users(store: Store) -> None:
    hashed = hash_password(PASSWORD)
    for person, admin in PEOPLE.items():
        if person in MANIFEST.people_by_id:
            store.users.add(person, hashed, is_admin=admin)
    # The example manifest has no admin: chloe.nguyen (a learner) is made one.
    store.users.add("chloe.nguyen", hashed, is_admin=True)


def token(client: FlaskClient, path: str = "/ui/login") -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def sign_in(client: FlaskClient, person: str, password: str = PASSWORD) -> int:
    form = {"person": person, "password": password, "csrf_token": token(client)}
    return client.post("/ui/login", data=form).status_code


@pytest.fixture
def world(store: Store) -> tuple[Store, dict[str, int]]:
    awards = northwind(store)
    add_users(store)
    return store, awards


@pytest.fixture
def app(world: tuple[Store, dict[str, int]]) -> Flask:
    return make_ui(world[0])


def client_of(app: Flask, person: str) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, person) == 303
    return client


def russian_client(store: Store, person: str) -> FlaskClient:
    """`person` signed in, with the manifest giving them the locale ru."""
    data = MANIFEST.model_dump(mode="json", exclude_none=True)
    for found in data["identities"]["people"]:
        if found["id"] == person:
            found["locale"] = "ru"
    manifest = type(MANIFEST).model_validate(data)
    settings = {"ALLOW_UNSIGNED": True, "UI_SECRET_KEY": KEY, "UI_INSECURE_HTTP": True}
    return client_of(create_app(settings, store=store, manifest=manifest, env={}), person)


def test_the_ui_is_off_without_a_key(store: Store) -> None:
    app = create_app({"ALLOW_UNSIGNED": True}, store=store, manifest=MANIFEST, env={})
    response = app.test_client().get("/ui/")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_a_short_key_is_refused(store: Store) -> None:
    with pytest.raises(ConfigError, match="at least 32"):
        make_ui(store, UI_SECRET_KEY="short-key-of-31-characters-----")


def test_signing_in_sets_a_safe_cookie(world: tuple[Store, dict[str, int]]) -> None:
    client = make_ui(world[0], UI_INSECURE_HTTP=False).test_client()
    assert client.get("/ui/approvals").headers["Location"].endswith("/ui/login")
    form = {"person": "amara.okafor", "password": PASSWORD, "csrf_token": token(client)}
    response = client.post("/ui/login", data=form)
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert "Path=/ui" in cookie


def test_wrong_credentials_say_the_same_whoever_it_is(app: Flask) -> None:
    client = app.test_client()
    answers = []
    for person, password in (("amara.okafor", "wrong password!"), ("no.such.person", PASSWORD)):
        form = {"person": person, "password": password, "csrf_token": token(client)}
        response = client.post("/ui/login", data=form)
        assert response.status_code == 401
        answers.append(re.sub(r'value="[^"]*"', "", response.get_data(as_text=True)))
    assert answers[0] == answers[1]
    assert "Wrong person id or password." in answers[0]
    assert client.get("/ui/me").status_code == 303  # still signed out


def test_a_manager_sees_only_their_teams_awards(
    app: Flask, world: tuple[Store, dict[str, int]]
) -> None:
    _, awards = world
    page = client_of(app, "amara.okafor").get("/ui/approvals").get_data(as_text=True)
    assert "PAY-101" in page and "RISK-7" not in page and "PAY-202" not in page
    assert f'value="{awards["PAY-101"]}"' in page
    assert "Reading a query plan" in page  # the module
    assert "inside the" in page  # why it qualified, in `skillrelay explain`'s words
    assert "https://northwind.atlassian.net/browse/PAY-101" in page
    other = client_of(app, "elena.petrova").get("/ui/approvals").get_data(as_text=True)
    assert "RISK-7" in other and "PAY-101" not in other


def test_the_reason_comes_from_the_award_or_for_older_awards_from_the_inbox(
    app: Flask, world: tuple[Store, dict[str, int]]
) -> None:
    from sqlalchemy import update

    from plugin.store.schema import awards as table

    store, awards = world
    award = store.awards.get(awards["PAY-101"])
    assert award is not None and award.evidence is not None
    said = award.evidence["why"]
    with store.transaction() as conn:  # as the engine kept it before awards held the words
        old = {k: v for k, v in award.evidence.items() if k != "why"}
        conn.execute(update(table).where(table.c.id == award.id).values(evidence=old))
    page = client_of(app, "amara.okafor").get("/ui/approvals").get_data(as_text=True)
    assert said in html.unescape(page)  # rebuilt from the inbox: the same words


def test_the_queue_is_paged_oldest_first(
    app: Flask, world: tuple[Store, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from webui import views

    monkeypatch.setattr(views, "PAGE", 1)
    admin = client_of(app, "chloe.nguyen")  # an admin sees every team's awards
    first = admin.get("/ui/approvals").get_data(as_text=True)
    assert "PAY-101" in first and "RISK-7" not in first
    more = re.search(r'href="(/ui/approvals\?after=\d+)"', first)
    assert more, first
    second = admin.get(more.group(1)).get_data(as_text=True)
    assert "RISK-7" in second and "PAY-101" not in second
    assert "The oldest waiting" in second
    assert admin.get("/ui/approvals?after=x1").status_code == 400


def test_approving_is_done_once_and_audited(
    app: Flask, world: tuple[Store, dict[str, int]]
) -> None:
    store, awards = world
    award = awards["PAY-101"]
    client = client_of(app, "amara.okafor")
    before = effect_keys(store)
    form = {
        "award": str(award),
        "action": "approve",
        "note": "well done",
        "csrf_token": token(client, "/ui/approvals"),
    }
    first = client.post("/ui/approvals", data=form, follow_redirects=True)
    assert first.status_code == 200
    assert f"Award {award} approved" in first.get_data(as_text=True)
    approved = store.awards.get(award)
    assert approved is not None and approved.state == "approved"
    events = store.awards.events(award)
    assert (events[-1].actor, events[-1].note) == ("amara.okafor", "well done")
    queued = [k for k in effect_keys(store) if k not in before]
    assert queued and any(":approved:" in k for k in queued), queued

    second = client.post("/ui/approvals", data=form, follow_redirects=True)
    assert f"Award {award} is already approved" in second.get_data(as_text=True)
    assert len(store.awards.events(award)) == len(events)
    assert [k for k in effect_keys(store) if k not in before] == queued

    rows = [e for e in store.audit.list() if e.action == "award.approve"]
    assert len(rows) == 2
    assert rows[1].person_id == "amara.okafor" and rows[1].target == f"award:{award}"
    assert rows[1].detail is not None and rows[1].detail["outcome"] == "approved"
    assert rows[1].detail["note"] == "well done" and rows[1].remote_addr == "127.0.0.1"
    assert rows[0].detail is not None and rows[0].detail["outcome"] == "unchanged"


def test_several_at_once_and_reject(app: Flask, world: tuple[Store, dict[str, int]]) -> None:
    store, awards = world
    client = client_of(app, "chloe.nguyen")  # an admin who manages nobody sees all, acts on none
    page = client.get("/ui/approvals").get_data(as_text=True)
    assert "PAY-101" in page and "RISK-7" in page and 'name="award"' not in page
    form = {
        "award": str(awards["RISK-7"]),
        "action": "reject",
        "csrf_token": token(client, "/ui/approvals"),
    }
    assert client.post("/ui/approvals", data=form).status_code == 403
    elena = client_of(app, "elena.petrova")
    form["csrf_token"] = token(elena, "/ui/approvals")
    assert elena.post("/ui/approvals", data=form).status_code == 303
    rejected = store.awards.get(awards["RISK-7"])
    assert rejected is not None and rejected.state == "rejected"


def test_another_teams_award_is_refused(app: Flask, world: tuple[Store, dict[str, int]]) -> None:
    store, awards = world
    client = client_of(app, "amara.okafor")
    csrf = token(client, "/ui/approvals")
    # One of theirs and one of another team's: refused whole, nothing changes.
    both = {
        "award": [str(awards["PAY-101"]), str(awards["RISK-7"])],
        "action": "approve",
        "csrf_token": csrf,
    }
    response = client.post("/ui/approvals", data=both)
    assert response.status_code == 403
    assert "You may not see or change this." in response.get_data(as_text=True)
    assert {store.awards.get(i).state for i in (awards["PAY-101"], awards["RISK-7"])} == {
        "pending_approval"
    }  # type: ignore[union-attr]
    refused = store.audit.list()[0]
    assert refused.action == "award.approve.refused" and refused.target == str(awards["RISK-7"])


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"award": "999999", "action": "approve"}, 404),
        ({"award": "7 OR 1=1", "action": "approve"}, 400),
        ({"award": "-1", "action": "approve"}, 400),
        ({"award": "1" * 40, "action": "approve"}, 400),
        ({"action": "approve"}, 400),
        ({"award": "AWARD", "action": "delete"}, 400),
        ({"award": "AWARD", "action": "approve", "note": "x" * 2001}, 400),
    ],
)
def test_tampered_forms_change_nothing(
    app: Flask, world: tuple[Store, dict[str, int]], form: dict[str, str], status: int
) -> None:
    store, awards = world
    client = client_of(app, "amara.okafor")
    sent = {k: v.replace("AWARD", str(awards["PAY-101"])) for k, v in form.items()}
    response = client.post(
        "/ui/approvals", data={**sent, "csrf_token": token(client, "/ui/approvals")}
    )
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert store.awards.get(awards["PAY-101"]).state == "pending_approval"  # type: ignore[union-attr]


def test_a_post_without_the_csrf_token_is_refused(
    app: Flask, world: tuple[Store, dict[str, int]]
) -> None:
    store, awards = world
    client = client_of(app, "amara.okafor")
    for csrf in (None, "forged"):
        form = {"award": str(awards["PAY-101"]), "action": "approve"}
        if csrf:
            form["csrf_token"] = csrf
        response = client.post("/ui/approvals", data=form)
        assert response.status_code == 400
        assert "nothing was changed" in response.get_data(as_text=True)
    assert store.awards.get(awards["PAY-101"]).state == "pending_approval"  # type: ignore[union-attr]
    # The sign-in form needs it too.
    fresh = app.test_client()
    assert (
        fresh.post("/ui/login", data={"person": "amara.okafor", "password": PASSWORD}).status_code
        == 400
    )


def test_the_rate_limit(app: Flask) -> None:
    client = app.test_client()
    for _ in range(5):
        form = {"person": "ben.carter", "password": "not the password", "csrf_token": token(client)}
        assert client.post("/ui/login", data=form).status_code == 401
    # The sixth try is refused even with the right password, from this address or any.
    assert sign_in(client, "ben.carter") == 429
    other = app.test_client()
    form = {"person": "ben.carter", "password": PASSWORD, "csrf_token": token(other)}
    assert (
        other.post("/ui/login", data=form, environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code
        == 429
    )
    # The address is limited too: another person from it is refused.
    assert sign_in(client, "amara.okafor") == 429
    assert [e.action for e in app.extensions["skillrelay"].store.audit.list(limit=3)] == [
        "login.limited"
    ] * 3


def test_an_expired_session_goes_back_to_sign_in(
    app: Flask, world: tuple[Store, dict[str, int]]
) -> None:
    client = client_of(app, "amara.okafor")
    assert client.get("/ui/approvals").status_code == 200
    with client.session_transaction() as session:
        session["at"] = time.time() - 9 * 3600
    response = client.get("/ui/approvals")
    assert response.status_code == 303 and response.headers["Location"].endswith("/ui/login")
    form = {"award": str(world[1]["PAY-101"]), "action": "approve"}
    assert client.post("/ui/approvals", data=form).status_code == 303


def test_a_new_password_ends_sessions(app: Flask, world: tuple[Store, dict[str, int]]) -> None:
    client = client_of(app, "ben.carter")
    world[0].users.set_password("ben.carter", hash_password("another password"))
    assert client.get("/ui/me").status_code == 303


def test_pages_by_role(app: Flask, world: tuple[Store, dict[str, int]]) -> None:
    ben = client_of(app, "ben.carter")
    me = ben.get("/ui/me")
    assert me.status_code == 200 and "PAY-101" in me.get_data(as_text=True)
    assert "waiting for approval" in me.get_data(as_text=True)
    modules = me.get_data(as_text=True).split("<h2>Modules</h2>")[1].split("<h2>")[0]
    assert "Reading a query plan" in modules and "SQL indexing" in modules  # completed
    assert ben.get("/ui/people/farah.haddad").status_code == 403
    assert ben.get("/ui/people/nobody.at.all").status_code == 403  # no hint who exists
    assert ben.get("/ui/audit").status_code == 403
    assert ben.get("/ui/approvals").get_data(as_text=True).count('name="award"') == 0
    amara = client_of(app, "amara.okafor")
    assert amara.get("/ui/people/ben.carter").status_code == 200
    assert amara.get("/ui/people/farah.haddad").status_code == 403
    admin = client_of(app, "chloe.nguyen")
    assert admin.get("/ui/people/farah.haddad").status_code == 200
    assert admin.get("/ui/people/nobody.at.all").status_code == 404
    audit = admin.get("/ui/audit")
    assert audit.status_code == 200 and "person.view.refused" in audit.get_data(as_text=True)
    assert admin.get("/ui/awards/1").status_code == 404


def test_russian_for_a_russian_speaker(world: tuple[Store, dict[str, int]]) -> None:
    page = russian_client(world[0], "amara.okafor").get("/ui/approvals").get_data(as_text=True)
    assert '<html lang="ru">' in page and "Согласовать выбранные" in page


def test_recording_a_check_in(app: Flask, world: tuple[Store, dict[str, int]]) -> None:
    store, awards = world
    award = awards["PAY-101"]
    store.checkins.add(award, "amara.okafor", "ben.carter", NOW + timedelta(days=7))
    store.checkins.add(awards["RISK-7"], "elena.petrova", "farah.haddad", NOW + timedelta(days=7))
    client = client_of(app, "amara.okafor")
    page = client.get("/ui/checkins").get_data(as_text=True)
    assert f'id="checkin-{award}"' in page and f'id="checkin-{awards["RISK-7"]}"' not in page
    csrf = token(client, "/ui/checkins")
    other = {"award": str(awards["RISK-7"]), "note": "hi", "csrf_token": csrf}
    assert client.post("/ui/checkins", data=other).status_code == 403
    assert client.post("/ui/checkins", data={**other, "award": "424242"}).status_code == 404
    form = {"award": str(award), "note": "talked it through", "csrf_token": csrf}
    done = client.post("/ui/checkins", data=form, follow_redirects=True)
    assert f"Check-in on award {award} recorded." in done.get_data(as_text=True)
    again = client.post("/ui/checkins", data=form, follow_redirects=True)
    assert "recorded already" in again.get_data(as_text=True)
    [row] = store.checkins.list(manager="amara.okafor")
    assert (row.done_by, row.note) == ("amara.okafor", "talked it through")
    assert [
        e.detail["outcome"] for e in store.audit.list() if e.action == "checkin.done" and e.detail
    ] == ["unchanged", "recorded"]


def test_signing_out(app: Flask) -> None:
    client = client_of(app, "ben.carter")
    assert (
        client.post("/ui/logout", data={"csrf_token": token(client, "/ui/me")}).status_code == 303
    )
    assert client.get("/ui/me").status_code == 303
    actions = [e.action for e in app.extensions["skillrelay"].store.audit.list(limit=2)]
    assert actions == ["logout", "login"]


def test_the_users_command(
    store_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--manifest", str(EXAMPLE_MANIFEST), "--database", store_url, "--password-stdin"]
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["users", "add", "hana.sato", "--admin", *args]) == 0
    assert "may now sign in" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["users", "add", "hana.sato", *args]) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["users", "passwd", "hana.sato", *args]) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("a brand new password\n"))
    assert cli.main(["users", "passwd", "hana.sato", *args]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["users", "add", "no.such.person", *args]) == 2
    assert "not a person in the manifest" in capsys.readouterr().err
    with Store.open(store_url) as store:
        user = store.users.get("hana.sato")
        assert user is not None and user.is_admin and user.password_hash.startswith("$argon2id$")
        assert [e.action for e in store.audit.list()] == ["user.passwd", "user.add"]
        client = make_ui(store).test_client()
        assert sign_in(client, "hana.sato", "a brand new password") == 303


def test_a_persons_page_lists_the_messages_they_were_sent(
    app: Flask, world: tuple[Store, dict[str, int]]
) -> None:
    from plugin.store.notices import NewNotice

    store, _ = world
    store.notices.add_many(
        [
            NewNotice("apply:ben.carter:sql-indexing", "ben.carter", "apply_suggestion", NOW, {}),
            NewNotice("apply:farah.haddad:x", "farah.haddad", "apply_suggestion", NOW, {}),
        ]
    )
    page = client_of(app, "ben.carter").get("/ui/me").get_data(as_text=True)
    assert "Messages" in page and page.count("apply_suggestion") == 1
    other = client_of(app, "elena.petrova").get("/ui/me").get_data(as_text=True)
    assert "No messages yet." in other
