"""The L&D admin pages end to end: real Chromium against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from playwright.sync_api import Page

from plugin.store import Store
from tests.peers.a11y import serious_violations
from tests.peers.browser import save_screenshot
from tests.test_pipeline_support import award_of, drain, pipeline
from tests.test_webui_admin import KOFI, dead_and_done, held_ticket
from tests.test_webui_browser import served as served  # the fixture
from tests.test_webui_browser import sign_in
from tests.test_webui_set_aside import REASON, unreadable

Served = tuple[str, Store, dict[str, int]]


def test_an_admin_maps_an_unmatched_id_and_the_held_award_appears(
    served: Served, page: Page, page_errors: list[str]
) -> None:
    base, store, _ = served
    held_ticket(store)
    sign_in(page, base, "chloe.nguyen")
    page.get_by_role("link", name="Identities").click()
    page.wait_for_load_state()
    row = page.locator("tbody tr", has_text=KOFI)
    assert "Kofi Asante" in row.inner_text() and "1 done ticket(s)" in row.inner_text()
    person = page.get_by_label(f"Person id for jira:{KOFI}")
    assert person.input_value() == "kofi.asante"  # the suggestion, filled in
    save_screenshot(page, "webui-admin-identities")

    row.get_by_role("button", name="Map").click()
    page.wait_for_load_state()
    assert f"jira:{KOFI} is now kofi.asante" in page.inner_text("body")
    assert "Every id skillrelay has seen is matched to a person." in page.inner_text("body")
    save_screenshot(page, "webui-admin-identity-mapped")

    drain(pipeline(store))  # the workers `serve` runs pick the mapping up
    award = award_of(store, "kofi.asante", "PAY-303")
    page.goto(f"{base}/ui/people/kofi.asante")
    line = page.locator(f"#award-{award.id}")
    assert "PAY-303" in line.inner_text() and "approved" in line.inner_text()
    save_screenshot(page, "webui-admin-award-after-mapping")
    assert page_errors == []


def test_an_admin_retries_a_dead_effect(served: Served, page: Page, page_errors: list[str]) -> None:
    base, store, _ = served
    _, dead = dead_and_done(store)
    sign_in(page, base, "chloe.nguyen")
    page.get_by_role("link", name="Outbox", exact=True).click()
    page.wait_for_load_state()
    save_screenshot(page, "webui-admin-outbox-waiting")
    page.get_by_role("link", name="Dead (1)").click()
    page.wait_for_load_state()
    assert "jira (HTTP 400): Bad Request" in page.inner_text(f"#effect-{dead.id}")
    save_screenshot(page, "webui-admin-outbox-dead")

    form = page.locator(f"#effect-{dead.id} form")
    sent = {
        "effect": str(dead.id),
        "csrf_token": form.locator("input[name=csrf_token]").get_attribute("value") or "",
    }
    page.get_by_role("button", name=f"Retry effect {dead.id}").click()
    page.wait_for_load_state()
    body = page.inner_text("body")
    assert f"Effect {dead.id} ({dead.target}/{dead.action}) will be sent again" in body
    assert "No dead effects" in body
    item = store.outbox.get(dead.id)
    assert item is not None and (item.status, item.attempts) == ("pending", 0)
    save_screenshot(page, "webui-admin-outbox-retried")
    # The same form sent again (a double click, a reload): it acts once.
    again = page.request.post(f"{base}/ui/outbox/retry", form=sent)
    assert again.ok and f"Effect {dead.id} is waiting, not dead: nothing to retry" in again.text()
    assert store.outbox.get(dead.id) == item
    assert page_errors == []


def test_an_admin_gives_back_an_event_set_aside(
    served: Served, page: Page, page_errors: list[str]
) -> None:
    base, store, _ = served
    [event] = unreadable(store, 1)
    sign_in(page, base, "chloe.nguyen")
    page.get_by_role("link", name="Set aside", exact=True).click()
    page.wait_for_load_state()
    assert REASON in page.inner_text(f"#event-{event}")
    assert serious_violations(page) == []
    save_screenshot(page, "webui-admin-set-aside")

    page.get_by_role("button", name=f"Give back event {event}").click()
    page.wait_for_load_state()
    body = page.inner_text("body")
    assert f"Event {event} goes back to the workers." in body
    assert "No events are set aside" in body
    assert store.inbox.get(event).status == "new"  # type: ignore[union-attr]
    drain(pipeline(store, worker="w2"))  # still unreadable: set aside again
    page.reload()
    assert REASON in page.inner_text(f"#event-{event}")
    page.get_by_role("button", name="Give back all 1").click()
    page.wait_for_load_state()
    assert "1 event(s) go back to the workers." in page.inner_text("body")
    assert page_errors == []


def test_trying_a_ticket_shows_the_explain_chain(
    served: Served, page: Page, page_errors: list[str]
) -> None:
    base, _, awards = served
    sign_in(page, base, "chloe.nguyen")
    page.get_by_role("link", name="Skills").click()
    page.wait_for_load_state()
    assert "Reading a query plan" in page.inner_text("#skill-sql-indexing")
    save_screenshot(page, "webui-admin-skills")

    key = page.get_by_label("Ticket key")
    key.fill("PAY-101")
    key.press("Enter")  # keyboard only
    page.wait_for_load_state()
    verdicts = page.locator("table.verdicts tbody tr")
    assert verdicts.count() == 1
    chain = [step.strip() for step in verdicts.first.locator("ol.chain li").all_inner_texts()]
    assert chain[0].startswith("ben.carter completed 'Reading a query plan'")
    assert "inside the 30-day window" in chain[-2]
    assert chain[-1].startswith("awarded 'One paid learning hour' (needs manager approval)")
    assert f"award {awards['PAY-101']}: awarded on" in verdicts.first.inner_text()
    save_screenshot(page, "webui-admin-try-ticket")

    page.get_by_label("Ticket key").fill("NOPE-7")
    page.get_by_role("button", name="Explain").click()
    page.wait_for_load_state()
    assert "No event names NOPE-7 yet." in page.inner_text("body")
    assert page_errors == []


def test_a_manager_may_not_open_them(served: Served, page: Page, page_errors: list[str]) -> None:
    base, _, _ = served
    sign_in(page, base, "amara.okafor")
    links = page.locator("header nav").inner_text()
    assert "Skills" not in links and "Identities" not in links and "Outbox" not in links
    for path in ("skills", "identities", "outbox"):
        response = page.goto(f"{base}/ui/{path}")
        assert response is not None and response.status == 403
        assert "You may not see or change this." in page.inner_text("body")
    save_screenshot(page, "webui-admin-forbidden")
    # A 403 is a page the browser logs as a failed load; only those are expected.
    assert [e for e in page_errors if "403" not in e] == []
