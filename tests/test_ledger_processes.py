"""Issue #16: the ledger is a function of the events, whatever the processes did.

Two `skillrelay serve --no-worker` receivers and three `skillrelay worker` processes share one
real PostgreSQL database; a recording Jira on 127.0.0.1 and the real Ralph LRS take the
effects. A few hundred deliveries (30% of them repeats, out of order) tell of completions,
withdrawn and voided completions, tickets done, reopened and done again, resolved "Won't Do"
then "Done", re-assigned, paced so that workers decide while the story unfolds. Half-way, a
worker is killed with SIGKILL while it holds claimed inbox events and in-flight effects and
Jira is answering a comment; another worker takes its place.

Once nothing is left to do, the live awards must be those one worker decides from the same
deliveries, and those the engine grants on the whole inbox; each comment must be in Jira once,
one for every change of every award; each statement sent must be in Ralph once, and voided
exactly where the ledger says (tests/ledger_story.py has the story and the comparison).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from plugin.store import migrate
from tests.ledger_story import make_story, run_story
from tests.peers.postgres import create_database
from tests.peers.ralph import RalphServer
from tests.test_service_support import FakeJira

pytestmark = [pytest.mark.postgres, pytest.mark.ralph]


def test_a_crashed_cluster_ends_with_the_ledger_one_worker_decides(
    tmp_path: Path, postgres_url: str, postgres_db_url: str, ralph_lrs: RalphServer
) -> None:
    story = make_story(seed=16, people=12, tickets=100)
    assert 400 <= len(story.deliveries) <= 600
    assert 0.25 <= story.duplicates / len(story.deliveries) <= 0.35
    for what in ("reopened", "assignee", "uncompleted", "voided", "excluded_first"):
        assert story.made[what] > 0, what
    one_worker = create_database(postgres_url, f"ledger_one_{uuid.uuid4().hex[:12]}")
    for url in (postgres_db_url, one_worker):
        migrate.upgrade(url)

    with FakeJira() as jira:
        outcome = run_story(
            story,
            database=postgres_db_url,
            one_worker_database=one_worker,
            folder=tmp_path,
            jira=jira,
            ralph=ralph_lrs,
            rate=60,
            quiet_timeout=30,
        )

    findings = outcome.findings
    # The story did what it is for (the engine's verdicts, a function of the deliveries):
    # awards granted at once and awaiting approval, and every way of losing one.
    verdicts = findings.verdicts
    for reason in ("awarded", "reopened", "excluded_resolution", "completion_withdrawn"):
        assert verdicts[reason] > 0, (reason, verdicts)
    for reason in ("not_assignee", "cap", "budget", "too_short", "outside_window"):
        assert verdicts[reason] > 0, (reason, verdicts)
    assert findings.figures["granted_awards"] > 0, findings.figures
    # It died holding effects in flight and inbox events it had claimed.
    assert outcome.killed.in_flight > 0 and outcome.killed.inbox_claims > 0, outcome.killed
    assert findings.mismatches == 0, (
        f"killed {outcome.killed}, {outcome.quiet}, seconds {outcome.seconds}\n"
        + findings.report()
        + ("" if outcome.quiet.reached else f"\nthe processes' logs:\n{outcome.logs}")
    )
