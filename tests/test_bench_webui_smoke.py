"""The web UI benchmark still runs (tiny: 200 people, 2,000 awards, one round)."""

from __future__ import annotations

from bench.bench_webui import PAGES, measure


def test_the_webui_bench_times_every_page_at_a_tiny_scale() -> None:
    section = measure(0.002, rounds=1, requests=2)
    assert "200 people in teams of 50, 2,000 awards" in section
    for page in PAGES:
        [row] = [line for line in section.splitlines() if line.startswith(f"| {page.label} |")]
        assert row.count("|") == 5
