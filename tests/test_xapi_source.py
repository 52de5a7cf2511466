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

    def statements(self, **kwargs: Any) -> Iterator[StatementPage]:
        self.asked.append(kwargs)
        seen: set[str] = set()
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
    ("viewed", None, None, None),
    ("completed_other_module", None, None, None),
]


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

    assert [e.natural_key for e in first.events] == [load("completed")["id"]]
    assert first.raw == (load("completed"),)
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
        "ignored_verb": 1,
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


def test_the_cursor_is_the_newest_timestamp_and_since_is_cursor_minus_lag() -> None:
    lrs = FakeLrs(
        [
            ([stamped("completed", "2024-05-01T10:00:00Z", "2024-05-01T12:00:00Z")], None),
            ([stamped("passed", "2024-05-01T10:05:00Z", "2024-05-01T12:00:01Z")], None),
        ]
    )
    batches = pull(source(lrs), cursor="2024-05-01T09:00:00+00:00")
    assert lrs.asked[0]["since"] == datetime(2024, 5, 1, 8, 55, tzinfo=UTC)
    assert [b.cursor for b in batches] == [
        "2024-05-01T10:00:00+00:00",
        "2024-05-01T10:05:00+00:00",
    ]


def test_the_stored_watermark_can_be_chosen() -> None:
    lrs = FakeLrs([([stamped("completed", "2024-05-01T10:00:00Z", "2024-05-01T12:00:00Z")], None)])
    (batch,) = pull(source(lrs, watermark="stored", lag=timedelta(0)), cursor="2024-05-01T00:00Z")
    assert batch.cursor == "2024-05-01T12:00:00+00:00"
    assert lrs.asked[0]["since"] == datetime(2024, 5, 1, tzinfo=UTC)


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


@pytest.mark.parametrize("cursor", ["yesterday", "2024-13-01T00:00:00Z"])
def test_a_bad_cursor_is_a_config_error(cursor: str) -> None:
    with pytest.raises(ConfigError, match="ISO 8601"):
        pull(source(FakeLrs([])), cursor=cursor)


def test_a_negative_lag_is_refused() -> None:
    with pytest.raises(ValueError, match="lag"):
        source(FakeLrs([]), lag=timedelta(minutes=-1))


times = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2024, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=60, deadline=None)
@given(
    pages=st.lists(st.tuples(st.lists(times, max_size=4), st.one_of(st.none(), times)), max_size=4),
    start=st.one_of(st.none(), times),
    now=times,
)
def test_cursors_never_move_backwards_nor_past_now(
    pages: list[tuple[list[datetime], datetime | None]],
    start: datetime | None,
    now: datetime,
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
    previous = start
    for batch in pull(source(FakeLrs(fake_pages)), start.isoformat() if start else None, now):
        if batch.cursor is None:
            continue
        value = datetime.fromisoformat(batch.cursor)
        assert batch.position == value
        assert value <= now
        assert previous is None or value > previous
        previous = value


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
