"""Smoke test of the end-to-end benchmark (P5), tiny: two rounds of 20 deliveries into the
session's real Ralph LRS, against 20 statements a round POSTed straight to it."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from bench.bench_service import measure, pct, report
from connectors.local_lrs import RalphServer

pytestmark = pytest.mark.ralph


@pytest.fixture(scope="module")
def found(ralph: RalphServer) -> dict[str, list[dict[str, Any]]]:
    return measure(2, 50.0, 0.4, server=ralph, settle=10.0)


def test_every_statement_arrives_in_ralph_each_round(found: dict[str, list[Any]]) -> None:
    assert len(found["ours"]) == 2
    for run in found["ours"]:
        assert run["n"] == 20 and run["failures"] == []
        assert run["arrived"] == 20 and run["by_id_missing"] == 0
        assert all(0 < latency < 10 for latency in run["latencies"])
        assert run["outbox"].get("lrs:done") == 40  # performed and earned, per award
        assert run["exit_code"] == 0


def test_the_reference_writes_the_statements_straight_to_ralph(
    found: dict[str, list[Any]],
) -> None:
    assert len(found["direct"]) == 2
    for run in found["direct"]:
        assert run["failures"] == [] and run["arrived"] == 20
        assert run["lrs_lines"] == 40  # two a delivery, as the outbox writes them
        assert 1 <= run["requests"] <= 20  # what was due, batched
        assert all(0 < latency < 10 for latency in run["latencies"])


def test_the_report_has_both_sides_and_the_verdict(found: dict[str, list[Any]]) -> None:
    section = report(found)
    assert section.startswith("2 rounds of 20 deliveries paced at 50/s")
    assert "| 20 · 20 of 20 each |" in section
    assert re.search(r"\*\*P5: p95 < 500 ms: met\*\* \(worst round \d+ ms\)", section)
    assert re.search(r"p95 ours / the LRS's own: [\d.]+ \([\d.]+–[\d.]+\)×", section)
    assert not math.isnan(pct(found["ours"][0]["latencies"], 95))
