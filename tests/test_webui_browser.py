"""The web UI end to end: real Chromium against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from playwright.sync_api import Page
from werkzeug.serving import make_server

from plugin.store import Store
from tests.peers.browser import save_screenshot
from tests.test_pipeline_support import NOW, effect_keys, northwind
from tests.test_webui_app import PASSWORD, add_users, make_ui


@pytest.fixture
def served(
    sqlite_template: object, tmp_path: object
) -> Iterator[tuple[str, Store, dict[str, int]]]:
    from pathlib import Path

    assert isinstance(sqlite_template, Path) and isinstance(tmp_path, Path)
    (tmp_path / "store.db").write_bytes(sqlite_template.read_bytes())
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    awards = northwind(store)
    add_users(store)
    store.checkins.add(awards["PAY-101"], "amara.okafor", "ben.carter", NOW + timedelta(days=7))
    server = make_server("127.0.0.1", 0, make_ui(store), threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", store, awards
    finally:
        server.shutdown()
        thread.join(5)
        store.close()


def sign_in(page: Page, base: str, person: str) -> None:
    page.goto(f"{base}/ui/login")
    page.get_by_label("Person id").fill(person)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_a_manager_approves_and_checks_in(
    served: tuple[str, Store, dict[str, int]], page: Page, page_errors: list[str]
) -> None:
    base, store, awards = served
    page.goto(f"{base}/ui/login")
    save_screenshot(page, "webui-login")
    sign_in(page, base, "amara.okafor")
    assert page.url == f"{base}/ui/dashboard"  # a manager lands on the dashboard
    page.get_by_role("link", name="Approvals", exact=True).click()
    page.wait_for_load_state()
    rows = page.locator("tbody tr")
    assert rows.count() == 1  # Ben's award; Farah's (another team) is not shown
    assert "PAY-101" in rows.first.inner_text() and "RISK-7" not in page.inner_text("body")
    save_screenshot(page, "webui-approvals")

    before = effect_keys(store)
    page.get_by_label(f"Select {awards['PAY-101']}").check()
    page.get_by_label("Note (optional)").fill("Nice use of the query plan")
    page.get_by_role("button", name="Approve selected").click()
    page.wait_for_load_state()
    assert f"Award {awards['PAY-101']} approved" in page.inner_text("body")
    approved = store.awards.get(awards["PAY-101"])
    assert approved is not None and approved.state == "approved"
    assert store.awards.events(approved.id)[-1].note == "Nice use of the query plan"
    queued = [k for k in effect_keys(store) if k not in before]
    targets = {
        item.target for item in store.outbox.list(limit=1000) if item.idempotency_key in queued
    }
    assert {"jira", "lrs"} <= targets, targets
    save_screenshot(page, "webui-approved")

    page.get_by_role("link", name="Check-ins").click()
    page.wait_for_load_state()
    save_screenshot(page, "webui-checkins")
    page.get_by_label("Note").fill("Talked about indexes")
    page.get_by_role("button", name="Record check-in").click()
    page.wait_for_load_state()
    assert "recorded" in page.inner_text("body")
    [checkin] = store.checkins.list(manager="amara.okafor")
    assert checkin.note == "Talked about indexes" and checkin.done_by == "amara.okafor"

    page.get_by_role("link", name="My page").click()
    page.wait_for_load_state()
    save_screenshot(page, "webui-me-manager")
    page.goto(f"{base}/ui/people/ben.carter")
    assert "Nice use of the query plan" in page.inner_text("body")
    save_screenshot(page, "webui-person")
    assert page_errors == []


def test_a_learner_sees_only_their_own(
    served: tuple[str, Store, dict[str, int]], page: Page, page_errors: list[str]
) -> None:
    base, store, awards = served
    sign_in(page, base, "ben.carter")
    assert page.url == f"{base}/ui/me"
    assert "PAY-101" in page.inner_text("body")
    save_screenshot(page, "webui-me")
    response = page.goto(f"{base}/ui/people/farah.haddad")
    assert response is not None and response.status == 403
    assert "You may not see or change this." in page.inner_text("body")
    save_screenshot(page, "webui-forbidden")
    # A POST without the CSRF token, with the learner's own cookie: refused, nothing changes.
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    refused = requests.post(
        f"{base}/ui/approvals",
        data={"award": str(awards["PAY-101"]), "action": "approve"},
        cookies=cookies,
        allow_redirects=False,
        timeout=10,
    )
    assert refused.status_code == 400
    assert store.awards.get(awards["PAY-101"]).state == "pending_approval"  # type: ignore[union-attr]
    page.goto(f"{base}/ui/me")
    page.wait_for_load_state()
    # 403 is a page the browser logs as a failed load; only that one is expected.
    assert [e for e in page_errors if "403" not in e] == []


def test_the_audit_page_for_an_admin(
    served: tuple[str, Store, dict[str, int]], page: Page, page_errors: list[str]
) -> None:
    base, _, _ = served
    sign_in(page, base, "chloe.nguyen")
    page.goto(f"{base}/ui/audit")
    assert "login" in page.inner_text("table")
    save_screenshot(page, "webui-audit")
    assert page_errors == []
