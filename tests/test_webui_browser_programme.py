"""The dashboard, ledger and sprint pages end to end: real Chromium against a real HTTP
server on 127.0.0.1, for a manager, an admin and a learner."""

from __future__ import annotations

import csv
from pathlib import Path

from playwright.sync_api import Page

from plugin.store import Store
from tests.peers.a11y import serious_violations
from tests.peers.browser import save_screenshot
from tests.test_webui_browser import served as served  # the fixture
from tests.test_webui_browser import sign_in

Served = tuple[str, Store, dict[str, int]]
SPRINT = "2026-11-a"


def keep(page: Page, name: str) -> None:
    """A screenshot of the page, once it is known to be usable with a screen reader."""
    page.wait_for_load_state()
    assert serious_violations(page) == [], name
    save_screenshot(page, name)


def figure(page: Page, stage: int) -> str:
    return page.locator(f"#stage-{stage} td.number").inner_text()


def ledger_tickets(page: Page) -> list[str]:
    return [r.inner_text() for r in page.locator("table.ledger tbody tr td:nth-child(5)").all()]


def test_a_manager_sees_their_teams_filters_and_downloads(
    served: Served, page: Page, page_errors: list[str], tmp_path: Path
) -> None:
    base, _, _ = served
    sign_in(page, base, "amara.okafor")
    page.get_by_role("link", name="Dashboard", exact=True).click()
    page.get_by_role("combobox", name="Sprint").select_option(SPRINT)
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert f"sprint={SPRINT}" in page.url
    # Payments Core: Ben, Chloe and Diego take part; Ben and Chloe learned and applied.
    assert [figure(page, n) for n in range(1, 6)] == ["3", "2", "2", "2", "2"]
    assert page.locator("#state-pending_approval td").inner_text() == "1"  # not Farah's
    assert "1 award(s) waiting for approval" in page.inner_text("#waiting")
    assert page.get_by_role("heading", name="Dead letters").count() == 0
    keep(page, "webui-dashboard-manager")

    page.get_by_role("link", name="Ledger", exact=True).click()
    page.wait_for_load_state()
    assert sorted(ledger_tickets(page)) == ["PAY-101", "PAY-202"]
    assert "Farah" not in page.inner_text("main")
    keep(page, "webui-ledger-manager")
    page.get_by_label("Skill").select_option(label="SQL indexing")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_load_state()
    assert "skill=sql-indexing" in page.url
    assert ledger_tickets(page) == ["PAY-101"]
    keep(page, "webui-ledger-manager-filtered")

    with page.expect_download() as started:
        page.get_by_role("link", name="Download these awards as CSV").click()
    saved = tmp_path / "awards.csv"
    started.value.save_as(saved)
    with saved.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["Ticket"], r["Person"]) for r in rows] == [("PAY-101", "Ben Carter")]

    page.get_by_role("link", name="Sprints", exact=True).click()
    page.wait_for_load_state()
    keep(page, "webui-sprints-manager")
    page.get_by_role("link", name=SPRINT, exact=True).click()
    page.wait_for_load_state()
    people = page.locator("#participants-title + table tbody th").all_inner_texts()
    assert people == ["Ben Carter", "Chloe Nguyen", "Diego Ramirez"]
    assert "RISK-7" not in page.inner_text("main")
    keep(page, "webui-sprint-manager")
    assert page_errors == []


def test_an_admin_sees_everyone(served: Served, page: Page, page_errors: list[str]) -> None:
    base, _, _ = served
    sign_in(page, base, "chloe.nguyen")
    page.goto(f"{base}/ui/dashboard?sprint={SPRINT}")
    assert [figure(page, n) for n in range(1, 6)] == ["6", "3", "3", "3", "3"]
    assert "No effect was given up on." in page.inner_text("#dead")
    keep(page, "webui-dashboard-admin")

    page.get_by_role("link", name="Ledger", exact=True).click()
    page.wait_for_load_state()
    assert sorted(ledger_tickets(page)) == ["PAY-101", "PAY-202", "RISK-7"]
    page.get_by_label("Team").select_option(label="Risk Platform")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_load_state()
    assert ledger_tickets(page) == ["RISK-7"]
    keep(page, "webui-ledger-admin")
    # A date typed in and Enter pressed: the form sends itself, no script needed.
    page.get_by_label("Ticket done from").fill("2026-11-05")
    page.get_by_label("Ticket done from").press("Enter")
    page.wait_for_load_state()
    assert "No award matches these filters." in page.inner_text("main")

    page.goto(f"{base}/ui/sprints/{SPRINT}")
    assert "Farah Haddad" in page.inner_text("#participants-title + table")
    keep(page, "webui-sprint-admin")
    assert page_errors == []


def test_a_learner_sees_only_themself(served: Served, page: Page, page_errors: list[str]) -> None:
    base, _, _ = served
    sign_in(page, base, "ben.carter")
    assert page.get_by_role("link", name="Dashboard", exact=True).count() == 0
    page.get_by_role("link", name="Ledger", exact=True).click()
    page.wait_for_load_state()
    assert ledger_tickets(page) == ["PAY-101"]
    assert page.get_by_label("Person").count() == 0  # their own awards only
    keep(page, "webui-ledger-learner")

    page.get_by_role("link", name="Sprints", exact=True).click()
    page.wait_for_load_state()
    keep(page, "webui-sprints-learner")
    page.get_by_role("link", name=SPRINT, exact=True).click()
    page.wait_for_load_state()
    people = page.locator("#participants-title + table tbody th").all_inner_texts()
    assert people == ["Ben Carter"]
    assert "PAY-202" not in page.inner_text("main")
    keep(page, "webui-sprint-learner")

    response = page.goto(f"{base}/ui/dashboard")
    assert response is not None and response.status == 403
    refused = page.goto(f"{base}/ui/ledger?person=farah.haddad")
    assert refused is not None and refused.status == 403
    assert "RISK-7" not in page.inner_text("body")
    page.goto(f"{base}/ui/ledger")
    page.wait_for_load_state()
    # A 403 is a page the browser logs as a failed load; only those are expected.
    assert [e for e in page_errors if "403" not in e] == []
