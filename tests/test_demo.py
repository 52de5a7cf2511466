"""`skillrelay demo`: the whole loop in one process, against a real local Ralph LRS."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from plugin.cli import main
from plugin.demo.story import LEARNING, TICKETS


def rows(out: str) -> dict[str, list[str]]:
    """The awards table: its cells by ticket key."""
    lines = out[out.index("PERSON ") :].split("\n\n", 1)[0].splitlines()
    return {cells[2]: cells for line in lines[1:] if (cells := re.split(r"\s{2,}", line))}


def test_demo_runs_the_whole_loop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    assert main(["demo", "--dir", str(tmp_path / "demo")]) == 0
    took = time.monotonic() - started
    out = capsys.readouterr().out
    assert took < 40, took
    assert "created at the latest schema" in out
    assert f"the service pulled {len(LEARNING)} completions and 2 module views from the LRS" in out
    assert "PAY-418   In Progress -> Done (Done)       -> 200 duplicate, acknowledged" in out
    assert "approved by amara.okafor: ben.carter, sql-indexing in PAY-412" in out

    table = rows(out)
    assert set(table) == {w.key for w in TICKETS}
    head = ["person", "skill", "reward", "points", "state", "why"]
    got = {key: dict(zip(head, cells[:2] + cells[3:], strict=True)) for key, cells in table.items()}
    assert got["PAY-412"] == {
        "person": "ben.carter",
        "skill": "sql-indexing",
        "reward": "paid-learning-hour (paid_hour)",
        "points": "20",
        "state": "approved",
        "why": "awarded",
    }
    assert got["PAY-418"] == {
        "person": "chloe.nguyen",
        "skill": "feature-flags",
        "reward": "points-50 (points)",
        "points": "50",
        "state": "approved",
        "why": "awarded",
    }
    assert got["RISK-210"]["person"] == "george.lin"
    assert got["RISK-210"]["state"] == "revoked"
    assert got["RISK-210"]["why"].startswith("reopened: the ticket was reopened on 2026-11-10")
    for key, person, reason in (
        ("WEB-77", "diego.ramirez", "completion_failed: the module was failed"),
        ("RISK-203", "farah.haddad", "completion_withdrawn: the completion was withdrawn"),
        ("RISK-198", "elena.petrova", "excluded_resolution: its resolution 'Won't Do'"),
    ):
        assert got[key]["person"] == person
        assert (got[key]["reward"], got[key]["points"], got[key]["state"]) == (
            "-",
            "0",
            "not awarded",
        )
        assert got[key]["why"].startswith(reason), got[key]

    # Ben: performed, and earned once approved; Chloe: performed and earned; George: both,
    # then the earned statement voided when his ticket was reopened.
    assert (
        "7 statements written back to the LRS, read back by id: 3 earned, 3 performed, "
        "1 voided" in out
    )
    assert "14 Jira deliveries posted, 1 duplicate(s) acknowledged" in out
    assert "awards: 2 approved, 1 revoked" in out
    assert "7 statements written to the LRS" in out
    assert "9 Jira writes for the awards shown as a dry run" in out  # the revoked label comes off
    assert "comment on PAY-412:" in out and "label PAY-418 +skill-applied:feature-flags" in out
    assert "problem" not in out
    # Messages: within the budget, by Jira mention or e-mail to the local SMTP sink, in the
    # person's language; a reminder for a module left, an invitation, a check-in prompt.
    # The planner ticks at fixed points of the story, so the table is the same on a busy
    # machine: the budget (3 a day) digests one award and one check-in, and drops one
    # suggestion.
    messages = out[out.index("messages ") : out.index("e-mails caught")]
    table = [" ".join(line.split()) for line in messages.splitlines()[1:-1]]
    assert table == [
        "apply_suggestion dropped 1",
        "apply_suggestion sent 6",
        "approval_needed sent 1",
        "awarded digested 1",
        "awarded sent 3",
        "checkin_prompt digested 1",
        "checkin_prompt sent 2",
        "revoked sent 1",
        "sprint_invitation sent 3",
        "stalled_reminder sent 2",
    ], messages
    assert "21 messages planned within the budget" in messages
    assert "15 e-mails caught by the local SMTP sink" in out
    assert "[en] amara.okafor@northwind.example: Your approval, please: Ben Carter applied" in out
    assert "[ru] farah.haddad@northwind.example: Продолжим «Reading a query plan»?" in out
    assert "[en] kofi.asante@northwind.example: Pick up where you left off" in out
    assert "[en] hana.sato@northwind.example: Where you could use Accessible UI" in out
    assert (
        "[ru] elena.petrova@northwind.example: Где пригодится навык «Incident postmortems»" in out
    )
