"""Started modules from Moodle's web services, for sites without the Logstore xAPI plugin: a
module viewed but not completed, and a newly seen enrolment, each become one Progress event,
and they bring the stalled-module reminders until the module is completed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.moodle import MoodleClient
from connectors.moodle_models import ActivitiesCompletion
from connectors.moodle_sync import ENROLLED_VERB, MoodleSource, read_cursor
from plugin.domain import Completion, Progress
from plugin.notify.scheduler import Scheduler
from plugin.notify.words import Words
from plugin.ports import Batch
from plugin.store import Store
from plugin.sync import sync_source
from tests.moodle_server import NORTHWIND, Site, fixture, moodle_server, northwind_site
from tests.test_notify_scheduler import manifest_with
from tests.test_pipeline_support import drain, pipeline

SYNC_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = SYNC_AT + timedelta(days=1)
T1 = 1_772_300_000  # 2026-02-28, before the first sync
AMARA, BEN, CHLOE = 101, 102, 103  # the example manifest's Moodle users
QUERY_PLANS, INDEXES = 2101, 2102  # course 21 "SQL indexing"


@pytest.fixture
def site() -> Site:
    return northwind_site(users=2)  # Amara and Ben in every course


@pytest.fixture
def url(site: Site) -> Iterator[str]:
    with moodle_server(site) as base:
        yield base


def source(
    url: str, *, view: bool = True, enrolment: bool = False, cmids: tuple[int, ...] = ()
) -> MoodleSource:
    return MoodleSource(
        MoodleClient(url, "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"),
        courses=(21,),
        cmids=cmids or NORTHWIND[21],
        started_on_view=view,
        started_on_enrolment=enrolment,
    )


def pull(src: MoodleSource, cursor: str | None = None, at: datetime = SYNC_AT) -> Batch:
    [batch] = src.pull({"course:21": cursor}, at)
    return batch


def started(batch: Batch) -> list[tuple[str, int, str, str]]:
    """(user, cmid, verb, natural key) of each Progress, in order; each dated `at`."""
    found = [e for e in batch.events if isinstance(e, Progress)]
    return [
        (e.person.id, int(e.module.removeprefix("moodle:cm:")), e.verb, e.natural_key)
        for e in found
    ]


def completed(batch: Batch) -> list[str]:
    return [e.natural_key for e in batch.events if isinstance(e, Completion)]


def test_a_module_viewed_and_not_completed_is_started_once(site: Site, url: str) -> None:
    site.view_rule = {QUERY_PLANS, INDEXES}
    site.viewed = {(AMARA, QUERY_PLANS), (BEN, QUERY_PLANS)}
    site.states = {(BEN, QUERY_PLANS): (1, T1)}  # Ben viewed it and completed it
    src = source(url)

    first = pull(src)
    assert started(first) == [
        ("101", QUERY_PLANS, "viewed", "moodle-progress:101:2101:viewed"),
    ]
    [progress] = [e for e in first.events if isinstance(e, Progress)]
    assert progress.at == SYNC_AT  # Moodle does not say when it was viewed
    assert progress.source == "moodle"
    assert progress.person.email == "learner101@example.org"
    assert completed(first) == [f"moodle:102:2101:1:{T1}"]
    assert len(first.raw) == len(first.events)
    assert json.loads(first.cursor or "") == {"101:2101": [0, 0], "102:2101": [1, T1]}

    again = pull(src, first.cursor, LATER)
    assert again.events == () and again.cursor is None


def test_views_by_teachers_or_of_other_modules_start_nothing(site: Site, url: str) -> None:
    site.view_rule = {QUERY_PLANS, INDEXES}
    site.viewed = {(AMARA, QUERY_PLANS), (BEN, QUERY_PLANS), (BEN, INDEXES)}
    site.non_learners = {AMARA}
    batch = pull(source(url, cmids=(QUERY_PLANS,)))
    assert started(batch) == [("102", QUERY_PLANS, "viewed", "moodle-progress:102:2101:viewed")]


def test_moodle_before_3_11_has_no_view_signal(site: Site, url: str) -> None:
    site.view_rule = {QUERY_PLANS}
    site.viewed = {(AMARA, QUERY_PLANS)}
    site.states = {(BEN, INDEXES): (1, T1)}
    site.details = False
    batch = pull(source(url))
    assert started(batch) == []
    assert completed(batch) == [f"moodle:102:2102:1:{T1}"]


def test_the_recorded_answer_reads_the_view_rule() -> None:
    answer = ActivitiesCompletion.model_validate(fixture("activities_completion_viewed"))
    lesson, page = answer.statuses
    assert (lesson.viewed, page.viewed) == (True, False)
    assert [d.rulename for d in lesson.details] == ["completionview", "completionendreached"]
    legacy: dict[str, Any] = fixture("activities_completion_viewed")
    for status in legacy["statuses"]:
        del status["details"]
    assert not any(s.viewed for s in ActivitiesCompletion.model_validate(legacy).statuses)


def test_a_newly_enrolled_user_has_started_the_modules_they_have_not_completed(
    site: Site, url: str
) -> None:
    site.states = {(AMARA, QUERY_PLANS): (1, T1)}
    src = source(url, view=False, enrolment=True)

    first = pull(src)
    assert started(first) == [
        ("101", INDEXES, ENROLLED_VERB, "moodle-progress:101:2102:enrolled"),
        ("102", QUERY_PLANS, ENROLLED_VERB, "moodle-progress:102:2101:enrolled"),
        ("102", INDEXES, ENROLLED_VERB, "moodle-progress:102:2102:enrolled"),
    ]
    assert {e.at for e in first.events if isinstance(e, Progress)} == {SYNC_AT}
    assert read_cursor(first.cursor)[0].enrolled == {AMARA, BEN}

    # Chloe enrols and Ben leaves: only Chloe is new, and Ben leaves the cursor.
    site.courses[21].users = [AMARA, CHLOE]
    second = pull(src, first.cursor, LATER)
    assert started(second) == [
        ("103", QUERY_PLANS, ENROLLED_VERB, "moodle-progress:103:2101:enrolled"),
        ("103", INDEXES, ENROLLED_VERB, "moodle-progress:103:2102:enrolled"),
    ]
    assert read_cursor(second.cursor)[0].enrolled == {AMARA, CHLOE}

    # Ben comes back: the same keys as before, so the inbox keeps one of each.
    site.courses[21].users = [AMARA, BEN, CHLOE]
    third = pull(src, second.cursor, LATER)
    assert [key for *_, key in started(third)] == [key for *_, key in started(first)[1:]]


def test_teachers_and_unreadable_users_are_not_counted_as_started(site: Site, url: str) -> None:
    site.non_learners = {AMARA}
    site.user_errors = {BEN: "error_usernotconfirmed"}
    src = source(url, view=False, enrolment=True)
    first = pull(src)
    assert started(first) == []
    assert any("user 102" in e and "usernotconfirmed" in e for e in first.errors)

    # Ben is read the next time, and counted then.
    site.user_errors = {}
    second = pull(src, first.cursor, LATER)
    assert [(user, cmid) for user, cmid, *_ in started(second)] == [
        ("102", QUERY_PLANS),
        ("102", INDEXES),
    ]


def test_an_old_cursor_still_loads(site: Site, url: str) -> None:
    site.states = {(AMARA, QUERY_PLANS): (1, T1)}
    site.view_rule = {INDEXES}
    site.viewed = {(AMARA, INDEXES)}
    old = json.dumps({"101:2101": [1, T1]}, separators=(",", ":"))
    batch = pull(source(url, enrolment=True), old)
    assert completed(batch) == []  # the completion was seen before
    assert batch.errors == ()
    assert [(user, cmid, key.rsplit(":", 1)[1]) for user, cmid, _, key in started(batch)] == [
        ("101", INDEXES, "viewed"),
        ("101", INDEXES, "enrolled"),
        ("102", QUERY_PLANS, "enrolled"),
        ("102", INDEXES, "enrolled"),
    ]


def test_with_the_signals_off_the_cursor_is_as_before(site: Site, url: str) -> None:
    site.states = {(AMARA, QUERY_PLANS): (1, T1)}
    site.view_rule = {INDEXES}
    site.viewed = {(BEN, INDEXES)}
    batch = pull(source(url, view=False))
    assert started(batch) == []
    assert batch.cursor == json.dumps({"101:2101": [1, T1]}, separators=(",", ":"))


def reminders(store: Store, module: str) -> list[int]:
    found = store.notices.list(person="ben.carter", limit=1000)
    return sorted(
        int(n.variables["reminder_number"])
        for n in found
        if n.kind == "stalled_reminder" and n.variables["module"] == module
    )


def test_a_started_module_is_reminded_until_moodle_reports_it_complete(
    site: Site, url: str, store: Store
) -> None:
    # Ben, enrolled in "SQL indexing", viewed "Reading a query plan" and did not finish it.
    site.view_rule = {QUERY_PLANS}
    site.viewed = {(BEN, QUERY_PLANS)}
    src = source(url, enrolment=True)
    synced = sync_source(src, store, SYNC_AT)
    assert synced.ok and synced.new == 5  # Ben: viewed + 2 enrolled; Amara: 2 enrolled
    assert sync_source(src, store, LATER).new == 0
    drain(pipeline(store))

    manifest = manifest_with(
        budget={"per_person_per_day": 5, "per_person_per_week": 20},
        reminders={"after_days": 3, "every_days": 4, "max": 3},
    )
    planner = Scheduler(store, manifest, Words())
    plans, indexes = "sql-query-plans", "sql-composite-indexes"
    planner.clock = lambda: SYNC_AT + timedelta(days=2)
    planner.tick()
    assert reminders(store, plans) == []
    planner.clock = lambda: SYNC_AT + timedelta(days=3, hours=1)
    planner.tick()
    assert reminders(store, plans) == [1]

    # Ben completes it on day 5; the next sync stores the completion.
    done = int((SYNC_AT + timedelta(days=5)).timestamp())
    site.states = {(BEN, QUERY_PLANS): (1, done)}
    assert sync_source(src, store, SYNC_AT + timedelta(days=5, hours=1)).new == 1
    drain(pipeline(store))
    planner.clock = lambda: SYNC_AT + timedelta(days=7, hours=1)  # the 2nd reminder's window
    planner.tick()
    assert reminders(store, plans) == [1]
    assert reminders(store, indexes) == [1, 2]  # the module he never opened still is


@pytest.mark.parametrize("enrolment", [True, False])
def test_the_manifest_switches_the_enrolment_signal_and_the_view_signal_is_on(
    enrolment: bool,
) -> None:
    from plugin.runtime import LazyMoodleSource
    from tests.test_pipeline_support import MANIFEST

    assert MANIFEST.moodle is not None
    moodle = MANIFEST.moodle.model_copy(update={"started_on_enrolment": enrolment})
    sources = tuple(moodle if s.type == "moodle" else s for s in MANIFEST.sources)
    manifest = MANIFEST.model_copy(update={"sources": sources})
    built = LazyMoodleSource(manifest, MoodleClient("https://moodle.example", "t" * 32)).source()
    assert built.started_on_view is True
    assert built.started_on_enrolment is enrolment
