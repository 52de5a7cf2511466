"""`skillrelay sprint`: one sprint at a glance, today's by default."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plugin import cli
from plugin.commands import sprint as sprint_command
from plugin.store import Store
from tests.test_pipeline_support import northwind

Run = Callable[..., tuple[int, str, str]]

SPRINT_A = """\
sprint 2026-11-a: 2026-11-02 to 2026-11-15 (14 days, Europe/London)
focus skills: sql-indexing, feature-flags, incident-postmortems

participants (6)
  ben.carter (Ben Carter)
  chloe.nguyen (Chloe Nguyen)
  diego.ramirez (Diego Ramirez)
  farah.haddad (Farah Haddad)
  george.lin (George Lin)
  kofi.asante (Kofi Asante)

modules completed (3)
  ben.carter    Reading a query plan (sql-indexing) on 2026-11-03
  chloe.nguyen  Flag lifecycle and clean-up (feature-flags) on 2026-11-03
  farah.haddad  Reading a query plan (sql-indexing) on 2026-11-03

skills applied (3)
  ben.carter    sql-indexing in PAY-101: One paid learning hour, 20 points (pending_approval)
  chloe.nguyen  feature-flags in PAY-202: 50 skill points, 50 points (approved)
  farah.haddad  sql-indexing in RISK-7: One paid learning hour, 20 points (pending_approval)

awards by state: approved 1, pending_approval 2

points
  chloe.nguyen  50
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
    with Store.open(url) as store:
        northwind(store)
    modules = [m for m in cli.COMMAND_MODULES if m != "sprint"] + ["sprint"]
    monkeypatch.setattr(cli, "COMMAND_MODULES", modules)
    monkeypatch.setenv("SKILLRELAY_DATABASE_URL", url)
    monkeypatch.delenv("SKILLRELAY_MANIFEST", raising=False)  # the example manifest

    def invoke(*args: str) -> tuple[int, str, str]:
        code = cli.main(["sprint", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_sprint_summary(run: Run) -> None:
    assert run("2026-11-a") == (0, SPRINT_A, "")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 15, 23, 30, tzinfo=UTC), "2026-11-a"),  # London is on GMT
        (datetime(2026, 11, 16, 0, 30, tzinfo=UTC), "2026-11-b"),
        (datetime(2027, 2, 1, 12, 0, tzinfo=UTC), "2026-11-b"),  # the latest that started
        (datetime(2026, 6, 1, 12, 0, tzinfo=UTC), "2026-11-a"),  # none yet: the next one
    ],
    ids=["last-evening", "next-morning", "after-all", "before-all"],
)
def test_default_sprint(
    run: Run, monkeypatch: pytest.MonkeyPatch, now: datetime, expected: str
) -> None:
    monkeypatch.setattr(sprint_command, "now", lambda: now)
    code, out, _ = run()
    assert code == 0
    assert out.startswith(f"sprint {expected}: ")


def test_an_empty_sprint(run: Run) -> None:
    code, out, _ = run("2026-11-b")
    assert code == 0
    assert "modules completed (0)\n  none yet" in out
    assert "awards by state: none" in out
    assert "participants (6)\n" in out  # web-checkout, payments-core and lena.fischer


def test_unknown_sprint(run: Run) -> None:
    assert run("2026-12-a") == (
        2,
        "",
        "unknown sprint '2026-12-a'; valid ids: 2026-11-a, 2026-11-b\n",
    )
