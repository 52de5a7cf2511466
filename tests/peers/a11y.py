"""Accessibility check of a page with axe-core (vendored in tests/vendor/axe-core, no CDN).

The UI's Content-Security-Policy allows no script at all; Playwright's `evaluate` runs over
the DevTools protocol, which the policy does not govern, so the page is checked as served.

    assert serious_violations(page) == []
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe-core" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
SERIOUS = ("serious", "critical")
_source: list[str] = []


def axe_source() -> str:
    if not _source:
        data = AXE.read_bytes()
        if hashlib.sha256(data).hexdigest() != AXE_SHA256:
            raise AssertionError(f"{AXE} is not the vendored axe-core 4.14.1")
        _source.append(data.decode())
    return _source[0]


def violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (WCAG 2.1 A and AA rules, best practice)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    found = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ['violations']});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5),
            }));
        }"""
    )
    assert isinstance(found, list)
    return found


def serious_violations(page: Page) -> list[str]:
    """One line per serious or critical violation: rule, what it asks, where."""
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(v['nodes'])}"
        for v in violations(page)
        if v["impact"] in SERIOUS
    ]
