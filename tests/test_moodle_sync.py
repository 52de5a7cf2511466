"""MoodleSource: completion changes become Completion events, against a small fake Moodle."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
import responses

from connectors.http import RetryPolicy
from connectors.moodle import MoodleClient, calls_per_sync
from connectors.moodle_sync import IncompleteSync, MoodleSource, dump_state, load_state
from plugin.domain import Completion, CompletionState
from plugin.errors import AuthError
from plugin.ports import Batch, EventSource

FIXTURES = Path(__file__).parent / "fixtures" / "moodle"
URL = "https://lms.example.org"
ENDPOINT = f"{URL}/webservice/rest/server.php"
NOW = datetime(2023, 11, 22, 12, 0, tzinfo=UTC)
CMIDS = {45, 46, 47}  # the manifest's modules; cm 2 (a forum) is not one of them
T1, T2, T3 = 1_700_100_000, 1_700_050_000, 1_700_200_000


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class FakeMoodle:
    """Dispatches on `wsfunction` in the POST body; completion comes from `states`."""

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.users: dict[int, list[dict[str, Any]]] = {7: fixture("enrolled_users")}
        self.states: dict[tuple[int, int], tuple[int, int]] = {}
        self.errors: dict[int, str] = {}  # userid -> error fixture for its completion call
        self.course_errors: dict[int, str] = {}
        self.warnings: dict[int, str] = {}  # userid -> fixture with warnings
        self.site = "site_info"
        self.delay = 0.0
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self._template = fixture("activities_completion")
        rsps.add_callback(responses.POST, ENDPOINT, callback=self.handle)

    def handle(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        form = dict(parse_qsl(body))
        function = form["wsfunction"]
        with self._lock:
            self.calls[function] += 1
        if function == "core_webservice_get_site_info":
            answer = fixture(self.site)
        elif function == "core_enrol_get_enrolled_users":
            course = int(form["courseid"])
            answer = (
                fixture(self.course_errors[course])
                if course in self.course_errors
                else self.users[course]
            )
        elif function == "core_completion_get_activities_completion_status":
            answer = self._timed(int(form["courseid"]), int(form["userid"]))
        elif function == "core_course_get_course_module":
            cmid = int(form["cmid"])
            if cmid in CMIDS:
                answer = fixture("course_module")
                answer["cm"]["id"] = cmid
            else:
                answer = fixture("error_invalidrecord")
        elif function == "core_course_get_courses_by_field":
            template = fixture("courses_by_field")["courses"][0]
            ids = [int(c) for c in form["value"].split(",")]
            courses = [template | {"id": c, "fullname": f"Course {c}"} for c in ids if c != 404]
            answer = {"courses": courses, "warnings": []}
        else:
            raise AssertionError(function)
        return 200, {"Content-Type": "application/json"}, json.dumps(answer)

    def _timed(self, course: int, user: int) -> Any:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            return self._completion(user)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _completion(self, user: int) -> Any:
        if user in self.errors:
            return fixture(self.errors[user])
        if user == 12:
            return fixture("activities_completion_teacher")
        answer = copy.deepcopy(self._template)
        for status in answer["statuses"]:
            status["state"], status["timecompleted"] = self.states.get(
                (user, status["cmid"]), (0, 0)
            )
        if user in self.warnings:
            answer["warnings"] = fixture(self.warnings[user])["warnings"]
        return answer


@pytest.fixture
def moodle() -> Iterator[FakeMoodle]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeMoodle(rsps)


@pytest.fixture
def client() -> MoodleClient:
    policy = RetryPolicy(attempts=2, backoff_base=0.0, backoff_cap=0.0)
    return MoodleClient(URL, "t0k3n-abcdef", sleep=lambda _: None, clock=lambda: 0.0, policy=policy)


def source(client: MoodleClient, courses: tuple[int, ...] = (7,), **kwargs: Any) -> MoodleSource:
    return MoodleSource(client, courses=courses, cmids=kwargs.pop("cmids", CMIDS), **kwargs)


def pull(src: EventSource, cursors: Mapping[str, str | None] | None = None) -> list[Batch]:
    return list(src.pull(cursors or {}, NOW))


def only(batches: list[Batch]) -> Batch:
    assert len(batches) == 1
    return batches[0]


def completions(batch: Batch) -> list[Completion]:
    return [e for e in batch.events if isinstance(e, Completion)]


def test_first_sync_emits_current_states(moodle: FakeMoodle, client: MoodleClient) -> None:
    moodle.states = {(5, 45): (2, T1), (5, 46): (1, T2), (8, 47): (3, T3), (5, 2): (1, T1)}
    batch = only(pull(source(client)))
    events = completions(batch)
    assert [(e.person.id, e.module, e.state, e.at, e.natural_key) for e in events] == [
        ("5", "moodle:cm:45", CompletionState.PASSED, ts(T1), f"moodle:5:45:2:{T1}"),
        ("5", "moodle:cm:46", CompletionState.COMPLETE, ts(T2), f"moodle:5:46:1:{T2}"),
        ("8", "moodle:cm:47", CompletionState.FAILED, ts(T3), f"moodle:8:47:3:{T3}"),
    ]
    assert events[0].person.email == "ada@example.org"
    assert events[0].person.display_name == "Ada Lovelace"
    assert events[2].person.email is None  # Grace's email is hidden from the token's user
    assert {e.source for e in events} == {"moodle"}
    assert batch.stream == "course:7"
    assert batch.cursor == json.dumps(
        {"5:45": [2, T1], "5:46": [1, T2], "8:47": [3, T3]}, separators=(",", ":")
    )
    assert batch.fetched == 16  # 4 users x 4 statuses
    assert [r["cmid"] for r in batch.raw] == [45, 46, 47]
    assert batch.errors == ()


def test_second_sync_without_change_emits_nothing(moodle: FakeMoodle, client: MoodleClient) -> None:
    moodle.states = {(5, 45): (2, T1), (6, 46): (1, T2)}
    first = only(pull(source(client)))
    second = only(pull(source(client), {"course:7": first.cursor}))
    assert second.events == ()
    assert second.cursor is None  # unchanged: nothing to save


RESET = 1_700_300_000
TRANSITIONS = [
    ("1-to-0", (1, T1), (0, RESET), CompletionState.INCOMPLETE, f"0:{RESET}", ts(RESET)),
    ("1-to-0-row-deleted", (1, T1), (0, 0), CompletionState.INCOMPLETE, f"0:{T1}", NOW),
    ("0-to-2", (0, 0), (2, T2), CompletionState.PASSED, f"2:{T2}", ts(T2)),
    ("0-to-3", (0, 0), (3, T2), CompletionState.FAILED, f"3:{T2}", ts(T2)),
    ("1-to-2", (1, T1), (2, T2), CompletionState.PASSED, f"2:{T2}", ts(T2)),
    ("3-to-2", (3, T1), (2, T2), CompletionState.PASSED, f"2:{T2}", ts(T2)),
]


@pytest.mark.parametrize(
    ("before", "after", "state", "key", "at"),
    [t[1:] for t in TRANSITIONS],
    ids=[t[0] for t in TRANSITIONS],
)
def test_a_state_change_emits_exactly_one_completion(
    moodle: FakeMoodle,
    client: MoodleClient,
    before: tuple[int, int],
    after: tuple[int, int],
    state: CompletionState,
    key: str,
    at: datetime,
) -> None:
    moodle.states = {(5, 46): before, (6, 45): (2, T1)}  # user 6 does not change
    first = only(pull(source(client)))
    moodle.states[(5, 46)] = after
    batch = only(pull(source(client), {"course:7": first.cursor}))
    [event] = completions(batch)
    assert (event.person.id, event.module, event.state) == ("5", "moodle:cm:46", state)
    assert event.natural_key == f"moodle:5:46:{key}"
    assert event.at == at
    state_now, _ = load_state(batch.cursor)
    assert state_now.get((5, 46)) == (after if after[0] else None)
    assert state_now[(6, 45)] == (2, T1)
    # and the sync after that is quiet again
    assert only(pull(source(client), {"course:7": batch.cursor})).events == ()


def test_modules_not_of_interest_are_ignored(moodle: FakeMoodle, client: MoodleClient) -> None:
    moodle.states = {(5, 2): (1, T1), (5, 47): (1, T2)}
    batch = only(pull(source(client, cmids={47})))
    assert [e.module for e in completions(batch)] == ["moodle:cm:47"]
    assert load_state(batch.cursor)[0] == {(5, 47): (1, T2)}


def test_a_module_dropped_from_the_manifest_leaves_the_cursor(
    moodle: FakeMoodle, client: MoodleClient
) -> None:
    moodle.states = {(5, 45): (2, T1), (5, 47): (1, T2)}
    first = only(pull(source(client)))
    batch = only(pull(source(client, cmids={45}), {"course:7": first.cursor}))
    assert batch.events == ()
    assert load_state(batch.cursor)[0] == {(5, 45): (2, T1)}


def test_warnings_are_surfaced(moodle: FakeMoodle, client: MoodleClient) -> None:
    moodle.states = {(5, 45): (1, T1)}
    moodle.warnings[5] = "activities_completion_warning"
    batch = only(pull(source(client)))
    assert len(batch.events) == 1
    assert batch.errors == (
        "course 7 user 5: course 7: notenrolled: The user is not enrolled in this course",
    )


def test_one_failing_user_keeps_its_state_and_the_rest_sync(
    moodle: FakeMoodle, client: MoodleClient
) -> None:
    moodle.states = {(5, 45): (2, T1), (8, 46): (1, T2)}
    first = only(pull(source(client)))
    moodle.errors[8] = "error_usernotconfirmed"
    moodle.states[(5, 46)] = (1, T3)
    batch = only(pull(source(client), {"course:7": first.cursor}))
    assert [e.natural_key for e in batch.events] == [f"moodle:5:46:1:{T3}"]
    assert len(batch.errors) == 1 and "course 7 user 8" in batch.errors[0]
    assert "usernotconfirmed" in batch.errors[0]
    assert load_state(batch.cursor)[0][(8, 46)] == (1, T2)


def pull_incomplete(src: EventSource) -> tuple[list[Batch], str]:
    """The batches a pull yields before it ends with IncompleteSync, and its message."""
    batches: list[Batch] = []
    with pytest.raises(IncompleteSync) as caught:
        for batch in src.pull({}, NOW):
            batches.append(batch)
    return batches, str(caught.value)


def test_a_permission_error_fails_that_course_only(
    moodle: FakeMoodle, client: MoodleClient
) -> None:
    moodle.users[9] = fixture("enrolled_users")[:1]  # user 5 only
    moodle.errors[6] = "error_nopermissions"  # in course 7: report/progress:view missing
    moodle.states = {(5, 45): (2, T1)}
    [course9], message = pull_incomplete(source(client, courses=(7, 9)))
    assert course9.stream == "course:9"
    assert [e.natural_key for e in course9.events] == [f"moodle:5:45:2:{T1}"]
    assert "1 of 2 courses could not be read" in message
    assert 'course 7 "Course 7": ' in message and "nopermissions" in message
    assert "View activity completion reports" in message


def test_a_course_that_cannot_be_read_does_not_block_the_others(
    moodle: FakeMoodle, client: MoodleClient
) -> None:
    moodle.users[9] = fixture("enrolled_users")[:1]
    moodle.course_errors[8] = "error_coursecontextnotvalid"
    moodle.course_errors[404] = "error_invalidparameter"
    moodle.states = {(5, 45): (2, T1)}
    batches, message = pull_incomplete(source(client, courses=(9, 8, 404)))
    assert [b.stream for b in batches] == ["course:9"]
    assert [e.natural_key for e in batches[0].events] == [f"moodle:5:45:2:{T1}"]
    lines = message.splitlines()
    assert "2 of 3 courses could not be read" in lines[0]
    assert lines[1].startswith('  course 8 "Course 8": core_enrol_get_enrolled_users: ')
    assert "errorcoursecontextnotvalid" in lines[1] and "(Not enrolled)" in lines[1]
    assert lines[2].startswith("  course 404 (name not visible to the token's user): ")
    assert "invalidparameter" in lines[2]
    assert moodle.calls["core_course_get_courses_by_field"] == 1


def test_a_refused_token_still_ends_the_pull(moodle: FakeMoodle, client: MoodleClient) -> None:
    moodle.course_errors[7] = "error_invalidtoken"
    moodle.users[9] = fixture("enrolled_users")
    with pytest.raises(AuthError, match="invalidtoken") as caught:
        pull(source(client, courses=(7, 9)))
    assert not isinstance(caught.value, IncompleteSync)
    assert moodle.calls["core_completion_get_activities_completion_status"] == 0


def test_the_sync_checks_its_functions_first(moodle: FakeMoodle, client: MoodleClient) -> None:
    moodle.site = "site_info_limited"
    with pytest.raises(AuthError, match="core_completion_get_activities_completion_status"):
        pull(source(client))
    assert moodle.calls["core_enrol_get_enrolled_users"] == 0


def test_an_unreadable_cursor_starts_over(moodle: FakeMoodle, client: MoodleClient) -> None:
    moodle.states = {(5, 45): (2, T1)}
    batch = only(pull(source(client), {"course:7": "{not json"}))
    assert [e.natural_key for e in batch.events] == [f"moodle:5:45:2:{T1}"]
    assert batch.errors == (
        "course 7: unreadable cursor, starting over (repeats are dropped by natural key)",
    )


def test_calls_match_the_documented_cost(moodle: FakeMoodle, client: MoodleClient) -> None:
    moodle.users[9] = fixture("enrolled_users")[:2]
    pull(source(client, courses=(7, 9)))
    assert sum(moodle.calls.values()) == calls_per_sync([4, 2]) == 9


def test_concurrency_is_bounded(moodle: FakeMoodle, client: MoodleClient) -> None:
    moodle.users[7] = [{"id": i, "fullname": f"Learner {i}"} for i in range(100, 116)]
    moodle.states = {(i, 45): (1, T1) for i in range(100, 116)}
    moodle.delay = 0.02
    batch = only(pull(source(client, concurrency=3)))
    assert len(batch.events) == 16
    in_order = [str(i) for i in range(100, 116)]
    assert [e.person.id for e in completions(batch)] == in_order
    assert 2 <= moodle.max_in_flight <= 3


def test_concurrency_must_be_positive(client: MoodleClient) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        source(client, concurrency=0)


@pytest.mark.parametrize(
    "cursor",
    ['{"5:45": [2]}', '{"x": [1, 2]}', "[1, 2]", '{"5:45": "2"}'],
    ids=["short-entry", "bad-key", "not-an-object", "not-a-pair"],
)
def test_load_state_rejects_malformed_cursors(cursor: str) -> None:
    state, notes = load_state(cursor)
    assert state == {} and len(notes) == 1


def test_state_round_trips() -> None:
    state = {(5, 45): (2, T1), (12, 7): (1, 0)}
    assert load_state(dump_state(state)) == (state, [])
    assert load_state(None) == ({}, []) and load_state("") == ({}, [])


def test_a_module_without_course_is_placed_by_its_cmid(
    moodle: FakeMoodle, client: MoodleClient
) -> None:
    moodle.states = {(5, 46): (1, T2)}
    batch = only(pull(source(client, courses=(), cmids=(), unplaced=(46,))))
    assert batch.stream == "course:7"
    assert [e.module for e in completions(batch)] == ["moodle:cm:46"]
    assert moodle.calls["core_course_get_course_module"] == 1
    assert moodle.calls["core_webservice_get_site_info"] == 1


def test_a_module_moodle_cannot_find_is_named(moodle: FakeMoodle, client: MoodleClient) -> None:
    moodle.states = {(5, 46): (1, T2)}
    [batch], message = pull_incomplete(source(client, courses=(), unplaced=(46, 999)))
    assert [e.module for e in completions(batch)] == ["moodle:cm:46"]
    assert "1 module(s) could not be found" in message
    assert "module cmid 999 (no moodle_course) not found" in message
    assert "invalidrecord" in message
    assert moodle.calls["core_course_get_courses_by_field"] == 0
