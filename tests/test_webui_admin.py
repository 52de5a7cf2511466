"""The L&D admin pages through Flask's test client, on SQLite and PostgreSQL: skills and
mappings with "try a ticket", unmatched identities and their mapping, and the outbox with
retries. Admins only; every action audited, done once, and bad input changes nothing."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from plugin import cli
from plugin.commands.identities import Row, suggest
from plugin.domain import PersonRef
from plugin.settings import EXAMPLE_MANIFEST
from plugin.store import OutboxItem, Store
from tests.test_pipeline_support import (
    FLAGS,
    MANIFEST,
    T0,
    award_of,
    completion,
    drain,
    move,
    pipeline,
    put,
    ticket,
    worked,
)
from tests.test_webui_app import client_of, make_ui, russian_client, token
from tests.test_webui_app import world as world  # the fixture
from webui.pages import identities
from webui.pages.identities import indexed_suggestion

KOFI = "712020:kofi-from-another-site"  # a Jira account the manifest does not know
LATER = datetime(2100, 1, 1, tzinfo=UTC)  # claims every effect, whatever the store's clock


def text(response: object) -> str:
    return html.unescape(response.get_data(as_text=True))  # type: ignore[attr-defined]


def held_ticket(store: Store) -> None:
    """Kofi completed the feature-flags module; PAY-303 was done by an assignee Jira names
    with an id nobody claims: the award waits for a mapping."""
    assignee = PersonRef(system="jira", id=KOFI, display_name="Kofi Asante")
    day = T0 + timedelta(days=2)
    put(store, [completion("kofi.asante", FLAGS), *worked(ticket("PAY-303", assignee, FLAGS), day)])
    drain(pipeline(store))


def dead_and_done(store: Store) -> tuple[OutboxItem, OutboxItem]:
    """Two of the effects the northwind awards queued: one delivered, one given up on."""
    done, dead = store.outbox.claim_due(LATER, 2, "w1")
    store.outbox.start([done.id, dead.id], "w1", LATER, 60)
    store.outbox.mark_done(done.id)
    store.outbox.mark_dead(dead.id, "jira (HTTP 400): Bad Request")
    return done, dead


@pytest.fixture
def app(world: tuple[Store, dict[str, int]]) -> Flask:
    return make_ui(world[0])


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    return client_of(app, "chloe.nguyen")


# --- who may ---


@pytest.mark.parametrize("person", ["amara.okafor", "ben.carter"])
def test_only_admins_see_or_act(
    app: Flask, world: tuple[Store, dict[str, int]], person: str
) -> None:
    store, _ = world
    held_ticket(store)
    _, dead = dead_and_done(store)
    client = client_of(app, person)
    for path in ("/ui/skills", "/ui/skills?ticket=PAY-101", "/ui/identities", "/ui/outbox"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "You may not see or change this." in text(response)
    csrf = token(client, "/ui/me")
    form = {"system": "jira", "external_id": KOFI, "person": "kofi.asante", "csrf_token": csrf}
    assert client.post("/ui/identities", data=form).status_code == 403
    retry = {"effect": str(dead.id), "csrf_token": csrf}
    assert client.post("/ui/outbox/retry", data=retry).status_code == 403
    # Nothing changed, and each refusal is in the audit.
    identity = store.identities.get("jira", KOFI)
    assert identity is not None and identity.person_id is None
    assert store.outbox.get(dead.id).status == "dead"  # type: ignore[union-attr]
    refused = {e.action for e in store.audit.list() if e.person_id == person}
    assert {"skills.view.refused", "identities.view.refused", "outbox.view.refused"} <= refused
    assert {"identity.map.refused", "outbox.retry.refused"} <= refused
    # And no header link leads there.
    page = text(client.get("/ui/me"))
    assert "/ui/skills" not in page and "/ui/identities" not in page and "/ui/outbox" not in page


def test_admins_find_the_pages_in_the_header(admin: FlaskClient) -> None:
    page = text(admin.get("/ui/me"))
    links = re.findall(r'<a href="(/ui/[a-z-]+)"', page)
    assert links.index("/ui/skills") < links.index("/ui/identities") < links.index("/ui/outbox")
    assert links.index("/ui/outbox") < links.index("/ui/set-aside") < links.index("/ui/audit")


# --- skills and mappings ---


def test_each_skill_with_its_modules_and_mapping(admin: FlaskClient) -> None:
    response = admin.get("/ui/skills")
    assert response.status_code == 200
    page = text(response)
    assert page.count("<h1>") == 1
    assert "edit the manifest in version control" in page
    for skill in MANIFEST.skills:
        assert f'id="skill-{skill.id}"' in page and skill.name in page
        for module in skill.modules:
            assert module.title in page
    assert '<a href="https://lms.northwind.example/mod/page/view.php?id=2101"' in page
    assert "15 min" in page  # Reading a query plan
    assert "skill-sql-indexing" in page and "Ledger DB" in page
    assert "field customfield_10050 =" in page and "One paid learning hour" in page
    assert str(EXAMPLE_MANIFEST) in page
    skills, modules = len(MANIFEST.skills), sum(len(s.modules) for s in MANIFEST.skills)
    assert f"Valid: {skills} skills, {modules} modules" in page and "No warnings." in page


def test_the_file_as_manifest_validate_reads_it(
    world: tuple[Store, dict[str, int]], tmp_path: Path
) -> None:
    path = tmp_path / "manifest.yaml"
    original = EXAMPLE_MANIFEST.read_text()
    path.write_text(original.replace("name: Northwind Payments", "name: Northwind Pay"))
    client = client_of(make_ui(world[0], MANIFEST=str(path)), "chloe.nguyen")
    page = text(client.get("/ui/skills"))
    assert str(path) in page and "The file has changed since skillrelay loaded it" in page
    path.write_text(original.replace("minutes: 15", "minutes: 500"))
    page = text(client.get("/ui/skills"))
    assert "reports problems in the file now on disk" in page
    assert re.search(rf"{re.escape(str(path))}:\d+: skills\[0\]\.modules\[0\]\.minutes:", page)
    assert "SQL indexing" in page  # the loaded manifest is still shown, and used


def test_trying_a_ticket_tells_what_explain_tells(
    admin: FlaskClient,
    world: tuple[Store, dict[str, int]],
    store_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, awards = world
    code = cli.main(
        ["explain", "PAY-101", "--manifest", str(EXAMPLE_MANIFEST), "--database", store_url]
    )
    told = capsys.readouterr().out.splitlines()
    assert code == 0 and told
    response = admin.get("/ui/skills?ticket=pay-101")
    assert response.status_code == 200
    page = text(response)
    for step in told[0].split(" — "):
        assert f"<li>{step}</li>" in page
    assert "Ben Carter (ben.carter)" in page and "One paid learning hour" in page
    assert f"award {awards['PAY-101']}: awarded on" in page  # the ledger's history
    assert "SQL indexing" in page.split("Skills it shows")[1]


def test_trying_tickets_nobody_knows_or_not_done(
    admin: FlaskClient, world: tuple[Store, dict[str, int]]
) -> None:
    store, _ = world
    unknown = admin.get("/ui/skills?ticket=NOPE-1")
    assert unknown.status_code == 200
    assert "No event names NOPE-1 yet." in text(unknown)
    started = ticket("PAY-404", "ben.carter")
    put(store, [move(started, "new", "indeterminate", T0 + timedelta(days=3))])
    page = text(admin.get("/ui/skills?ticket=PAY-404"))
    assert "PAY-404 “Work on PAY-404” is in status “Done” (category indeterminate" in page
    assert "has not been done yet" in page
    assert "SQL indexing" in page.split("Skills it shows")[1]


def test_trying_a_ticket_the_workers_have_not_decided_yet(
    admin: FlaskClient, world: tuple[Store, dict[str, int]]
) -> None:
    store, _ = world
    assert admin.get("/ui/skills?ticket=PAY-505").status_code == 200  # the engine is warm
    put(store, worked(ticket("PAY-505", "ben.carter", FLAGS), T0 + timedelta(days=4)))
    assert not store.decisions.for_ticket("PAY-505")  # not in the decisions log yet
    page = text(admin.get("/ui/skills?ticket=PAY-505"))
    assert "PAY-505 'Work on PAY-505' showed skill feature-flags" in page
    assert "not awarded: ben.carter has not completed a module teaching feature-flags" in page


def test_trying_a_ticket_held_for_an_unmatched_assignee(
    admin: FlaskClient, world: tuple[Store, dict[str, int]]
) -> None:
    held_ticket(world[0])
    page = text(admin.get("/ui/skills?ticket=PAY-303"))
    assert f"the assignee jira:{KOFI} is not mapped to a person" in page
    assert 'href="/ui/identities"' in page


@pytest.mark.parametrize(
    "given", ["PAY 101", "101", "PAY-", "' OR 1=1 --", "<script>x</script>", "A" * 5000]
)
def test_a_ticket_key_that_is_not_one_is_a_400(admin: FlaskClient, given: str) -> None:
    response = admin.get("/ui/skills", query_string={"ticket": given})
    assert response.status_code == 400
    page = text(response)
    assert "is not a Jira ticket key" in page
    assert "<script>x" not in response.get_data(as_text=True)  # shown escaped
    assert "SQL indexing" in page  # the page itself still there, with the form


# --- identities ---


def test_an_unmatched_id_is_listed_mapped_and_its_award_appears(
    app: Flask, admin: FlaskClient, world: tuple[Store, dict[str, int]]
) -> None:
    store, _ = world
    held_ticket(store)
    assert not [a for a in store.awards.list(person="kofi.asante")]
    page = text(admin.get("/ui/identities"))
    assert page.count("<h1>") == 1
    assert KOFI in page and "Kofi Asante" in page
    assert "0 completion(s), 1 done ticket(s)" in page
    assert 'name="person" value="kofi.asante"' in page  # the suggestion, filled in
    assert "same name Kofi Asante" in page and f'jira_account_id: "{KOFI}"' in page

    form = {
        "system": "jira",
        "external_id": KOFI,
        "person": "kofi.asante",
        "csrf_token": token(admin, "/ui/identities"),
    }
    done = admin.post("/ui/identities", data=form, follow_redirects=True)
    assert done.status_code == 200
    assert f"jira:{KOFI} is now kofi.asante" in text(done)
    assert KOFI not in text(done).split("</h1>")[1]  # gone from the list
    mapped = store.identities.get("jira", KOFI)
    assert mapped is not None and mapped.person_id == "kofi.asante"
    mapped_at = mapped.mapped_at

    drain(pipeline(store))  # what the running workers do next
    award = award_of(store, "kofi.asante", "PAY-303")
    assert award.state == "approved"  # 50 points: no approval needed
    explained = text(admin.get("/ui/skills?ticket=PAY-303"))
    assert "awarded '50 skill points'" in explained and "Kofi Asante (kofi.asante)" in explained

    again = admin.post("/ui/identities", data=form, follow_redirects=True)
    assert f"jira:{KOFI} was already mapped to kofi.asante: nothing changed." in text(again)
    assert store.identities.get("jira", KOFI).mapped_at == mapped_at  # type: ignore[union-attr]
    rows = [e for e in store.audit.list() if e.action == "identity.map"]
    assert [r.detail["outcome"] for r in rows if r.detail] == ["unchanged", "mapped"]
    assert rows[1].target == f"jira:{KOFI}" and rows[1].person_id == "chloe.nguyen"


def test_a_person_not_in_the_manifest_is_a_400(
    admin: FlaskClient, world: tuple[Store, dict[str, int]]
) -> None:
    store, _ = world
    held_ticket(store)
    form = {
        "system": "jira",
        "external_id": KOFI,
        "person": "kofi",
        "csrf_token": token(admin, "/ui/identities"),
    }
    response = admin.post("/ui/identities", data=form)
    assert response.status_code == 400
    assert "There is no person “kofi” in the manifest, so nothing was mapped." in text(response)
    assert KOFI in text(response)  # the list is still there to try again
    identity = store.identities.get("jira", KOFI)
    assert identity is not None and identity.person_id is None


def test_the_manifest_wins_over_a_mapping(
    admin: FlaskClient, world: tuple[Store, dict[str, int]]
) -> None:
    store, _ = world
    ben = MANIFEST.people_by_id["ben.carter"].jira_account_id
    assert ben is not None and store.identities.get("jira", ben) is not None
    form = {"system": "jira", "external_id": ben, "csrf_token": token(admin, "/ui/identities")}
    response = admin.post("/ui/identities", data={**form, "person": "kofi.asante"})
    assert response.status_code == 409
    assert "the manifest wins over a mapping" in text(response)
    same = admin.post(
        "/ui/identities", data={**form, "person": "ben.carter"}, follow_redirects=True
    )
    assert "The manifest already says" in text(same)
    assert store.identities.learned().get(("jira", ben)) == "ben.carter"
    assert store.identities.last_mapped() is None


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"system": "ldap"}, 400),
        ({"system": ""}, 400),
        ({"external_id": ""}, 400),
        ({"external_id": "x" * 1001}, 400),
        ({"person": "p" * 201}, 400),
        ({"external_id": "712020:never-seen"}, 404),
    ],
)
def test_tampered_mappings_change_nothing(
    admin: FlaskClient,
    world: tuple[Store, dict[str, int]],
    form: dict[str, str],
    status: int,
) -> None:
    store, _ = world
    held_ticket(store)
    sent = {"system": "jira", "external_id": KOFI, "person": "kofi.asante", **form}
    response = admin.post(
        "/ui/identities", data={**sent, "csrf_token": token(admin, "/ui/identities")}
    )
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert store.identities.last_mapped() is None


def test_a_mapping_without_the_csrf_token_is_refused(
    admin: FlaskClient, world: tuple[Store, dict[str, int]]
) -> None:
    store, _ = world
    held_ticket(store)
    form = {"system": "jira", "external_id": KOFI, "person": "kofi.asante"}
    assert admin.post("/ui/identities", data=form).status_code == 400
    assert store.identities.last_mapped() is None


def test_unmatched_ids_are_paged(admin: FlaskClient, world: tuple[Store, dict[str, int]]) -> None:
    store, _ = world
    for n in range(55):
        store.identities.upsert("jira", f"acc-stranger-{n:03}", display_name=f"Stranger {n}")
    first = text(admin.get("/ui/identities"))
    assert "55 unmatched id(s)." in first
    assert "acc-stranger-000" in first and "acc-stranger-049" in first
    assert "acc-stranger-050" not in first
    found = re.search(r'href="(/ui/identities\?after=[^"]+)">More<', first)
    assert found
    second = text(admin.get(found.group(1)))
    assert "acc-stranger-050" in second and "acc-stranger-054" in second
    assert "acc-stranger-049" not in second and ">More<" not in second
    assert admin.get("/ui/identities?after=nonsense").status_code == 400
    assert admin.get("/ui/identities?after=jira:" + "x" * 1001).status_code == 400


def test_suggestions_from_the_index_match_the_cli(
    app: Flask,
    admin: FlaskClient,
    world: tuple[Store, dict[str, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = [
        Row("jira", "a1", None, None, emails=["Farah.Haddad@northwind.example"]),
        Row("jira", "a2", None, None, emails=["farah.haddad@elsewhere.example"]),
        Row("xapi", "mbox:mailto:kofi.asante@northwind.example", None, None),
        Row("moodle", "777", None, None, names=["Nobody Known", "kofi asante"]),
        Row("jira", "a5", None, None, names=["Nobody Known"]),
    ]
    with app.app_context():
        for row in rows:
            assert indexed_suggestion(MANIFEST, row) == suggest(MANIFEST, row), row
    # A manifest past SUGGEST_ALL people is read from the index: the page says the same.
    monkeypatch.setattr(identities, "SUGGEST_ALL", 0)
    held_ticket(world[0])
    page = text(admin.get("/ui/identities"))
    assert "(same name Kofi Asante)" in page and 'name="person" value="kofi.asante"' in page


# --- outbox ---


def test_dead_effects_are_retried_once(
    admin: FlaskClient, world: tuple[Store, dict[str, int]]
) -> None:
    store, _ = world
    done, dead = dead_and_done(store)
    page = text(admin.get("/ui/outbox?state=dead"))
    assert page.count("<h1>") == 1
    assert f'id="effect-{dead.id}"' in page and f'id="effect-{done.id}"' not in page
    assert "jira (HTTP 400): Bad Request" in page and dead.idempotency_key in page
    assert "Dead (1)" in page
    assert f'aria-label="Retry effect {dead.id}"' in page

    form = {"effect": str(dead.id), "csrf_token": token(admin, "/ui/outbox")}
    first = admin.post("/ui/outbox/retry", data=form, follow_redirects=True)
    assert f"Effect {dead.id} ({dead.target}/{dead.action}) will be sent again" in text(first)
    again = store.outbox.get(dead.id)
    assert again is not None and (again.status, again.attempts) == ("pending", 0)
    second = admin.post("/ui/outbox/retry", data=form, follow_redirects=True)
    assert f"Effect {dead.id} is waiting, not dead: nothing to retry" in text(second)
    assert store.outbox.get(dead.id) == again
    delivered = admin.post(
        "/ui/outbox/retry", data={**form, "effect": str(done.id)}, follow_redirects=True
    )
    assert f"Effect {done.id} is delivered, not dead" in text(delivered)
    assert store.outbox.get(done.id).status == "done"  # type: ignore[union-attr]
    rows = [e for e in store.audit.list() if e.action == "outbox.retry"]
    assert [(r.target, r.detail["outcome"]) for r in rows if r.detail] == [
        (f"effect:{done.id}", "unchanged"),
        (f"effect:{dead.id}", "unchanged"),
        (f"effect:{dead.id}", "pending"),
    ]


def test_the_tabs(admin: FlaskClient, world: tuple[Store, dict[str, int]]) -> None:
    store, _ = world
    done, dead = dead_and_done(store)
    waiting = text(admin.get("/ui/outbox"))
    assert 'aria-current="page">Waiting' in waiting
    assert f'id="effect-{done.id}"' not in waiting and f'id="effect-{dead.id}"' not in waiting
    assert "Retry" not in waiting.split("<table")[1]
    delivered = text(admin.get("/ui/outbox?state=delivered"))
    assert f'id="effect-{done.id}"' in delivered and "delivered" in delivered
    assert "Retry" not in delivered.split("<table")[1]
    store.outbox.retry(dead.id)
    assert "No dead effects" in text(admin.get("/ui/outbox?state=dead"))


def test_the_outbox_is_paged(admin: FlaskClient, world: tuple[Store, dict[str, int]]) -> None:
    store, _ = world
    before = store.outbox.count(["pending", "in_flight"])
    for n in range(60):
        store.outbox.enqueue(f"test:{n:03}", "jira", "comment", {"n": n})
    first = text(admin.get("/ui/outbox?state=waiting"))
    assert f"Waiting ({before + 60})" in first
    assert "test:059" in first and "test:010" in first and "test:009" not in first
    found = re.search(r'href="(/ui/outbox\?state=waiting&before=\d+)">Older<', first)
    assert found
    second = text(admin.get(found.group(1)))
    assert "test:009" in second and "test:000" in second and "test:010" not in second


@pytest.mark.parametrize(
    "path",
    ["/ui/outbox?state=everything", "/ui/outbox?before=-1", "/ui/outbox?before=1" + "0" * 30],
)
def test_bad_outbox_links_are_a_400(admin: FlaskClient, path: str) -> None:
    response = admin.get(path)
    assert response.status_code == 400 and response.mimetype == "text/html"


@pytest.mark.parametrize(("effect", "status"), [("abc", 400), ("", 400), ("999999", 404)])
def test_tampered_retries_change_nothing(
    admin: FlaskClient, world: tuple[Store, dict[str, int]], effect: str, status: int
) -> None:
    store, _ = world
    _, dead = dead_and_done(store)
    form = {"effect": effect, "csrf_token": token(admin, "/ui/outbox")}
    assert admin.post("/ui/outbox/retry", data=form).status_code == status
    assert store.outbox.get(dead.id).status == "dead"  # type: ignore[union-attr]


# --- in Russian ---


def test_the_pages_in_russian(world: tuple[Store, dict[str, int]]) -> None:
    store, _ = world
    held_ticket(store)
    dead_and_done(store)
    client = russian_client(store, "chloe.nguyen")
    skills = text(client.get("/ui/skills?ticket=PAY-101"))
    assert "Навыки и их привязка к задачам" in skills and "Получит" in skills
    assert "«X» — не ключ задачи Jira" in text(client.get("/ui/skills?ticket=X"))
    identities = text(client.get("/ui/identities"))
    assert "Несопоставленные учётные записи" in identities and "Сопоставить" in identities
    outbox = text(client.get("/ui/outbox?state=dead"))
    assert "Не отправлено (1)" in outbox and "Отправить снова" in outbox
