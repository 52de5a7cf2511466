"""`skillrelay notifications` explains every message; `skillrelay checkins` lists the
managers' check-ins and records one."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from plugin import cli
from plugin.store import Store
from tests.test_notify_scheduler import manifest_with, scheduler
from tests.test_pipeline_support import northwind

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sqlite_template: Path,
    tmp_path: Path,
) -> Run:
    shutil.copyfile(sqlite_template, tmp_path / "skillrelay.db")
    url = f"sqlite:///{tmp_path / 'skillrelay.db'}"
    with Store.open(url) as store:
        northwind(store)
        manifest = manifest_with(budget={"per_person_per_day": 1, "per_person_per_week": 5})
        scheduler(store, manifest).tick()
    monkeypatch.setenv("SKILLRELAY_DATABASE_URL", url)

    def invoke(*args: str) -> tuple[int, str, str]:
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_a_managers_messages_say_what_happened_and_why(run: Run) -> None:
    code, out, err = run("notifications", "--person", "amara.okafor")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "PERSON", "KIND", "STATUS", "CHANNEL", "WHEN", "WHY"]
    approval = next(line for line in lines if "approval_needed" in line)
    assert "sent" in approval and "email" in approval and "within the budget" in approval
    checkin = next(line for line in lines if "checkin_prompt" in line)
    assert "digested" in checkin and "over the budget: 1 of 1 in the last 24 hours" in checkin


def test_json_lines_carry_the_fate_of_each_message(run: Run) -> None:
    code, out, _ = run("notifications", "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    fates = {(r["person"], r["kind"]): (r["status"], r["reason"]) for r in rows}
    assert fates["ben.carter", "awarded"] == ("sent", "within the budget")
    assert fates["ben.carter", "apply_suggestion"] == (
        "dropped",
        "no Jira search to find open tickets with",
    )


def test_checkins_are_listed_and_recorded_once(run: Run) -> None:
    code, out, _ = run("checkins")
    assert code == 0
    assert "amara.okafor" in out and "chloe.nguyen" in out
    assert "check-in rate: 0 of 1 awards (0%)" in out
    award = json.loads(run("checkins", "--json")[1].splitlines()[0])["award"]
    code, out, err = run("checkins", "done", str(award), "--by", "ben.carter")
    assert code == 2 and out == ""
    assert err == (
        f"skillrelay: ben.carter is not asked to check in on award {award}; asked: amara.okafor\n"
    )
    code, out, _ = run("checkins", "done", str(award), "--by", "amara.okafor", "--note", "Good")
    assert code == 0 and out.startswith(f"check-in on award {award} recorded by amara.okafor")
    assert "check-in rate: 1 of 1 awards (100%)" in run("checkins")[1]
    assert run("checkins", "done", "999", "--by", "amara.okafor")[0] == 2
