"""The demo's story: what Northwind's engineers did in the first mini-sprint of November 2026."""

from __future__ import annotations

from datetime import UTC, datetime

from plugin.demo.statements import Step


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


# Completions as Moodle's Logstore xAPI sends them to the company LRS.
LEARNING = [
    Step("amara.okafor", "sql-query-plans", "complete", at(3, 9, 30)),
    Step("ben.carter", "sql-composite-indexes", "pass", at(3, 14)),
    Step("chloe.nguyen", "flags-lifecycle", "complete", at(4, 10)),
    Step("diego.ramirez", "a11y-names-aria", "fail", at(4, 11)),
    Step("elena.petrova", "postmortem-timeline", "complete", at(5, 9)),
    Step("farah.haddad", "contracts-consumer-driven", "complete", at(5, 15)),
    Step("farah.haddad", "contracts-consumer-driven", "uncomplete", at(6, 8)),
    Step("george.lin", "secrets-vaults", "complete", at(6, 16)),
    Step("hana.sato", "a11y-keyboard-focus", "complete", at(9, 10)),
]
