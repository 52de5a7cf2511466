"""Session fixture: a real headless Chromium (Debian's `chromium`, driven by Playwright's sync
API) for tests that check what a reader of a page sees.

Fixtures:
- `browser` (session): one Chromium for the whole run, a Playwright `Browser`. Playwright
  starts the first time a test asks for it and stops at the end of the session; a run
  without browser tests never starts it.
- `page` (function): a new page in a context of its own, closed after the test.
- `page_errors` (function): a list of what went wrong on `page`, one string a problem:
  "console error: <text>" for console messages of type error (failed loads included) and
  "page error: <message>" for uncaught exceptions. Playwright delivers them during sync
  calls, so make one (e.g. `page.wait_for_load_state()`) before asserting on the list.

`save_screenshot(page, name)` writes tests/artefacts/<name>.png and returns its path.

    def test_report_page(page: Page, page_errors: list[str]) -> None:
        page.set_content(html)
        assert page.locator("svg").count() == 5
        assert page_errors == []
        save_screenshot(page, "report")

Chromium missing is a failure that says how to install it (`make peers`), never a skip.

The sync API keeps its asyncio loop marked as running in the main thread from start to stop,
which would break any later test calling `asyncio.run()`. So the loop is handed back to
Playwright only while a test that uses the browser runs, and parked between them.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Error, Page, Playwright

__all__ = ["ARTEFACTS", "browser", "page", "page_errors", "save_screenshot"]

ARTEFACTS = Path(__file__).resolve().parents[1] / "artefacts"
HINT = "`make peers` installs it (Debian package chromium)"


@dataclass
class Chromium:
    playwright: Playwright
    browser: Browser
    parked: asyncio.AbstractEventLoop | None = None

    def park(self) -> None:
        """Hide Playwright's loop, so code outside browser tests sees no running loop."""
        if self.parked is None:
            self.parked = asyncio._get_running_loop()
            asyncio._set_running_loop(None)

    def resume(self) -> None:
        if self.parked is not None:
            asyncio._set_running_loop(self.parked)
            self.parked = None


@pytest.fixture(scope="session")
def _chromium() -> Iterator[Chromium]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(f"Chromium not found (no `chromium` on PATH): {HINT}", pytrace=False)
    from playwright.sync_api import Error, sync_playwright  # only when a browser test runs

    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox"], headless=True
        )
    except Error as exc:
        playwright.stop()
        pytest.fail(f"Chromium at {executable} did not start: {exc}\n{HINT}", pytrace=False)
    chromium = Chromium(playwright, launched)
    chromium.park()
    try:
        yield chromium
    finally:
        chromium.resume()
        try:
            launched.close()
        finally:
            playwright.stop()


@pytest.fixture(autouse=True)
def _browser_loop(request: pytest.FixtureRequest) -> Iterator[None]:
    """Playwright's loop runs for the tests that use the browser, and only for them."""
    if "browser" not in request.fixturenames:
        yield
        return
    chromium: Chromium = request.getfixturevalue("_chromium")
    chromium.resume()
    try:
        yield
    finally:
        chromium.park()


@pytest.fixture(scope="session")
def browser(_chromium: Chromium) -> Browser:
    """The session's headless Chromium."""
    return _chromium.browser


@pytest.fixture
def page_errors() -> list[str]:
    """Console errors and uncaught exceptions of `page`, in the order they came."""
    return []


@pytest.fixture
def page(browser: Browser, page_errors: list[str]) -> Iterator[Page]:
    """A fresh page (its own context: no cookies or storage from other tests)."""
    context = browser.new_context()
    opened = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            page_errors.append(f"console error: {message.text}")

    def on_page_error(error: Error) -> None:
        page_errors.append(f"page error: {error.message}")

    opened.on("console", on_console)
    opened.on("pageerror", on_page_error)
    try:
        yield opened
    finally:
        context.close()


def save_screenshot(page: Page, name: str) -> Path:
    """The whole page as tests/artefacts/<name>.png, kept after the run for a human to look at."""
    ARTEFACTS.mkdir(exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path
