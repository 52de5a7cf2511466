"""`skillrelay report` on the example organisation: the shapes people read and import
(golden CSV and JSON), the text table, and every bad argument refused with exit 2."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plugin import cli
from plugin.commands import report as report_command
from plugin.store import Store
from tests.test_pipeline_support import northwind

Run = Callable[..., tuple[int, str, str]]
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
STORED = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # when the awards were recorded

GOLDEN_CSV = """\
section,skill,group,measure,value,low,high,people,tickets,note
funnel,sql-indexing,,invited,6,,,6,,
funnel,sql-indexing,,started,2,,,2,,
funnel,sql-indexing,,completed,2,,,2,,
funnel,sql-indexing,,applied,2,,,2,,
funnel,sql-indexing,,awarded,2,,,2,,
awards,sql-indexing,,pending_approval,2,,,,,
by_team,sql-indexing,payments-core,invited,3,,,,,
by_team,sql-indexing,payments-core,completed,1,,,,,
by_team,sql-indexing,payments-core,applied,1,,,,,
by_team,sql-indexing,payments-core,awarded,1,,,,,
by_team,sql-indexing,risk-platform,invited,3,,,,,
by_team,sql-indexing,risk-platform,completed,1,,,,,
by_team,sql-indexing,risk-platform,applied,1,,,,,
by_team,sql-indexing,risk-platform,awarded,1,,,,,
by_sprint,sql-indexing,2026-11-a,invited,6,,,,,
by_sprint,sql-indexing,2026-11-a,completed,2,,,,,
by_sprint,sql-indexing,2026-11-a,applied,2,,,,,
by_sprint,sql-indexing,2026-11-a,awarded,2,,,,,
time_to_apply,sql-indexing,,median_days,1.042,,,2,,
time_to_apply,sql-indexing,,p75_days,1.062,,,2,,
time_to_apply,sql-indexing,,p90_days,1.075,,,2,,
before_after,sql-indexing,completed,before_cycle_days,,,,0,0,
before_after,sql-indexing,completed,before_reopen_rate,,,,0,0,
before_after,sql-indexing,completed,before_bug_share,,,,0,0,
before_after,sql-indexing,completed,after_cycle_days,0.08333,0.08333,0.08333,2,2,
before_after,sql-indexing,completed,after_reopen_rate,0,0,0,2,2,
before_after,sql-indexing,completed,after_bug_share,0,0,0,2,2,
before_after,sql-indexing,completed,cycle_change,,,,0,,small sample
before_after,sql-indexing,,difference,,,,,,small sample
rewards,points-50,2026-11-a,used,1,,,,,
rewards,points-50,2026-11-a,budget,,,,,,
rewards,paid-learning-hour,2026-11-a,used,2,,,,,
rewards,paid-learning-hour,2026-11-a,budget,6,,,,,
rewards,priority-pick,2026-11-a,used,0,,,,,
rewards,priority-pick,2026-11-a,budget,3,,,,,
rewards,leadership-demo,2026-11-a,used,0,,,,,
rewards,leadership-demo,2026-11-a,budget,2,,,,,
approvals,,,waiting,2,,,,,
approvals,,,median_age_days,2,,,,,
approvals,,,oldest_age_days,2,,,,,
checkins,,,done,0,,,,,
checkins,,,asked,0,,,,,
modules,sql-indexing,sql-query-plans,started,2,,,,,
modules,sql-indexing,sql-query-plans,completed,2,,,,,
modules,sql-indexing,sql-query-plans,median_days_to_complete,0,,,,,
modules,sql-indexing,sql-composite-indexes,started,0,,,,,
modules,sql-indexing,sql-composite-indexes,completed,0,,,,,
modules,sql-indexing,sql-composite-indexes,median_days_to_complete,,,,,,
"""


@pytest.fixture
def run(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sqlite_template: Path,
    tmp_path: Path,
) -> Run:
    shutil.copyfile(sqlite_template, tmp_path / "skillrelay.db")
    url = f"sqlite:///{tmp_path / 'skillrelay.db'}"
    with Store.open(url, clock=lambda: STORED) as store:
        northwind(store)
    monkeypatch.setenv("SKILLRELAY_DATABASE_URL", url)
    monkeypatch.delenv("SKILLRELAY_MANIFEST", raising=False)  # the example manifest
    monkeypatch.setattr(report_command, "now", lambda: NOW)

    def invoke(*args: str) -> tuple[int, str, str]:
        code = cli.main(["report", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_csv_for_a_sprint_and_skill(run: Run) -> None:
    code, out, err = run("--sprint", "2026-11-a", "--skill", "sql-indexing", "--format", "csv")
    assert (code, err) == (0, "")
    assert out == GOLDEN_CSV


def test_json_names_the_scope_and_carries_every_section(run: Run) -> None:
    code, out, _ = run("--sprint", "2026-11-a", "--format", "json")
    assert code == 0
    found = json.loads(out)
    assert found["scope"] == {
        "skills": [
            "sql-indexing",
            "feature-flags",
            "incident-postmortems",
            "accessible-ui",
            "api-contract-testing",
            "secrets-handling",
        ],
        "team": None,
        "sprint": "2026-11-a",
        "person": None,
        "from": "2026-11-02",
        "to": "2026-11-16",
        "weeks": 8,
        "people": 6,
    }
    funnels = {f["skill"]: [s["people"] for s in f["stages"]] for f in found["funnels"]}
    assert funnels["sql-indexing"] == [6, 2, 2, 2, 2]
    assert funnels["feature-flags"] == [6, 1, 1, 1, 1]
    assert funnels["incident-postmortems"] == [6, 0, 0, 0, 0]
    flags = next(f for f in found["funnels"] if f["skill"] == "feature-flags")
    assert flags["awards_by_state"] == {"approved": 1}
    assert flags["stages"][3] == {
        "name": "applied",
        "people": 1,
        "of_previous": 1.0,
        "of_first": 0.166667,
    }
    assert found["waiting"] == {"count": 2, "median_days": 2.0, "oldest_days": 2.0}
    assert set(found) >= {"delays", "comparisons", "rewards", "modules", "breakdown"}


def test_one_person_and_the_table(run: Run) -> None:
    code, out, _ = run("--person", "ben.carter", "--skill", "sql-indexing")
    assert code == 0
    assert "What learning changed: sql-indexing; ben.carter; all time" in out
    assert "invited 1 (100%)  →  started 1 (100%)  →  completed 1 (100%)" in out
    assert "applied 1 (100%)  →  awarded 1 (100%)" in out
    assert "they show an association, not that the module caused the change" in out
    assert "small sample: not a finding" in out


def test_russian_table(run: Run) -> None:
    code, out, _ = run("--team", "risk-platform", "--lang", "ru")
    assert code == 0
    assert out.startswith("Что изменило обучение: все навыки; команда risk-platform; за всё время")
    assert "приглашены 3 (100%)" in out


def test_a_period_with_nothing_in_it_says_so(run: Run) -> None:
    code, out, err = run("--from", "2020-01-01", "--to", "2020-01-31", "--format", "table")
    assert (code, err) == (0, "")
    assert "nobody in scope completed a module in this period" in out
    assert "sql-indexing: no applications in this period" in out


def test_the_html_file_is_written_where_asked(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    code, out, err = run("--format", "html", "--lang", "ru", "--output", str(target))
    assert (code, out, err) == (0, "", "")
    page = target.read_text("utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<html lang="ru">' in page
    assert page.count("<svg") >= 6 and "http://" not in page.replace("http://www.w3.org", "")
    # Two paid hours were used in the sprint: its budget-use plot is drawn, the others not.
    assert page.count("sr-budget") >= 1 and "расход бюджета: paid-learning-hour" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--skill", "sql-indexin"), "unknown skill 'sql-indexin'; did you mean sql-indexing?"),
        (("--team", "paymnts"), "unknown team 'paymnts'; did you mean payments-core?"),
        (
            ("--sprint", "2026-11-z"),
            "unknown sprint '2026-11-z'; did you mean 2026-11-b, 2026-11-a?",
        ),
        (("--person", "nobody"), "unknown person 'nobody'"),
        (("--from", "2026-02-30"), "--from: '2026-02-30' is not a date (YYYY-MM-DD)"),
        (
            ("--from", "2026-03-02", "--to", "2026-03-01"),
            "--from 2026-03-02 is after --to 2026-03-01",
        ),
        (("--weeks", "0"), "--weeks: must be at least 1"),
        (("--output", "/nonexistent-dir/r.html"), "--output: the directory '/nonexistent-dir'"),
    ],
)
def test_bad_arguments_exit_2_with_the_reason(
    run: Run, args: tuple[str, ...], message: str
) -> None:
    code, out, err = run(*args)
    assert (code, out) == (2, "")
    assert err.startswith("skillrelay: ") and message in err
    assert "Traceback" not in err


def test_the_check_in_rate_counts_the_awards_in_scope(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from plugin.notify.scheduler import Scheduler
    from plugin.notify.words import Words
    from tests.test_notify_scheduler import manifest_with

    with Store.open(os.environ["SKILLRELAY_DATABASE_URL"]) as store:
        Scheduler(store, manifest_with(), Words(), clock=lambda: NOW).tick()
        [asked] = store.checkins.list()
        assert run("--sprint", "2026-11-a")[1].count("manager check-ins: 0 of 1 (0%)") == 1
        store.checkins.done(asked.award_id, asked.manager_id, "Went well")
    assert "manager check-ins: 1 of 1 (100%)" in run("--sprint", "2026-11-a")[1]
    assert "manager check-ins: none asked for in this period" in run("--skill", "sql-indexing")[1]
