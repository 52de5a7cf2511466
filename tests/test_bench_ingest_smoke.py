"""Smoke test of the ingest benchmark: wrk against the bare reference and `serve --no-worker`
for a second each, one round; every acknowledged delivery is stored once."""

from __future__ import annotations

from typing import Any

import pytest

from bench.bench_ingest import SIDES, measure, report


@pytest.fixture(scope="module")
def found() -> dict[str, list[dict[str, Any]]]:
    sides = tuple(s for s in SIDES if s.name in ("bare", "receive"))
    return measure(1.0, 1.0, rounds=1, sides=sides, measured=6_000)


def test_wrk_loads_both_sides_and_every_answered_delivery_is_stored(
    found: dict[str, list[dict[str, Any]]],
) -> None:
    [bare], [receive] = found["bare"], found["receive"]
    assert bare["errors"] == 0 and receive["errors"] == 0
    assert bare["requests"] > 100 and receive["requests"] > 50
    assert receive["wrapped"] == 0  # no measured delivery was a repeat
    # The warm-up's and the measured second's deliveries, each stored once (not processed:
    # receive only).
    stored = sum(receive["inbox"].values())
    assert stored >= receive["requests"], (stored, receive)
    assert set(receive["inbox"]) == {"new"}
    assert bare["client_cpu"] > 0 and receive["server_cpu"] > 0


def test_the_report_gives_the_targets_that_can_be_computed(
    found: dict[str, list[dict[str, Any]]],
) -> None:
    text = report(found, 1.0, 1.0)
    assert "| T2 receive / bare |" in text
    assert "T1 receive / floor" not in text  # no floor side in this run
    assert "bare Flask view" in text and "`serve --no-worker` (receive only)" in text
