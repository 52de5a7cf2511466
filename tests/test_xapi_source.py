"""XapiSource: Logstore-shaped statements to Completions, and the cursor rules."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.xapi import LrsClient, StatementPage, XapiSource
from connectors.xapi_client import read_page
from connectors.xapi_cursor import SourceCursor, read_source_cursor
from plugin.domain import Completion, CompletionState
from plugin.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures" / "xapi" / "logstore"
ENDPOINT = "https://lrs.example.org/xAPI/"
STATEMENTS = ENDPOINT + "statements"
PAGE = "https://moodle.example.org/mod/page/view.php?id=42"
QUIZ = "https://moodle.example.org/mod/quiz/view.php?id=43"
MODULES = {PAGE: "sql-indexing-basics", QUIZ: "sql-indexing-quiz"}
NOW = datetime(2024, 5, 2, tzinfo=UTC)
ANA = "account:https://moodle.example.org|17"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


@dataclass
class FakeLrs:
    """An LrsClient stand-in: fixed pages (parsed by the real page parser), stored statements."""

    pages: list[tuple[list[Any], datetime | None]]
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    asked: list[dict[str, Any]] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)
    probe: list[list[Any]] = field(default_factory=list)  # answers to a query with `until`

    def statements(self, **kwargs: Any) -> Iterator[StatementPage]:
        self.asked.append(kwargs)
        seen: set[str] = set()
        if kwargs.get("until") is not None:
            for items in self.probe:
                yield read_page(items, seen, {})
            return
        for items, consistent in self.pages:
            headers = {}
            if consistent is not None:
                headers["X-Experience-API-Consistent-Through"] = consistent.isoformat()
            yield read_page(items, seen, headers)

    def get_statement(self, statement_id: str) -> Mapping[str, Any] | None:
        self.lookups.append(statement_id)
        return self.stored.get(statement_id)


def source(lrs: FakeLrs, **kwargs: Any) -> XapiSource:
    return XapiSource(lrs, MODULES, **kwargs)  # type: ignore[arg-type]


def pull(src: XapiSource, cursor: str | None = None, now: datetime = NOW) -> list[Any]:
    return list(src.pull({"statements": cursor}, now))


def events(batches: list[Any]) -> list[Completion]:
    return [e for b in batches for e in b.events]


def stamped(name: str, timestamp: str, stored: str | None = None) -> dict[str, Any]:
    statement = load(name)
    statement["timestamp"] = timestamp
    statement["stored"] = stored or timestamp
    return statement


# -- what a statement means -----------------------------------------------------------------

CASES = [
    ("completed", CompletionState.COMPLETE, "sql-indexing-basics", ANA),
    ("completed_success", CompletionState.PASSED, "sql-indexing-quiz", ANA),
    ("completed_failure", CompletionState.FAILED, "sql-indexing-quiz", ANA),
    ("uncompleted", CompletionState.INCOMPLETE, "sql-indexing-basics", ANA),
    ("passed", CompletionState.PASSED, "sql-indexing-quiz", "mbox:mailto:ben@example.org"),
    (
        "failed",
        CompletionState.FAILED,
        "sql-indexing-quiz",
        "mbox_sha1sum:0a5715adbca1b3525e5194f98b1860861e4a76da",
    ),
    ("completed_other_module", None, None, None),
]  # "viewed" is progress, not a completion: tests/test_progress_xapi.py


@pytest.mark.parametrize(
    ("name", "state", "module", "person"), CASES, ids=[case[0] for case in CASES]
)
def test_logstore_statements_map_to_completions(
    name: str, state: CompletionState | None, module: str | None, person: str | None
) -> None:
    statement = load(name)
    found = events(pull(source(FakeLrs([([statement], None)]))))
    if state is None:
        assert found == []
        return
    (event,) = found
    assert (event.state, event.module, event.person.id) == (state, module, person)
    assert event.source == "xapi"
    assert event.natural_key == statement["id"]
    assert event.at == datetime.fromisoformat(statement["timestamp"])


def test_the_person_carries_the_mbox_email_and_the_name() -> None:
    (event,) = events(pull(source(FakeLrs([([load("passed")], None)]))))
    assert event.person.email == "ben@example.org"
    assert event.person.display_name == "Ben Builder"


def test_at_falls_back_to_stored() -> None:
    statement = load("completed")
    del statement["timestamp"]
    (event,) = events(pull(source(FakeLrs([([statement], None)]))))
    assert event.at == datetime(2024, 5, 1, 10, 0, 2, 120000, tzinfo=UTC)


def test_a_completed_statement_saying_not_complete_is_ignored() -> None:
    statement = load("completed")
    statement["result"]["completion"] = False
    src = source(FakeLrs([([statement], None)]))
    assert events(pull(src)) == []
    assert src.counts["ignored_verb"] == 1


def test_one_batch_per_page_with_raw_aligned_to_events_and_everything_counted() -> None:
    lrs = FakeLrs(
        [
            ([load("viewed"), load("completed"), load("malformed")], None),
            ([load("completed_other_module"), load("passed"), load("completed")], None),
        ]
    )
    src = source(lrs)
    first, second = pull(src)

    # "viewed" (09:55) is progress on the page, before its completion (10:00).
    assert [e.natural_key for e in first.events] == [load("viewed")["id"], load("completed")["id"]]
    assert first.raw == (load("viewed"), load("completed"))
    assert first.fetched == 3
    assert len(first.errors) == 1 and load("malformed")["id"] in first.errors[0]
    assert [e.natural_key for e in second.events] == [load("passed")["id"]]
    assert second.raw == (load("passed"),)
    assert {b.stream for b in (first, second)} == {"statements"}
    assert src.counts == {
        "fetched": 6,
        "duplicates": 1,
        "errors": 1,
        "completions": 2,
        "progress": 1,
        "ignored_activity": 1,
    }


def test_a_group_actor_is_ignored() -> None:
    statement = load("completed")
    statement["actor"] = {"objectType": "Group", "mbox": "mailto:team@example.org"}
    src = source(FakeLrs([([statement], None)]))
    assert events(pull(src)) == []
    assert src.counts["ignored_actor"] == 1


# -- voiding --------------------------------------------------------------------------------


def test_voiding_a_completion_read_in_the_same_pull_makes_it_incomplete() -> None:
    lrs = FakeLrs([([load("completed"), load("voided")], None)])
    found = events(pull(source(lrs)))
    assert [(e.state, e.module, e.person.id) for e in found] == [
        (CompletionState.COMPLETE, "sql-indexing-basics", ANA),
        (CompletionState.INCOMPLETE, "sql-indexing-basics", ANA),
    ]
    assert found[1].natural_key == load("voided")["id"]
    assert found[1].at == datetime(2024, 5, 1, 11, 0, tzinfo=UTC)
    assert lrs.lookups == []


def test_events_are_in_time_order_whatever_the_page_order() -> None:
    # Ralph reverses each page when asked `ascending=true`: the voiding comes first.
    lrs = FakeLrs([([load("voided"), load("uncompleted"), load("completed")], None)])
    (batch,) = pull(source(lrs))
    assert [e.state for e in batch.events] == [
        CompletionState.COMPLETE,
        CompletionState.INCOMPLETE,
        CompletionState.INCOMPLETE,
    ]
    assert [r["id"] for r in batch.raw] == [e.natural_key for e in batch.events]
    assert lrs.lookups == []


def test_voiding_a_completion_from_an_earlier_pull_looks_it_up() -> None:
    target = load("completed")
    lrs = FakeLrs([([load("voided")], None)], stored={target["id"]: target})
    (event,) = events(pull(source(lrs)))
    assert (event.state, event.person.id, event.module) == (
        CompletionState.INCOMPLETE,
        ANA,
        "sql-indexing-basics",
    )
    assert lrs.lookups == [target["id"]]


@pytest.mark.parametrize("target", ["viewed", "uncompleted", "completed_other_module", None])
def test_voiding_anything_but_a_known_completion_is_ignored(target: str | None) -> None:
    voided = load("voided")
    stored = {}
    if target is not None:
        stored[voided["object"]["id"]] = {**load(target), "id": voided["object"]["id"]}
    src = source(FakeLrs([([voided], None)], stored=stored))
    assert events(pull(src)) == []
    assert src.counts["ignored_void"] == 1


# -- cursor ---------------------------------------------------------------------------------


def saved(batch: Any) -> SourceCursor:
    assert batch.cursor is not None
    return read_source_cursor(batch.cursor)


def test_a_timestamp_cursor_is_saved_once_the_walk_is_complete() -> None:
    # Pages in insertion order: the newest timestamp of page 1 says nothing of page 2.
    lrs = FakeLrs(
        [
            ([stamped("completed", "2024-05-01T10:05:00Z", "2024-05-01T12:00:00Z")], None),
            ([stamped("passed", "2024-05-01T10:00:00Z", "2024-05-01T12:00:01Z")], None),
        ]
    )
    batches = pull(source(lrs), cursor="2024-05-01T09:00:00+00:00")
    assert lrs.asked[0]["since"] == datetime(2024, 5, 1, 8, 55, tzinfo=UTC)
    assert [b.cursor for b in batches] == [None, "2024-05-01T10:05:00+00:00"]
    assert batches[-1].position == NOW


def test_a_stored_cursor_moves_after_every_page_in_stored_order() -> None:
    lrs = FakeLrs(
        [
            ([stamped("completed", "2024-05-01T10:00:00Z", "2024-05-01T12:00:00Z")], None),
            ([stamped("passed", "2024-05-01T09:00:00Z", "2024-05-01T12:05:00Z")], None),
        ]
    )
    src = source(lrs, since_compares="stored", lag=timedelta(0))
    first, second = pull(src, cursor="2024-05-01T11:00Z")
    assert lrs.asked[0]["since"] == datetime(2024, 5, 1, 11, tzinfo=UTC)
    assert saved(first) == SourceCursor(datetime(2024, 5, 1, 12, tzinfo=UTC), "stored")
    assert first.position == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert saved(second) == SourceCursor(datetime(2024, 5, 1, 12, 5, tzinfo=UTC), "stored")
    assert saved(second).dump() == second.cursor


def test_a_stored_cursor_waits_for_the_end_when_pages_are_not_in_stored_order() -> None:
    lrs = FakeLrs(
        [
            ([stamped("completed", "2024-05-01T10:00:00Z", "2024-05-01T12:05:00Z")], None),
            ([stamped("passed", "2024-05-01T09:00:00Z", "2024-05-01T12:00:00Z")], None),
            ([stamped("failed", "2024-05-01T09:00:00Z", "2024-05-01T12:10:00Z")], None),
        ]
    )
    batches = pull(source(lrs, since_compares="stored"), cursor="2024-05-01T11:00Z")
    assert [b.cursor is None for b in batches] == [False, True, False]
    assert saved(batches[-1]).at == datetime(2024, 5, 1, 12, 10, tzinfo=UTC)


def test_the_trailing_window_is_read_again_on_schedule() -> None:
    def reread_from(cursor: SourceCursor, now: datetime) -> tuple[datetime, SourceCursor]:
        lrs = FakeLrs([([stamped("completed", "2024-05-01T10:00:00Z")], None)])
        src = source(lrs, reread_window=timedelta(hours=24), reread_every=timedelta(hours=1))
        (batch,) = pull(src, cursor.dump(), now)
        return lrs.asked[0]["since"], saved(batch) if batch.cursor else cursor

    at = datetime(2024, 5, 1, 11, tzinfo=UTC)
    last = datetime(2024, 5, 1, 11, 30, tzinfo=UTC)
    since, after = reread_from(SourceCursor(at, reread=last), last + timedelta(minutes=59))
    assert (since, after.reread) == (at - timedelta(minutes=5), last)
    due = last + timedelta(hours=1)
    since, after = reread_from(SourceCursor(at, reread=last), due)
    assert (since, after) == (at - timedelta(hours=24), SourceCursor(at, reread=due))
    # A cursor saved before the schedule existed, or on `stored`: read the window now.
    for cursor in (SourceCursor(at), SourceCursor(at, "stored")):
        since, after = reread_from(cursor, NOW)
        assert (since, after) == (at - timedelta(hours=24), SourceCursor(at, reread=NOW))


def test_a_first_pull_reads_everything_and_counts_as_a_reread() -> None:
    lrs = FakeLrs([([stamped("completed", "2024-05-01T10:00:00Z")], None)])
    (batch,) = pull(source(lrs, reread_every=timedelta(hours=1)))
    assert lrs.asked[0]["since"] is None
    assert saved(batch) == SourceCursor(datetime(2024, 5, 1, 10, tzinfo=UTC), reread=NOW)


def late(timestamp: str, stored: str) -> dict[str, Any]:
    statement = stamped("viewed", timestamp, stored)
    statement["id"] = "11111111-2222-4333-8444-555555555555"
    return statement


@pytest.mark.parametrize(("answer", "found"), [([[]], "timestamp"), (None, "stored")])
def test_auto_probes_what_since_compares(answer: list[list[Any]] | None, found: str) -> None:
    sample = late("2024-05-01T10:00:00Z", "2024-05-01T10:10:00Z")
    other = stamped("completed", "2024-05-01T09:00:00Z")  # stored then: no use to a probe
    lrs = FakeLrs([([other, sample], None)], probe=answer or [[sample]])
    (batch,) = pull(source(lrs, since_compares="auto"))
    probe = lrs.asked[1]
    assert probe["since"] == datetime(2024, 5, 1, 10, 5, tzinfo=UTC)
    assert probe["until"] == datetime(2024, 5, 1, 10, 10, tzinfo=UTC)
    assert (probe["verb"], probe["ascending"]) == (sample["verb"]["id"], False)
    assert saved(batch).lrs == found


def test_auto_without_a_statement_to_probe_with_asks_again_later() -> None:
    lrs = FakeLrs([([stamped("completed", "2024-05-01T10:00:00Z")], None)])
    (batch,) = pull(source(lrs, since_compares="auto"))
    assert len(lrs.asked) == 1
    assert saved(batch).lrs is None


def test_auto_reads_by_stored_once_the_lrs_is_found_to_honour_it() -> None:
    lrs = FakeLrs([([stamped("completed", "2024-05-01T10:00:00Z", "2024-05-01T12:00:00Z")], None)])
    cursor = SourceCursor(datetime(2024, 5, 1, 9, tzinfo=UTC), lrs="stored")
    (batch,) = pull(source(lrs, since_compares="auto", lag=timedelta(0)), cursor.dump())
    assert lrs.asked[0]["since"] == cursor.at
    assert saved(batch) == SourceCursor(
        datetime(2024, 5, 1, 12, tzinfo=UTC), "stored", lrs="stored"
    )
    assert len(lrs.asked) == 1  # no probe


def test_consistent_through_caps_the_cursor() -> None:
    consistent = datetime(2024, 5, 1, 10, 2, tzinfo=UTC)
    lrs = FakeLrs([([stamped("completed", "2024-05-01T10:05:00Z")], consistent)])
    (batch,) = pull(source(lrs))
    assert batch.cursor == "2024-05-01T10:02:00+00:00"


def test_the_cursor_never_passes_the_sync_start() -> None:
    lrs = FakeLrs([([stamped("completed", "2024-06-01T00:00:00Z")], None)])
    (batch,) = pull(source(lrs))
    assert batch.cursor == NOW.isoformat()


def test_the_cursor_never_moves_backwards() -> None:
    lrs = FakeLrs([([stamped("completed", "2024-05-01T10:00:00Z")], None)])
    (batch,) = pull(source(lrs), cursor="2024-05-01T10:03:00+00:00")
    assert batch.cursor is None  # unchanged
    assert len(batch.events) == 1  # the overlap is read again; the inbox drops it


def test_an_empty_pull_leaves_the_cursor_alone() -> None:
    (batch,) = pull(source(FakeLrs([([], None)])), cursor="2024-05-01T10:03:00+00:00")
    assert (batch.cursor, batch.events, batch.fetched) == (None, (), 0)


@pytest.mark.parametrize(
    "cursor", ["yesterday", "2024-13-01T00:00:00Z", "{", "[]", '{"at": 1}', '{"field": "x"}']
)
def test_a_bad_cursor_is_a_config_error(cursor: str) -> None:
    with pytest.raises(ConfigError, match="ISO 8601"):
        pull(source(FakeLrs([])), cursor=cursor)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"lag": timedelta(minutes=-1)}, "lag"),
        ({"reread_window": timedelta(minutes=1)}, "reread_window"),
        ({"reread_every": timedelta(0)}, "reread_every"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        source(FakeLrs([]), **kwargs)


times = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2024, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=60, deadline=None)
@given(
    pages=st.lists(st.tuples(st.lists(times, max_size=4), st.one_of(st.none(), times)), max_size=4),
    start=st.one_of(st.none(), times),
    now=times,
    by_stored=st.booleans(),
)
def test_cursors_never_move_backwards_nor_past_now(
    pages: list[tuple[list[datetime], datetime | None]],
    start: datetime | None,
    now: datetime,
    by_stored: bool,
) -> None:
    counter = iter(range(10_000))
    fake_pages = []
    for stamps, consistent in pages:
        items = []
        for when in stamps:
            statement = stamped("completed", when.isoformat())
            statement["id"] = f"00000000-0000-0000-0000-{next(counter):012}"
            items.append(statement)
        fake_pages.append((items, consistent))
    src = source(FakeLrs(fake_pages), since_compares="stored" if by_stored else "timestamp")
    previous, last_position = start, None
    for batch in pull(src, start.isoformat() if start else None, now):
        if batch.cursor is None:
            continue
        value = saved(batch).at
        assert value is not None and value <= now
        assert previous is None or value > previous
        assert batch.position is not None and batch.position <= now
        assert last_position is None or batch.position > last_position
        previous, last_position = value, batch.position


# -- through HTTP ---------------------------------------------------------------------------


@responses.activate
def test_a_pull_through_the_real_client_dedupes_the_page_overlap() -> None:
    more = "/xAPI/statements?search_after=x"
    first = {"statements": [load("completed"), load("uncompleted")], "more": more}
    second = {"statements": [load("uncompleted"), load("completed_success")], "more": ""}
    responses.get(STATEMENTS, json=first)
    responses.get(STATEMENTS, json=second)
    src = XapiSource(LrsClient(ENDPOINT, auth=("u", "pw-1234")), MODULES)
    found = events(pull(src))
    assert [e.state for e in found] == [
        CompletionState.COMPLETE,
        CompletionState.INCOMPLETE,
        CompletionState.PASSED,
    ]
