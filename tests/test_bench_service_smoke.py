"""Smoke test of the service benchmark, tiny: half a second of load on the reference apps
(bare, signed, floor) and `skillrelay serve`, then 20 deliveries end to end into the
session's real Ralph LRS."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bench.bench_service import measure_e2e, measure_ingest, pct, report
from connectors.local_lrs import RalphServer

pytestmark = pytest.mark.ralph


@pytest.fixture(scope="module")
def ingest() -> dict[str, Any]:
    return measure_ingest(0.5, 0.2, open_loop=False, receive_only=False)


@pytest.fixture(scope="module")
def e2e(ralph: RalphServer) -> dict[str, Any]:
    return measure_e2e(50.0, 0.4, server=ralph, settle=10.0)


def test_ingest_measures_both_sides_and_stores_every_delivery(ingest: dict[str, Any]) -> None:
    for side in ("bare", "signed", "floor", "ours"):
        figures = ingest[side]
        assert figures["ok"] > 0 and figures["errors"] == 0, figures["statuses"]
        assert figures["rps"] > 0 and pct(figures["service"], 99) > 0
    ours = ingest["ours"]
    # Every delivery answered "stored" is in the inbox, once (warm-up included).
    assert sum(ours["inbox"].values()) == ours["ok"] + ours["warmup_ok"]
    assert ours["exit_code"] == 0


def test_every_statement_arrives_in_ralph(e2e: dict[str, Any]) -> None:
    assert e2e["n"] == 20
    assert e2e["failures"] == []
    assert e2e["arrived"] == 20 and e2e["by_id_missing"] == 0
    assert all(0 < latency < 10 for latency in e2e["latencies"])
    assert e2e["outbox"].get("lrs:done") == 40  # performed and earned, per award
    assert e2e["exit_code"] == 0


def test_the_report_has_the_figures(ingest: dict[str, Any], e2e: dict[str, Any]) -> None:
    section = report(ingest, e2e)
    assert "**Ratio (ours / bare), requests/s:" in section
    assert "alone (signed) reaches" in section
    assert "The floor (the least a durable, authenticated receiver does) reaches" in section
    assert "| 20 / 20 |" in section
    assert not math.isnan(pct(e2e["latencies"], 95))
