"""Smoke test of the wake benchmark: both sides on PostgreSQL, one round of two seconds;
every delivery is decided, and the report gives each side's latencies and the ratio."""

from __future__ import annotations

import pytest

from bench.bench_wake import measure, report

pytestmark = pytest.mark.postgres


def test_both_sides_decide_every_delivery_and_the_report_compares_them() -> None:
    found = measure(rate=10.0, seconds=2.0, rounds=1)
    assert [len(r) for r in found["notified"]] == [20]
    assert [len(r) for r in found["polled"]] == [20]
    # Notified, nothing waits for the worker's 2 s poll; polled, the last ones do.
    assert max(found["notified"][0]) < 1.5, found
    assert all(0 <= value < 5 for runs in found.values() for value in runs[0])
    text = report(found, 10.0, 2.0)
    assert "| notified | 20 |" in text and "| polled | 20 |" in text
    assert "**p95, notified / polled (per round):**" in text
