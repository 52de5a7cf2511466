"""Smoke test of the ingest benchmark: wrk against the bare reference and `serve --no-worker`
on SQLite, and the floor, `serve --no-worker`, two `serve --no-worker` processes and a
receiver beside a `skillrelay worker` on one PostgreSQL server, and `serve --server granian
--no-worker`, `serve --server granian` with its worker process and the floor on granian,
for a second each, one round; every acknowledged delivery is stored once."""

from __future__ import annotations

from typing import Any

import pytest

from bench.bench_ingest import POSTGRES, SIDES, measure, report

NAMES = (
    "bare",
    "receive",
    "floor_pg",
    "receive_pg",
    "receive2_pg",
    "granian",
    "floor_granian",
    "split_pg",
    "serve_pg_proc",
    "granian_serve",
)
pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def found() -> dict[str, list[dict[str, Any]]]:
    sides = tuple(s for s in SIDES if s.name in NAMES)
    return measure(1.0, 1.0, rounds=1, sides=sides, measured=15_000)


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
    assert stored >= receive["acknowledged"], (stored, receive)
    assert set(receive["inbox"]) == {"new"}
    assert bare["client_cpu"] > 0 and receive["server_cpu"] > 0
    assert bare["pg_cpu"] == 0 and receive["pg_cpu"] == 0  # no PostgreSQL on SQLite sides


@pytest.mark.parametrize("name", ["receive_pg", "receive2_pg"])
def test_the_postgresql_receivers_store_every_acknowledged_delivery(
    found: dict[str, list[dict[str, Any]]], name: str
) -> None:
    [side] = found[name]
    assert side["errors"] == 0 and side["requests"] > 50, side
    assert side["wrapped"] == 0
    assert side["exit_code"] == 0
    stored = sum(side["inbox"].values())
    assert stored >= side["acknowledged"] >= side["requests"] - side["errors"], (stored, side)
    assert set(side["inbox"]) == {"new"}
    # Our server processes and PostgreSQL's are measured apart.
    assert side["server_cpu"] > 0 and side["pg_cpu"] > 0, side


def test_serve_on_granian_stores_what_it_acknowledges(
    found: dict[str, list[dict[str, Any]]],
) -> None:
    """The server comparison holds only if the granian side stores what it acknowledges."""
    [side] = found["granian"]
    assert side["errors"] == 0 and side["exit_code"] == 0, side
    assert sum(side["inbox"].values()) >= side["acknowledged"] > 50, side
    assert side["server_cpu"] > 0.05 * side["requests"] / 1000, side  # > 0.05 ms a request


def test_the_floor_on_granian_stores_what_it_acknowledges(
    found: dict[str, list[dict[str, Any]]],
) -> None:
    """T1 on granian holds only if its floor does the durable write it claims to."""
    [floor] = found["floor_granian"]
    assert floor["errors"] == 0 and floor["exit_code"] == 0, floor
    assert floor["floor_rows"] >= floor["acknowledged"] > 50, floor


def test_both_processes_of_the_two_process_side_answered(
    found: dict[str, list[dict[str, Any]]],
) -> None:
    [two] = found["receive2_pg"]
    assert len(two["per_process_rps"]) == 2 and min(two["per_process_rps"]) > 0, two
    assert two["rps"] == pytest.approx(sum(two["per_process_rps"]))


def test_the_worker_beside_the_receiver_decides_what_it_stores_and_is_measured_with_it(
    found: dict[str, list[dict[str, Any]]],
) -> None:
    """The scaled-out side counts only if a worker process really decides the deliveries
    (woken by the inbox's notifications, long before its 2 s poll) and its CPU is counted."""
    [side] = found["split_pg"]
    assert side["errors"] == 0 and side["exit_code"] == 0, side
    assert sum(side["inbox"].values()) >= side["acknowledged"] > 50, side
    assert side["inbox"].get("processed", 0) >= 0.8 * side["acknowledged"], side
    assert 0 < side["worker_cpu"] < side["server_cpu"], side


def test_serve_on_postgresql_decides_in_the_worker_process_it_starts(
    found: dict[str, list[dict[str, Any]]],
) -> None:
    """T2 on PostgreSQL counts only if `serve`'s own worker process decides the deliveries
    and the CPU of that child is counted with the server's."""
    [side] = found["serve_pg_proc"]
    assert side["errors"] == 0 and side["exit_code"] == 0, side
    assert side["inbox"].get("processed", 0) >= 0.8 * side["acknowledged"] > 40, side
    # Against the receiver alone of the same pair run as two commands: more, by the child's.
    [split] = found["split_pg"]
    receiver = (split["server_cpu"] - split["worker_cpu"]) / split["requests"]
    assert side["server_cpu"] / side["requests"] > 1.15 * receiver, (side, split)


def test_serve_on_sqlite_decides_in_the_worker_process_it_starts(
    found: dict[str, list[dict[str, Any]]],
) -> None:
    """T2 on SQLite counts only if the child, woken by its watcher long before its 2 s poll,
    decides what `serve` stores."""
    [side] = found["granian_serve"]
    assert side["errors"] == 0 and side["exit_code"] == 0, side
    assert side["inbox"].get("processed", 0) >= 0.8 * side["acknowledged"] > 40, side


def test_the_postgresql_floor_stores_every_acknowledged_body(
    found: dict[str, list[dict[str, Any]]],
) -> None:
    [floor] = found["floor_pg"]
    assert floor["errors"] == 0 and floor["requests"] > 50, floor
    assert floor["floor_rows"] >= floor["acknowledged"] > 0, floor
    assert floor["pg_cpu"] > 0


def test_the_report_gives_the_targets_that_can_be_computed(
    found: dict[str, list[dict[str, Any]]],
) -> None:
    text = report(found, 1.0, 1.0)
    assert "| T2 receive / bare |" in text
    assert "| T2 on granian: receive / bare |" in text
    assert "T1 receive / floor" not in text  # no SQLite floor side in this run
    assert "bare Flask view" in text and "`serve --no-worker` (receive only)" in text
    for ratio in (
        "| T1 on PostgreSQL: receive / floor |",
        "| server CPU per request, PostgreSQL / SQLite (receive only) |",
        "| 2 receive-only processes / 1, PostgreSQL |",
    ):
        assert ratio in text
    assert "≤ 1.1×" in text and "≥ 1.3×" in text
    assert "| T2 scaled out on PostgreSQL: receiver + worker process / bare |" in text
    assert "Left undecided when the processes were stopped" in text and "split_pg " in text
    # Each row says which database its side used.
    rows = {s.label: s.database for s in SIDES if s.name in NAMES}
    for label, database in rows.items():
        assert f"| {label} | {database} |" in text
    assert sum(database == POSTGRES for database in rows.values()) == 5


def test_the_report_says_whether_a_measured_delivery_was_sent_twice(
    found: dict[str, list[dict[str, Any]]],
) -> None:
    """A side that ran out of distinct deliveries measured duplicates, which are cheaper to
    answer: the report says so rather than passing them off as deliveries."""
    assert "Every measured request was a distinct delivery" in report(found, 1.0, 1.0)
    repeated = {name: [{**runs[0], "wrapped": 2}] for name, runs in found.items()}
    text = report({**found, "floor_granian": repeated["floor_granian"]}, 1.0, 1.0)
    assert "**Repeats:** wrk ran out of distinct deliveries and sent them again " in text
    assert "(floor_granian 2 times" in text
