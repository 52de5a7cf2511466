"""Every page of the web UI, in English and Russian, passes axe-core's checks with no serious
or critical violation, and the daily path works from the keyboard alone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from plugin.store import Store
from tests.peers.a11y import serious_violations
from tests.test_webui_app import PASSWORD
from tests.test_webui_browser import served, sign_in

__all__ = ["served"]  # the fixture: a real server on 127.0.0.1 over the northwind awards

PAGES = (
    "/ui/dashboard",
    "/ui/approvals",
    "/ui/checkins",
    "/ui/ledger",
    "/ui/ledger?state=approved",
    "/ui/sprints",
    "/ui/sprints/2026-11-a",
    "/ui/me",
    "/ui/people/ben.carter",
    "/ui/skills",
    "/ui/skills?ticket=PAY-101",
    "/ui/identities",
    "/ui/outbox",
    "/ui/outbox?state=dead",
    "/ui/set-aside",
    "/ui/audit",
)


def test_the_sign_in_page_has_no_serious_violation(
    served: tuple[str, Store, dict[str, int]], page: Page
) -> None:
    base, _, _ = served
    page.goto(f"{base}/ui/login")
    assert serious_violations(page) == []


@pytest.mark.parametrize(
    ("person", "locale"), [("chloe.nguyen", "en"), ("chloe.nguyen", "ru"), ("amara.okafor", "en")]
)
def test_every_page_has_no_serious_violation(
    served: tuple[str, Store, dict[str, int]],
    page: Page,
    page_errors: list[str],
    monkeypatch: pytest.MonkeyPatch,
    person: str,
    locale: str,
) -> None:
    from webui import views

    base, _, _ = served
    sign_in(page, base, person)
    if locale == "ru":  # as for a person whose manifest locale is ru
        monkeypatch.setattr(views, "locale", lambda: "ru")
    found: dict[str, list[str]] = {}
    checked = 0
    for path in PAGES:
        response = page.goto(f"{base}{path}")
        assert response is not None
        if response.status == 403:  # a manager's view: the admin pages refuse, the rest open
            continue
        assert response.status == 200, path
        assert page.locator("html").get_attribute("lang") == locale
        checked += 1
        problems = serious_violations(page)
        if problems:
            found[path] = problems
    assert found == {}
    assert checked >= (len(PAGES) if person == "chloe.nguyen" else 9)
    if person == "chloe.nguyen":  # the manager's refused pages log their 403s
        assert page_errors == []


def test_a_manager_approves_with_the_keyboard_alone(
    served: tuple[str, Store, dict[str, int]], page: Page
) -> None:
    base, store, awards = served
    page.goto(f"{base}/ui/login")
    page.keyboard.press("Tab")
    found = page.evaluate("document.activeElement.name")
    while found != "person":  # past the header and the single sign-on link, if any
        page.keyboard.press("Tab")
        found = page.evaluate("document.activeElement.name")
    page.keyboard.type("amara.okafor")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{base}/ui/dashboard"
    page.goto(f"{base}/ui/approvals")
    box = page.get_by_label(f"Select {awards['PAY-101']}")
    box.focus()
    page.keyboard.press("Space")
    assert box.is_checked()
    for _ in range(10):  # past the row's ticket link, to the note
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "note":
            break
    page.keyboard.type("Approved from the keyboard")
    page.keyboard.press("Tab")  # to "Approve selected"
    assert page.evaluate("document.activeElement.value") == "approve"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    award = store.awards.get(awards["PAY-101"])
    assert award is not None and award.state == "approved"
