"""Events set aside, for admins in the web UI: listed with their reasons, given back one at
a time or all at once, each action audited and done once; bad input changes nothing."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from plugin.store import Store
from tests.test_pipeline_support import drain, pipeline
from tests.test_webui_admin import admin as admin  # the fixture
from tests.test_webui_admin import app as app  # the fixture
from tests.test_webui_admin import text
from tests.test_webui_app import client_of, russian_client, token
from tests.test_webui_app import world as world  # the fixture

REASON = "unreadable ticket payload: ticket.natural_key: Field required"


def unreadable(store: Store, count: int) -> list[int]:
    """Ticket events stored by an older version, say, that no worker can read: set aside."""
    for n in range(count):
        payload = {"kind": "ticket", "summary": "\x00"}
        store.inbox.add("jira", "ticket", f"jira:bad-{n:03}", payload)
    drain(pipeline(store))
    return sorted(i.id for i in store.inbox.list(status="failed", limit=1000))


def test_an_event_set_aside_is_listed_and_given_back_once(
    admin: FlaskClient, world: tuple[Store, dict[str, int]]
) -> None:
    store, _ = world
    first, second = unreadable(store, 2)
    page = text(admin.get("/ui/set-aside"))
    assert page.count("<h1>") == 1 and "2 event(s) set aside." in page
    assert f'id="event-{first}"' in page and "jira:bad-000" in page and REASON in page
    assert f'aria-label="Give back event {first}"' in page

    form = {"event": str(first), "csrf_token": token(admin, "/ui/set-aside")}
    given = text(admin.post("/ui/set-aside/retry", data=form, follow_redirects=True))
    assert f"Event {first} goes back to the workers." in given
    assert f'id="event-{first}"' not in given and "1 event(s) set aside." in given
    assert store.inbox.get(first).status == "new"  # type: ignore[union-attr]
    again = text(admin.post("/ui/set-aside/retry", data=form, follow_redirects=True))
    assert f"Event {first} is new, not set aside: nothing changed." in again
    rows = [e for e in store.audit.list() if e.action == "events.retry"]
    assert [(r.target, r.detail["outcome"]) for r in rows if r.detail] == [
        (f"event:{first}", "unchanged"),
        (f"event:{first}", "new"),
    ]
    # Still unreadable: the next run sets it aside again, with its reason.
    drain(pipeline(store, worker="w2"))
    assert store.inbox.get(first).error.startswith(REASON)  # type: ignore[union-attr]
    assert store.inbox.get(second).status == "failed"  # type: ignore[union-attr]


def test_all_are_given_back_at_once(
    admin: FlaskClient, world: tuple[Store, dict[str, int]]
) -> None:
    store, _ = world
    ids = unreadable(store, 3)
    assert "Give back all 3" in text(admin.get("/ui/set-aside"))
    form = {"all": "1", "csrf_token": token(admin, "/ui/set-aside")}
    page = text(admin.post("/ui/set-aside/retry", data=form, follow_redirects=True))
    assert "3 event(s) go back to the workers." in page
    assert "No events are set aside" in page
    assert store.inbox.count_by_status()["failed"] == 0
    [row] = [e for e in store.audit.list() if e.action == "events.retry"]
    assert (row.target, row.detail) == ("events:set-aside", {"count": 3, "ids": ids})


def test_the_list_is_paged(admin: FlaskClient, world: tuple[Store, dict[str, int]]) -> None:
    store, _ = world
    unreadable(store, 60)
    first = text(admin.get("/ui/set-aside"))
    assert "60 event(s) set aside." in first
    assert "jira:bad-059" in first and "jira:bad-010" in first and "jira:bad-009" not in first
    found = re.search(r'href="(/ui/set-aside\?before=\d+)">Older<', first)
    assert found
    second = text(admin.get(found.group(1)))
    assert "jira:bad-009" in second and "jira:bad-000" in second and "jira:bad-010" not in second


@pytest.mark.parametrize("person", ["amara.okafor", "ben.carter"])
def test_only_admins_see_or_give_back(
    app: Flask, world: tuple[Store, dict[str, int]], person: str
) -> None:
    store, _ = world
    [event] = unreadable(store, 1)
    client = client_of(app, person)
    assert client.get("/ui/set-aside").status_code == 403
    csrf = token(client, "/ui/me")
    for form in ({"event": str(event)}, {"all": "1"}):
        assert (
            client.post("/ui/set-aside/retry", data={**form, "csrf_token": csrf}).status_code == 403
        )
    assert store.inbox.get(event).status == "failed"  # type: ignore[union-attr]
    refused = {e.action for e in store.audit.list() if e.person_id == person}
    assert {"events.view_set_aside.refused", "events.retry.refused"} <= refused
    assert "/ui/set-aside" not in text(client.get("/ui/me"))


@pytest.mark.parametrize(("event", "status"), [("abc", 400), ("", 400), ("999999", 404)])
def test_tampered_give_backs_change_nothing(
    admin: FlaskClient, world: tuple[Store, dict[str, int]], event: str, status: int
) -> None:
    store, _ = world
    [found] = unreadable(store, 1)
    form = {"event": event, "csrf_token": token(admin, "/ui/set-aside")}
    assert admin.post("/ui/set-aside/retry", data=form).status_code == status
    assert store.inbox.get(found).status == "failed"  # type: ignore[union-attr]


def test_without_the_csrf_token_nothing_is_given_back(
    admin: FlaskClient, world: tuple[Store, dict[str, int]]
) -> None:
    store, _ = world
    [found] = unreadable(store, 1)
    assert admin.post("/ui/set-aside/retry", data={"all": "1"}).status_code == 400
    assert store.inbox.get(found).status == "failed"  # type: ignore[union-attr]


def test_in_russian(world: tuple[Store, dict[str, int]]) -> None:
    store, _ = world
    unreadable(store, 1)
    client = russian_client(store, "chloe.nguyen")
    page = text(client.get("/ui/set-aside"))
    assert "Отложенные события" in page and "Вернуть все (1)" in page
    assert "Отложено событий: 1." in page and 'aria-label="Вернуть событие' in page
