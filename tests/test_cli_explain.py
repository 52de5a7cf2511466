"""`skillrelay explain TICKET-KEY`: the chain of evidence and the decision, from the inbox."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from plugin.settings import DATABASE_ENV
from plugin.store import NewAward, Store
from plugin.times import shown
from tests.test_import_support import Cli

DAY2 = datetime(2026, 11, 10, 16, tzinfo=UTC)
DAY3 = datetime(2026, 11, 11, 10, 5, tzinfo=UTC)

AWARDED = (
    "ben.carter passed 'Composite and partial indexes' (xapi, 2026-11-03 14:00 +00:00) — "
    "PAY-101 'Add a composite index to the ledger lookup' showed skill sql-indexing "
    "(label skill-sql-indexing, component Ledger DB) and entered Done on 2026-11-05 16:00 "
    "+00:00 with ben.carter as assignee — 2 days after the module, inside the 30-day window — "
    "awarded 'One paid learning hour' (needs manager approval)"
)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path, monkeypatch, capsys).with_story()


def test_a_full_story_reads_as_an_award(cli: Cli) -> None:
    result = cli("explain", "PAY-101")
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines() == [AWARDED]
    assert cli("explain", "pay-101").out == result.out  # keys are read without case


def test_outside_the_window(cli: Cli) -> None:
    result = cli("explain", "PAY-102")
    assert result.code == 0
    assert (
        "amara.okafor completed 'Reading a query plan' (xapi, 2026-09-01 10:30 +01:00)"
        in result.out
    )
    assert result.out.rstrip().endswith(
        "66 days after the module, outside the 30-day window — "
        "not awarded: the ticket was not done inside the window"
    )


def test_no_skill_says_which_matchers_were_checked(cli: Cli) -> None:
    result = cli("explain", "PAY-103")
    assert result.code == 0
    assert result.out.splitlines() == [
        "PAY-103 'Remove the unused export job' entered Done on 2026-11-04 12:00 +00:00 with "
        "george.lin as assignee — not awarded: the ticket shows no skill",
        "Skills checked against PAY-103 as it was finished:",
        "  sql-indexing: looks for label skill-sql-indexing or component Ledger DB or "
        "customfield_10050 = SQL indexing: none on the ticket",
        "  feature-flags: looks for label skill-feature-flags or customfield_10050 = "
        "Feature flags: none on the ticket",
        "  incident-postmortems: looks for label skill-postmortem: none on the ticket",
        "  accessible-ui: looks for label skill-a11y or component Checkout UI: none on the ticket",
        "  api-contract-testing: looks for label skill-api-contracts or component Public API: "
        "none on the ticket",
        "  secrets-handling: looks for label skill-secrets: none on the ticket",
        "  the ticket has labels tech-debt; components Billing; customfield_10050 = (empty)",
    ]


def test_a_label_found_but_the_jql_narrows_it_out(cli: Cli) -> None:
    cli.edit_manifest(
        "      labels: [skill-secrets]\n", "      labels: [tech-debt]\n      jql: project = RISK\n"
    )
    result = cli("explain", "PAY-103")
    assert (
        "  secrets-handling: label tech-debt found, but the ticket does not match "
        "jql `project = RISK`" in result.out.splitlines()
    )


def test_an_unknown_ticket(cli: Cli) -> None:
    result = cli("explain", "PAY-999")
    assert result.code == 1
    assert "PAY-999: no event names this ticket" in result.err
    assert "`skillrelay sync --source jira`" in result.err


def test_a_ticket_not_done_yet(cli: Cli) -> None:
    cli.imported("jira-webhook", "webhooks.jsonl")
    result = cli("explain", "PAY-106")
    assert result.code == 0
    assert result.out.strip() == (
        "PAY-106 'Rotate the acquirer API key' is in status 'In Progress' (category "
        "indeterminate, 2026-11-12 11:00 +00:00) and has not entered the 'done' category yet: "
        "nothing is decided until it does. It shows skill secrets-handling."
    )


def test_json_gives_the_decisions_with_their_evidence(cli: Cli) -> None:
    result = cli("explain", "PAY-101", "--json")
    body = json.loads(result.out)
    assert (body["ticket"], body["done"]) == ("PAY-101", True)
    [decision] = body["decisions"]
    assert decision["explanation"] == AWARDED
    assert (decision["reason"], decision["person"], decision["skill"]) == (
        "awarded",
        "ben.carter",
        "sql-indexing",
    )
    assert decision["completion"]["key"] == "0b9c6a52-3f1e-4d7a-9a61-5c2e8f1d2a01"
    assert decision["ticket"]["done_transition"] == "jira:10101:30002"
    assert decision["ticket"]["in_progress_minutes"] == 31 * 60


def test_person_filter(cli: Cli) -> None:
    assert cli("explain", "PAY-101", "--person", "ben.carter").out.splitlines() == [AWARDED]
    other = cli("explain", "PAY-101", "--person", "amara.okafor")
    assert other.code == 1
    assert "no decision about amara.okafor (decided about: ben.carter)" in other.err


def test_times_carry_the_organisation_offset(cli: Cli) -> None:
    cli.edit_manifest("timezone: Europe/London", "timezone: Europe/Berlin")
    line = cli("explain", "PAY-101").out
    assert "(xapi, 2026-11-03 15:00 +01:00)" in line
    assert "entered Done on 2026-11-05 17:00 +01:00" in line


def test_an_award_taken_back_tells_its_history(cli: Cli) -> None:
    """PAY-105 was done, awarded and approved, then reopened: the award was revoked."""
    with Store.open(os.environ[DATABASE_ENV]) as store:
        award, _ = store.awards.insert(
            NewAward(
                "george.lin", "secrets-handling", "PAY-105", "skill-badge", 10,
                "pending_approval", datetime(2026, 11, 10, 15, tzinfo=UTC),
            )
        )  # fmt: skip
        store.awards.transition(award.id, "approved", "amara.okafor", "good work", at=DAY2)
        store.awards.transition(award.id, "revoked", "engine", "reopened", at=DAY3)
        created = shown(store.awards.events(award.id)[0].at, ZoneInfo("Europe/London"))
    result = cli("explain", "PAY-105")
    assert result.code == 0
    verdict, history = result.out.splitlines()
    assert "not awarded" not in verdict
    assert verdict.endswith(
        f"— award {award.id} revoked: the ticket was reopened on 2026-11-11 10:00 +00:00"
    )
    assert history == (
        f"  award {award.id}: awarded on {created}, waiting for approval; approved by "
        "amara.okafor on 2026-11-10 16:00 +00:00 (good work); revoked on 2026-11-11 10:05 "
        "+00:00: the ticket was reopened"
    )
    [decision] = json.loads(cli("explain", "PAY-105", "--json").out)["decisions"]
    assert decision["award"]["state"] == "revoked"
    assert [e["to"] for e in decision["award"]["history"]] == [
        "pending_approval", "approved", "revoked"
    ]  # fmt: skip
