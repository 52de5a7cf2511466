"""The dashboard, ledger and sprint pages through Flask's test client, on SQLite and
PostgreSQL: who sees which figures, the funnel from the inbox and the ledger, filters,
paging, the CSV download and tampered parameters."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from plugin.domain import CompletionState, Progress
from plugin.store import NewAward, Store
from tests.test_pipeline_support import (
    FLAGS,
    MANIFEST,
    SQL,
    T0,
    completion,
    learner,
    northwind,
    put,
)
from tests.test_webui_app import KEY, add_users, client_of, make_ui, russian_client
from webhooks import create_app

SPRINT = "2026-11-a"  # northwind's three awards: tickets done on 4 November
FUNNEL = ("Taking part", "Started a module", "Completed a module", "Applied a skill")


def text(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def funnel(page: str) -> list[int]:
    """The funnel's five counts, in order, as the page shows them."""
    rows = re.findall(r'<tr id="stage-\d">\s*<th scope="row">[^<]*</th>\s*<td[^>]*>(\d+)<', page)
    return [int(n) for n in rows]


def state_count(page: str, state: str) -> int:
    found = re.search(rf'id="state-{state}".*?class="number">(?:<a [^>]*>)?(\d+)', page)
    assert found, state
    return int(found.group(1))


def tickets(page: str) -> set[str]:
    return set(re.findall(r"\b(?:PAY|RISK|WEB)-[0-9]+\b", page))


def award(store: Store, person: str, ticket: str, day: int = 5, **extra: object) -> int:
    values: dict[str, object] = {
        "person_id": person,
        "skill_id": "sql-indexing",
        "ticket_key": ticket,
        "reward_id": "paid-learning-hour",
        "points": 20,
        "state": "approved",
        "ticket_done_at": datetime(2026, 11, day, 9, 0, tzinfo=UTC),
        "sprint_id": SPRINT,
        **extra,
    }
    created, _ = store.awards.insert(NewAward(**values))  # type: ignore[arg-type]
    return created.id


# --- the dashboard ---


def test_a_manager_sees_their_teams_figures(
    app: Flask, world: tuple[Store, dict[str, int]]
) -> None:
    amara = client_of(app, "amara.okafor")
    page = text(amara, f"/ui/dashboard?sprint={SPRINT}")
    # Payments Core: Ben, Chloe and Diego; Ben and Chloe completed and applied a module.
    assert funnel(page) == [3, 2, 2, 2, 2]
    assert state_count(page, "pending_approval") == 1  # Ben's; Farah's is another team's
    assert state_count(page, "approved") == 1
    assert "1 award(s) waiting for approval" in page
    assert "Dead letters" not in page  # the organisation's, for admins
    assert "One paid learning hour" in page and "Budgets are shared" in page
    elena = client_of(app, "elena.petrova")
    page = text(elena, f"/ui/dashboard?sprint={SPRINT}")
    assert funnel(page) == [3, 1, 1, 1, 1]
    assert state_count(page, "approved") == 0


def test_an_admin_sees_everyone_and_the_dead_letters(
    app: Flask, world: tuple[Store, dict[str, int]]
) -> None:
    store, _ = world
    admin = client_of(app, "chloe.nguyen")
    page = text(admin, f"/ui/dashboard?sprint={SPRINT}")
    assert funnel(page) == [6, 3, 3, 3, 3]
    assert state_count(page, "pending_approval") == 2
    assert "2 award(s) waiting for approval" in page
    assert "No effect was given up on." in page
    [effect] = store.outbox.list(limit=1)
    store.outbox.mark_dead(effect.id, "400 from Jira")
    page = text(admin, f"/ui/dashboard?sprint={SPRINT}")
    assert "1 effect(s) on Jira or the LRS were given up on." in page
    assert 'href="/ui/outbox"' in page


def test_a_learner_has_no_dashboard(app: Flask, world: tuple[Store, dict[str, int]]) -> None:
    ben = client_of(app, "ben.carter")
    assert ben.get("/ui/dashboard").status_code == 403
    assert 'href="/ui/dashboard"' not in text(ben, "/ui/me")
    assert 'href="/ui/dashboard"' in text(client_of(app, "amara.okafor"), "/ui/me")
    refused = [e for e in world[0].audit.list() if e.action == "dashboard.view.refused"]
    assert [e.person_id for e in refused] == ["ben.carter"]


def test_the_funnel_counts_learning_inside_the_sprint(
    app: Flask, world: tuple[Store, dict[str, int]]
) -> None:
    store, _ = world
    amara = client_of(app, "amara.okafor")
    assert funnel(text(amara, f"/ui/dashboard?sprint={SPRINT}"))[:3] == [3, 2, 2]
    # Diego opens a module on the sprint's first day: he started, not completed.
    diego = learner("diego.ramirez")
    viewed = Progress(
        source="moodle",
        natural_key="view-1",
        person=diego,
        module=FLAGS,
        verb="viewed",
        at=datetime(2026, 11, 2, 8, 0, tzinfo=UTC),
    )
    store.inbox.add("moodle", "progress", "view-1", payload=viewed.model_dump(mode="json"))
    assert funnel(text(amara, f"/ui/dashboard?sprint={SPRINT}"))[:3] == [3, 3, 2]
    # Completed at 01:30 in Moscow on 16 November: 22:30 on the 15th in London, the
    # sprint's last day. A completion after the sprint does not count.
    late = completion("diego.ramirez", SQL, datetime(2026, 11, 16, 1, 30, tzinfo=UTC))
    moscow = late.model_copy(update={"at": datetime.fromisoformat("2026-11-16T01:30:00+03:00")})
    put(store, [moscow])
    assert funnel(text(amara, f"/ui/dashboard?sprint={SPRINT}"))[:3] == [3, 3, 3]
    after = completion("diego.ramirez", FLAGS, T0 + timedelta(days=20))
    failed = completion("diego.ramirez", FLAGS, T0, CompletionState.FAILED)
    put(store, [after, failed])
    assert funnel(text(amara, f"/ui/dashboard?sprint={SPRINT}"))[:3] == [3, 3, 3]
    # The next sprint: Payments Core again, with Web Checkout's people and Lena.
    page = text(amara, "/ui/dashboard?sprint=2026-11-b")
    assert funnel(page) == [3, 1, 1, 0, 0]


def test_the_sprint_picker(app: Flask, world: tuple[Store, dict[str, int]]) -> None:
    amara = client_of(app, "amara.okafor")
    page = text(amara, "/ui/dashboard")  # the latest sprint that has started
    assert '<option value="2026-11-b" selected>' in page
    assert f'<option value="{SPRINT}">' in page
    response = amara.get("/ui/dashboard?sprint=2099-x")
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "There is no sprint “2099-x” in the manifest." in response.get_data(as_text=True)


def test_the_dashboard_in_russian(world: tuple[Store, dict[str, int]]) -> None:
    amara = russian_client(world[0], "amara.okafor")
    page = text(amara, f"/ui/dashboard?sprint={SPRINT}")
    assert "Воронка спринта" in page and "Остаток бюджета" in page
    assert "Наград, ждущих согласования: 1" in page
    assert "Журнал наград" in text(amara, "/ui/ledger") and "Спринты" in page
    refused = amara.get("/ui/ledger?skill=cooking")
    assert "Навыка «cooking» в манифесте нет." in refused.get_data(as_text=True)


# --- the ledger ---


def test_the_ledger_by_role(app: Flask, world: tuple[Store, dict[str, int]]) -> None:
    assert tickets(text(client_of(app, "chloe.nguyen"), "/ui/ledger")) == {
        "PAY-101",
        "PAY-202",
        "RISK-7",
    }
    amara = text(client_of(app, "amara.okafor"), "/ui/ledger")
    assert tickets(amara) == {"PAY-101", "PAY-202"} and "Farah" not in amara
    ben = text(client_of(app, "ben.carter"), "/ui/ledger")
    assert tickets(ben) == {"PAY-101"}
    assert 'name="person"' not in ben and 'name="team"' not in ben  # only their own


@pytest.mark.parametrize(
    ("query", "seen"),
    [
        ("skill=feature-flags", {"PAY-202"}),
        ("state=pending_approval", {"PAY-101", "RISK-7"}),
        ("team=payments-core", {"PAY-101", "PAY-202"}),
        ("person=farah.haddad", {"RISK-7"}),
        (f"sprint={SPRINT}&skill=sql-indexing", {"PAY-101", "RISK-7"}),
        ("sprint=2026-11-b", set()),
        ("from=2026-11-04&to=2026-11-04", {"PAY-101", "PAY-202", "RISK-7"}),
        ("to=2026-11-03", set()),
        ("from=2026-11-05", set()),
        ("person=&skill=&state=", {"PAY-101", "PAY-202", "RISK-7"}),  # the form's "any"
    ],
)
def test_ledger_filters(
    app: Flask, world: tuple[Store, dict[str, int]], query: str, seen: set[str]
) -> None:
    page = text(client_of(app, "chloe.nguyen"), f"/ui/ledger?{query}")
    assert tickets(page) == seen
    if not seen:
        assert "No award matches these filters." in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("skill=cooking", "There is no skill “cooking” in the manifest."),
        ("state=lost", "“lost” is not a state an award can be in."),
        ("sprint=2099-x", "There is no sprint “2099-x” in the manifest."),
        ("team=marketing", "There is no team “marketing” in the manifest."),
        ("person=nobody.at.all", "There is no person “nobody.at.all” in the manifest."),
        ("from=2026-02-30", "“2026-02-30” is not a date: write it as YYYY-MM-DD."),
        ("to=yesterday", "“yesterday” is not a date"),
        ("from=2026-11-05&to=2026-11-01", "The period starts (2026-11-05) after it ends"),
        ("before=1%20OR%201%3D1", "is not a page position from this site."),
        ("after=-5", "is not a page position from this site."),
        ("before=" + "9" * 19, "is not a page position from this site."),
        ("skill=" + "x" * 201, "The value of “skill” is too long."),
        ("person=%00ben.carter", "The value of “person” holds a control character."),
        ("sprint=2026%0A11-a", "The value of “sprint” holds a control character."),
    ],
)
def test_bad_filters_are_refused_clearly(
    app: Flask, world: tuple[Store, dict[str, int]], query: str, message: str
) -> None:
    admin = client_of(app, "chloe.nguyen")
    paging = query.startswith(("before=", "after="))  # the download has no pages
    for path in ("/ui/ledger",) if paging else ("/ui/ledger", "/ui/ledger.csv"):
        response = admin.get(f"{path}?{query}")
        assert response.status_code == 400 and response.mimetype == "text/html"
        assert message in response.get_data(as_text=True)
    assert not [e for e in world[0].audit.list() if e.action == "ledger.export"]


@pytest.mark.parametrize(
    ("person", "query"),
    [
        ("amara.okafor", "person=farah.haddad"),
        ("amara.okafor", "team=risk-platform"),
        ("amara.okafor", "person=nobody.at.all"),  # no hint who exists
        ("ben.carter", "person=chloe.nguyen"),
        ("ben.carter", "team=payments-core"),
    ],
)
def test_other_peoples_awards_are_refused(
    app: Flask, world: tuple[Store, dict[str, int]], person: str, query: str
) -> None:
    client = client_of(app, person)
    for path in ("/ui/ledger", "/ui/ledger.csv"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 403
        assert "RISK-7" not in response.get_data(as_text=True)
    refused = [e for e in world[0].audit.list() if e.action == "ledger.view.refused"]
    assert len(refused) == 2 and {e.person_id for e in refused} == {person}


def test_a_control_character_is_refused_before_anything_is_read(
    app: Flask, world: tuple[Store, dict[str, int]]
) -> None:
    ben = client_of(app, "ben.carter")
    for path in ("/ui/ledger?person=%00farah.haddad", "/ui/sprints/2026-11-a?page=1%00"):
        response = ben.get(path)
        assert response.status_code == 400 and "control character" in response.get_data(
            as_text=True
        )
    assert not [e for e in world[0].audit.list() if e.action.endswith(".refused")]


def test_the_ledger_pages(app: Flask, world: tuple[Store, dict[str, int]]) -> None:
    store, _ = world
    made = [award(store, "ben.carter", f"PAY-{1000 + n}") for n in range(115)]
    amara = client_of(app, "amara.okafor")
    seen: list[str] = []
    path = "/ui/ledger?person=ben.carter"
    pages = []
    while True:
        page = text(amara, path)
        pages.append(page)
        rows = re.findall(r'<tr id="award-(\d+)">', page)
        assert 0 < len(rows) <= 50
        seen += rows
        older = re.search(r'href="([^"]+)" rel="next"', page)
        if older is None:
            break
        path = older.group(1).replace("&amp;", "&")
        assert "person=ben.carter" in path  # the filters carry into the link
    assert len(pages) == 3
    assert [int(i) for i in seen] == sorted([*made, world[1]["PAY-101"]], reverse=True)
    assert 'rel="prev"' not in pages[0]
    # Back from the last page: the page before it, exactly.
    newer = re.search(r'href="([^"]+)" rel="prev"', pages[2])
    assert newer is not None
    back = text(amara, newer.group(1).replace("&amp;", "&"))
    assert re.findall(r'<tr id="award-(\d+)">', back) == seen[50:100]


def test_the_csv_download(app: Flask, world: tuple[Store, dict[str, int]]) -> None:
    store, _ = world
    hostile = ['=HYPERLINK("https://evil.example")', "+1+2", "-2+3", "@SUM(A1)", 'PAY-9,"x"']
    for n, key in enumerate(hostile):
        award(store, "ben.carter", key, day=6 + n)
    for n in range(60):  # more than a page: the download has every row
        award(store, "chloe.nguyen", f"PAY-{2000 + n}", day=10)
    amara = client_of(app, "amara.okafor")
    response = amara.get("/ui/ledger.csv?team=payments-core")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 2 + len(hostile) + 60
    keys = {row["Ticket"] for row in rows}
    assert "RISK-7" not in keys and {"PAY-101", "PAY-202"} <= keys
    assert {
        '\'=HYPERLINK("https://evil.example")',
        "'+1+2",
        "'-2+3",
        "'@SUM(A1)",
        'PAY-9,"x"',
    } <= keys
    ben = next(row for row in rows if row["Ticket"] == "PAY-101")
    assert ben["Person"] == "Ben Carter" and ben["State"] == "waiting for approval"
    assert ben["Teams"] == "Payments Core" and ben["Ticket done"].startswith("2026-11-04T10:00")
    filtered = amara.get("/ui/ledger.csv?skill=feature-flags").get_data().decode("utf-8-sig")
    assert [r["Ticket"] for r in csv.DictReader(io.StringIO(filtered))] == ["PAY-202"]
    exports = [e for e in store.audit.list() if e.action == "ledger.export"]
    assert [e.detail for e in exports] == [{"skill": "feature-flags"}, {"team": "payments-core"}]
    learner_csv = client_of(app, "ben.carter").get("/ui/ledger.csv").get_data().decode("utf-8-sig")
    assert {r["Person id"] for r in csv.DictReader(io.StringIO(learner_csv))} == {"ben.carter"}


# --- sprints ---


def test_the_sprint_list(app: Flask, world: tuple[Store, dict[str, int]]) -> None:
    def people(page: str, sprint: str) -> int:
        found = re.search(rf'id="sprint-{sprint}".*?class="number">(\d+)<', page, re.S)
        assert found, sprint
        return int(found.group(1))

    admin = text(client_of(app, "chloe.nguyen"), "/ui/sprints")
    assert (people(admin, SPRINT), people(admin, "2026-11-b")) == (6, 6)
    assert "2026-11-02 to 2026-11-15 (14 days)" in admin
    amara = text(client_of(app, "amara.okafor"), "/ui/sprints")
    assert (people(amara, SPRINT), people(amara, "2026-11-b")) == (3, 3)
    ben = text(client_of(app, "ben.carter"), "/ui/sprints")
    assert (people(ben, SPRINT), people(ben, "2026-11-b")) == (1, 1)


def test_a_sprint_page(app: Flask, world: tuple[Store, dict[str, int]]) -> None:
    amara = text(client_of(app, "amara.okafor"), f"/ui/sprints/{SPRINT}")
    assert "Ben Carter" in amara and "Diego Ramirez" in amara and "Farah" not in amara
    assert "Reading a query plan" in amara  # a module of a focus skill, with its minutes
    assert tickets(amara) == {"PAY-101", "PAY-202"}
    assert state_count(amara, "pending_approval") == 1
    ben_row = re.search(r'id="person-ben.carter">(.*?)</tr>', amara, re.S)
    assert ben_row is not None
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", ben_row.group(1))
    assert cells == ["Payments Core", "yes", "yes", "1", "0"]  # pending: no points yet
    chloe_row = re.search(r'id="person-chloe.nguyen">(.*?)</tr>', amara, re.S)
    assert (
        chloe_row is not None
        and re.findall(r"<td[^>]*>([^<]*)</td>", chloe_row.group(1))[-1] == "50"
    )
    admin = text(client_of(app, "chloe.nguyen"), f"/ui/sprints/{SPRINT}")
    assert tickets(admin) == {"PAY-101", "PAY-202", "RISK-7"} and "Farah Haddad" in admin
    ben = text(client_of(app, "ben.carter"), f"/ui/sprints/{SPRINT}")
    assert tickets(ben) == {"PAY-101"} and "Chloe" not in ben.split("<main>")[1]


def test_sprint_pages_refuse_bad_addresses(app: Flask, world: tuple[Store, dict[str, int]]) -> None:
    admin = client_of(app, "chloe.nguyen")
    assert admin.get("/ui/sprints/2099-x").status_code == 404
    for page in ("0", "2", "abc", "9" * 10):
        response = admin.get(f"/ui/sprints/{SPRINT}?page={page}")
        assert response.status_code == 400, page
        assert "is not a page of this list" in response.get_data(as_text=True)
    assert admin.post(f"/ui/sprints/{SPRINT}").status_code in (400, 405)


def test_a_long_participant_list_is_paged(store: Store) -> None:
    data = MANIFEST.model_dump(mode="json", exclude_none=True)
    extra = [
        {"id": f"p{n:03d}", "name": f"Person {n:03d}", "email": f"p{n}@northwind.example"}
        for n in range(120)
    ]
    data["identities"]["people"] += extra
    data["sprints"][0]["participants"] = [p["id"] for p in extra]
    manifest = type(MANIFEST).model_validate(data)
    add_users(store)
    settings = {"ALLOW_UNSIGNED": True, "UI_SECRET_KEY": KEY, "UI_INSECURE_HTTP": True}
    app = create_app(settings, store=store, manifest=manifest, env={})
    admin = client_of(app, "chloe.nguyen")
    names: list[str] = []
    for page in (1, 2, 3):
        found = text(admin, f"/ui/sprints/{SPRINT}?page={page}")
        assert f"Page {page} of 3" in found
        names += re.findall(r">(Person \d+)</a>", found)
    assert names == [f"Person {n:03d}" for n in range(120)]


@pytest.fixture
def world(store: Store) -> tuple[Store, dict[str, int]]:
    awards = northwind(store)
    add_users(store)
    return store, awards


@pytest.fixture
def app(world: tuple[Store, dict[str, int]]) -> Flask:
    return make_ui(world[0])


@pytest.mark.parametrize(("chunk", "few"), [(2, 0), (2, 1000), (5000, 0)])
def test_many_people_read_in_parts_show_the_same(
    app: Flask,
    world: tuple[Store, dict[str, int]],
    monkeypatch: pytest.MonkeyPatch,
    chunk: int,
    few: int,
) -> None:
    """A large team is read in several IN lists, and without the person index: the pages
    show what one list through the index shows."""
    store, _ = world
    for n in range(60):
        person = ("ben.carter", "chloe.nguyen", "diego.ramirez")[n % 3]
        award(store, person, f"PAY-{3000 + n}", day=2 + n % 14, state="approved")
    paths = (
        f"/ui/dashboard?sprint={SPRINT}",
        f"/ui/sprints/{SPRINT}",
        "/ui/ledger?state=approved",
        "/ui/ledger?from=2026-11-05&to=2026-11-09",
    )
    amara = client_of(app, "amara.okafor")
    expected = [text(amara, path) for path in paths]
    monkeypatch.setattr("plugin.store.ledger.PEOPLE_CHUNK", chunk)
    monkeypatch.setattr("plugin.store.ledger.FEW_PEOPLE", few)

    def shown(page: str) -> str:
        return re.sub(r'name="csrf_token" value="[^"]+"|has waited [^.]+\.', "", page)

    assert [shown(text(amara, path)) for path in paths] == [shown(p) for p in expected]
    assert "PAY-3059" in expected[2] and funnel(expected[0])[3] == 3
