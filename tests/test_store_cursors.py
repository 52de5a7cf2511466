"""Sync cursors never move backwards."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugin.store import Store
from plugin.store.cursors import sort_key

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_unknown_cursor_is_none(store: Store) -> None:
    assert store.cursors.get("jira", "issues") is None


def test_cursor_moves_forward_only(store: Store) -> None:
    assert store.cursors.set("jira", "issues", "2026-03-02 09:00", T0) is True
    assert store.cursors.set("jira", "issues", "2026-03-02 10:00", T0 + timedelta(hours=1))
    assert store.cursors.set("jira", "issues", "2026-03-02 08:00", T0) is False
    assert store.cursors.set("jira", "issues", "same again", T0 + timedelta(hours=1)) is False
    assert store.cursors.get("jira", "issues") == "2026-03-02 10:00"
    assert store.cursors.get("jira", "other") is None  # cursors are per (source, stream)


def test_for_source_lists_every_stream_of_one_source(store: Store) -> None:
    store.cursors.set("jira", "issues", "a", 1)
    store.cursors.set("jira", "changelog", "b", 2)
    store.cursors.set("xapi", "statements", "c", 3)
    assert store.cursors.for_source("jira") == {"issues": "a", "changelog": "b"}
    assert store.cursors.for_source("moodle") == {}


def test_integer_positions(store: Store) -> None:
    assert store.cursors.set("moodle", "completions", "9", 9)
    assert store.cursors.set("moodle", "completions", "10", 10)  # 10 > 9, not "10" < "9"
    assert not store.cursors.set("moodle", "completions", "2", 2)
    assert store.cursors.get("moodle", "completions") == "10"


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        (9, 10),
        (0, 2**63),
        (T0, T0 + timedelta(microseconds=1)),
        (T0.astimezone(timezone(timedelta(hours=2))), T0 + timedelta(seconds=1)),
        (
            T0 + timedelta(seconds=1),
            T0.astimezone(timezone(timedelta(hours=-5))) + timedelta(seconds=2),
        ),
    ],
    ids=["ints", "big-int", "microsecond", "zone-ahead", "zone-behind"],
)
def test_sort_key_sorts_like_the_position(earlier: int | datetime, later: int | datetime) -> None:
    assert sort_key(earlier) < sort_key(later)


@pytest.mark.parametrize(
    "bad",
    [-1, datetime(2026, 3, 2)],
    ids=["negative", "naive"],
)
def test_sort_key_refuses_ambiguous_positions(bad: int | datetime) -> None:
    with pytest.raises(ValueError):
        sort_key(bad)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=8))
def test_any_sequence_of_sets_keeps_the_maximum(store: Store, positions: list[int]) -> None:
    stream = uuid.uuid4().hex  # the store fixture is shared by all examples
    moved = [store.cursors.set("xapi", stream, str(p), p) for p in positions]
    assert store.cursors.get("xapi", stream) == str(max(positions))
    running = [max(positions[: i + 1]) for i in range(len(positions))]
    expected = [True] + [running[i] > running[i - 1] for i in range(1, len(positions))]
    assert moved == expected
