"""The HTML report as people open it: in real Chromium, offline, in English and Russian."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page

from bench.report_org import SKILL, Org, fill, manifest
from plugin.report.facts import read_activity
from plugin.report.measures import build
from plugin.report.page import as_html
from plugin.report.scope import make_scope
from plugin.report.words import Words
from plugin.store import Store
from tests.peers.browser import save_screenshot

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def org_store(sqlite_template: Path, tmp_path: Path) -> Store:
    (tmp_path / "store.db").write_bytes(sqlite_template.read_bytes())
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    fill(store, Org(effect=0.75, seed=1))
    return store


@pytest.mark.parametrize(
    ("lang", "headings"),
    [
        ("en", ["Funnel", "Time to apply", "Work before and after", "Rewards", "Modules"]),
        ("ru", ["Воронка", "Время до применения", "Работа до и после", "Награды", "Модули"]),
    ],
)
def test_the_report_renders_offline_with_its_plots(
    org_store: Store,
    page: Page,
    page_errors: list[str],
    tmp_path: Path,
    lang: str,
    headings: list[str],
) -> None:
    org = Org(effect=0.75, seed=1)
    found = manifest(org)
    with org_store:
        report = build(
            read_activity(org_store, found),
            org_store.awards.list(),
            found,
            make_scope(found, skill=SKILL),
            NOW,
        )
    file = tmp_path / f"report-{lang}.html"
    file.write_text(as_html(report, Words(lang)), encoding="utf-8")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(file.as_uri())
    page.wait_for_load_state()

    assert requests == [file.as_uri()]  # one file: nothing fetched, it works offline
    assert page.locator("html").get_attribute("lang") == lang
    for heading in headings:
        assert page.get_by_role("heading", name=heading).count() >= 1, heading
    # Funnel, time to apply and before/after for the skill: each a visible, sized plot.
    svgs = page.locator("svg[role=img]")
    assert svgs.count() >= 3
    for i in range(svgs.count()):
        box = svgs.nth(i).bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 50
    assert page.locator("svg .sr-bar, svg [class*=sr-bar]").count() >= 5  # the funnel's bars
    text = page.inner_text("body")
    assert ("−" in text or "-" in text) and "%" in text  # the difference is shown as a change
    assert page_errors == []
    save_screenshot(page, f"report-{lang}")
