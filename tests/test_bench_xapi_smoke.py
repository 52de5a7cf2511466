"""Smoke test of the xAPI pull benchmark at 300 statements (three pages of Ralph's 100, and
the partial last one) on the session's real Ralph LRS, with Ralph's own client as reference."""

from __future__ import annotations

from typing import Any

import pytest

from bench import bench_xapi_pull as bench
from bench.bench_xapi_pull import (
    OURS_PULL,
    OURS_RAW,
    THEIRS,
    Figures,
    Measurement,
    logstore_statement,
    module_map,
    report,
)
from connectors.local_lrs import RalphServer
from connectors.xapi import Statement, completion_state

pytestmark = pytest.mark.ralph

N = 300


def measure(n: int, server: RalphServer | None = None) -> dict[str, Any]:
    """Load `n` statements, read them once per side after a warm-up: the raw numbers.

    `server`: a running Ralph to empty and use (default: the benchmark starts its own).
    """
    return bench.measure(n, repeats=1, server=server).as_dict()


@pytest.fixture(scope="module")
def raw(ralph: RalphServer) -> dict[str, Any]:
    return measure(N, ralph)


def test_every_side_reads_every_statement_exactly_once(raw: dict[str, Any]) -> None:
    assert raw["n"] == N
    assert set(raw["runs"]) == {OURS_PULL, OURS_RAW, THEIRS}
    for name, side in raw["runs"].items():
        assert (side["statements"], side["distinct"], side["duplicates"]) == (N, N, 0), name
        assert side["requests"] == N // 100 + 1, name  # Ralph caps pages at 100
        assert side["wall"] > 0 and side["cpu"] > 0, name
        assert len(side["walls"]) == 1, name
    assert raw["runs"][OURS_PULL]["completions"] == N


def test_the_load_and_the_reference_start_up_are_recorded(raw: dict[str, Any]) -> None:
    assert raw["load_requests"] == 1  # one POST of up to 1,000
    assert raw["load_wall"] > 0
    startup = raw["reader_startup"]
    assert startup["spawn_to_ready_wall"] >= startup["import_wall"] > 0
    assert raw["ralph_version"] == "5.1.0"


def test_the_report_has_the_table_and_the_ratios(raw: dict[str, Any]) -> None:
    runs = {name: Figures(**side) for name, side in raw["runs"].items()}
    section = report(Measurement(**{**raw, "runs": runs}))
    assert "| Side | Statements | Requests | Wall s | Statements/s | CPU µs/statement |" in section
    assert "**Ratio (ours / Ralph's client), wall time:**" in section
    assert f"{N} statements: 3 full pages, then an empty one" in section
    for label in ("`XapiSource.pull`", "`LrsClient.statements()`", "`LRSDataBackend.read()`"):
        assert label in section


def test_the_statements_are_logstore_completions_of_mapped_modules() -> None:
    modules = module_map()
    states = set()
    for i in range(50):
        statement = Statement.model_validate(logstore_statement(i))
        assert statement.object.id in modules
        states.add(completion_state(statement))
    assert len(states) == 4  # complete, passed, failed, incomplete
    assert logstore_statement(7) == logstore_statement(7)  # deterministic, ids included
