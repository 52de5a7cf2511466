"""The demo's story: what Northwind's engineers did in the first mini-sprint of November 2026."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Work:
    """One Jira ticket in the demo story: who did it, which skill it shows, and its moves."""

    key: str
    summary: str
    person: str
    skill: str
    started: datetime  # moved to In Progress
    done: datetime  # moved to Done
    resolution: str = "Done"
    issue_type: str = "Story"
    reopened: datetime | None = None  # moved back to In Progress after Done
    resent: bool = False  # Jira delivers the Done webhook twice
    expect: str = ""  # what skillrelay should conclude (for the reader)


# Tickets as Jira Cloud reports them through its admin webhook (jira:issue_updated).
TICKETS = [
    Work(
        "PAY-412",
        "Index the settlement lookup by merchant and day",
        "ben.carter",
        "sql-indexing",
        at(4, 9),
        at(4, 16),
        expect="a paid learning hour, once his manager approves",
    ),
    Work(
        "PAY-418",
        "Put the new refund flow behind a kill switch",
        "chloe.nguyen",
        "feature-flags",
        at(5, 10),
        at(5, 15, 30),
        resent=True,
        expect="50 points at once (Jira delivers the Done twice: one award)",
    ),
    Work(
        "WEB-77",
        "Give the card form fields accessible names",
        "diego.ramirez",
        "accessible-ui",
        at(5, 9),
        at(5, 17),
        expect="nothing: he failed the module",
    ),
    Work(
        "RISK-203",
        "Consumer-driven contract tests for the scoring API",
        "farah.haddad",
        "api-contract-testing",
        at(6, 10),
        at(6, 16),
        expect="nothing: her completion was withdrawn",
    ),
    Work(
        "RISK-198",
        "Postmortem: duplicate payouts on 4 November",
        "elena.petrova",
        "incident-postmortems",
        at(6, 9),
        at(6, 11),
        resolution="Won't Do",
        issue_type="Post-incident review",
        expect="nothing: closed as Won't Do",
    ),
    Work(
        "RISK-210",
        "Move the scoring service keys into the vault",
        "george.lin",
        "secrets-handling",
        at(9, 9),
        at(9, 14),
        reopened=at(10, 10),
        expect="a badge, taken back when the ticket is reopened",
    ),
]
