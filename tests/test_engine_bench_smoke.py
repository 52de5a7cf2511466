"""The backfill benchmark still runs (at a tiny scale, so it cannot rot unnoticed)."""

from __future__ import annotations

import re

import pytest

from bench.bench_backfill import build_manifest, generate, main, run, sizes, streamed
from plugin.engine import Engine


def test_the_backfill_bench_runs_at_a_tiny_scale(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--scale", "0.0005", "--adds", "100", "--rounds", "2"]) == 0
    out = capsys.readouterr().out
    for measure in ("evaluate_all", "Engine.add", "tracemalloc", "ru_maxrss", "reference"):
        assert measure in out
    assert out.startswith("Command: `python -m bench.bench_backfill --scale 0.0005")
    assert "2 rounds, each part in a fresh process" in out
    assert re.search(r"P4 .*: the backfill in under 60 s, met .*in under 1 GB, met", out)


def test_the_bench_harness_gets_a_markdown_table() -> None:
    section = run(0.0002)
    assert section.startswith("3 rounds")
    assert "| measure | result | notes |" in section
    assert re.search(r"\| \*\*evaluate_all\*\* \(end to end\) \| \*\*[\d.]+ s \([\d.]+–", section)


def test_a_start_streams_the_same_events_the_backfill_holds() -> None:
    """A worker's start is measured on the events the backfill judged: the same events,
    made one at a time, give an engine the same state."""
    people, n = sizes(0.0005)
    _, held = generate(people, n, 7)
    made = list(streamed(people, n, 7))
    assert len(made) == len(held) == 2 * n
    assert sorted(e.key for e in made) == sorted(e.key for e in held)
    manifest = build_manifest(people)
    engines = Engine(manifest), Engine(manifest)
    engines[0].load(held)
    engines[1].load(iter(made))
    assert engines[0]._completions == engines[1]._completions
    assert engines[0]._transitions == engines[1]._transitions
    assert engines[0].decisions() == engines[1].decisions()
    assert any(d.awarded for d in engines[1].decisions())
