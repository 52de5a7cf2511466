"""A manager's check-in, recorded after an award, appears in the review export."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plugin import cli
from plugin.notify.scheduler import Scheduler
from plugin.notify.words import Words
from plugin.store import Store
from tests.test_notify_scheduler import manifest_with
from tests.test_pipeline_support import NOW, northwind


def test_the_check_in_note_is_in_the_review(
    sqlite_template: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shutil.copyfile(sqlite_template, tmp_path / "skillrelay.db")
    url = f"sqlite:///{tmp_path / 'skillrelay.db'}"
    with Store.open(url, clock=lambda: datetime(2026, 11, 12, 9, tzinfo=UTC)) as store:
        northwind(store)
        Scheduler(store, manifest_with(), Words(), clock=lambda: NOW).tick()
        [asked] = store.checkins.list()
        store.checkins.done(asked.award_id, "amara.okafor", "Showed the flag clean-up to the team")
    monkeypatch.setenv("SKILLRELAY_DATABASE_URL", url)
    args = ["review", "chloe.nguyen", "--from", "2026-11-01", "--to", "2026-11-30"]
    assert cli.main([*args, "--format", "csv"]) == 0
    csv_text = capsys.readouterr().out
    [row] = [line for line in csv_text.splitlines() if "Showed the flag clean-up" in line]
    assert row.startswith("note,") and ",check-in,amara.okafor," in row
    assert cli.main([*args, "--format", "html", "--lang", "ru"]) == 0
    page = capsys.readouterr().out
    assert "встреча с руководителем" in page and "Showed the flag clean-up to the team" in page
