"""The backfill benchmark still runs (at a tiny scale, so it cannot rot unnoticed)."""

from __future__ import annotations

import pytest

from bench.bench_backfill import main, run


def test_the_backfill_bench_runs_at_a_tiny_scale(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--scale", "0.0005", "--adds", "100"]) == 0
    out = capsys.readouterr().out
    for measure in ("evaluate_all", "Engine.add", "tracemalloc", "ru_maxrss", "reference"):
        assert measure in out


def test_the_bench_harness_gets_a_markdown_table() -> None:
    section = run(0.0002)
    assert section.startswith("| measure | result | notes |")
    assert "median" in section
