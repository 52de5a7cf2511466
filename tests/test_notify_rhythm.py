"""Reminders for a module started and left, spaced and warmer, stopping at completion; and
the sprint's invitation, halfway nudge and wrap-up, each once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from plugin.domain import PersonRef, Progress
from plugin.notify.scheduler import Scheduler
from plugin.notify.words import Words
from plugin.store import Store
from tests.test_notify_scheduler import manifest_with
from tests.test_pipeline_support import MOODLE_IDS, completion, put

STARTED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SQL = "moodle:cm:2101"


def progress(person: str, module: str = SQL, at: datetime = STARTED) -> Progress:
    ref = PersonRef(system="moodle", id=str(MOODLE_IDS[person]))
    key = f"viewed:{person}:{module}:{at.isoformat()}"
    return Progress(source="xapi", natural_key=key, person=ref, module=module, verb="viewed", at=at)


def store_events(store: Store, events: list[object]) -> None:
    for e in events:
        store.inbox.add(e.source, e.kind, e.natural_key, payload=e.model_dump(mode="json"))  # type: ignore[attr-defined]


def reminders(store: Store, person: str) -> list[tuple[int, str]]:
    found = [n for n in store.notices.list(person=person) if n.kind == "stalled_reminder"]
    return sorted((int(n.variables["reminder_number"]), n.status) for n in found)


def test_a_started_module_is_reminded_spaced_and_at_most_max_times(store: Store) -> None:
    store_events(store, [progress("ben.carter")])
    manifest = manifest_with(
        budget={"per_person_per_day": 5, "per_person_per_week": 20},
        reminders={"after_days": 3, "every_days": 4, "max": 3},
    )
    planner = Scheduler(store, manifest, Words())
    for day in (1, 3, 4, 7, 8, 11, 12, 30):
        planner.clock = lambda day=day: STARTED + timedelta(days=day, hours=1)
        planner.tick()
        seen = reminders(store, "ben.carter")
        expected = sum(1 for due in (3, 7, 11) if due <= day)
        assert len(seen) == expected, (day, seen)
    assert reminders(store, "ben.carter") == [(1, "sent"), (2, "sent"), (3, "sent")]
    [last] = [i for i in store.outbox.list(limit=100) if i.idempotency_key.endswith(":3:email")]
    assert "last" in last.payload["text"].lower()


def test_completing_the_module_stops_the_reminders(store: Store) -> None:
    store_events(store, [progress("ben.carter")])
    manifest = manifest_with(budget={"per_person_per_day": 5, "per_person_per_week": 20})
    planner = Scheduler(store, manifest, Words())
    planner.clock = lambda: STARTED + timedelta(days=3, hours=1)
    planner.tick()
    put(store, [completion("ben.carter", SQL, STARTED + timedelta(days=5))])
    planner.clock = lambda: STARTED + timedelta(days=30)
    planner.tick()
    assert reminders(store, "ben.carter") == [(1, "sent")]


def test_the_sprint_rhythm_invites_nudges_and_wraps_up_once(store: Store) -> None:
    # Sprint 2026-11-a runs 2 to 15 November for payments-core and risk-platform.
    manifest = manifest_with(budget={"per_person_per_day": 5, "per_person_per_week": 20})
    store_events(store, [progress("ben.carter", SQL, datetime(2026, 11, 3, 10, tzinfo=UTC))])
    planner = Scheduler(store, manifest, Words())
    for at in (
        datetime(2026, 10, 30, 12, tzinfo=UTC),  # before the invitation window
        datetime(2026, 10, 31, 12, tzinfo=UTC),  # 2 days before: invited
        datetime(2026, 11, 1, 12, tzinfo=UTC),
        datetime(2026, 11, 9, 12, tzinfo=UTC),  # halfway: nudged unless started
        datetime(2026, 11, 16, 12, tzinfo=UTC),  # ended: wrap-up
        datetime(2026, 11, 17, 12, tzinfo=UTC),
    ):
        planner.clock = lambda at=at: at
        planner.tick()
    by_kind: dict[str, set[str]] = {}
    for n in store.notices.list(limit=1000):
        if n.kind.startswith("sprint_") and n.key.startswith("sprint:2026-11-a:"):
            by_kind.setdefault(n.kind, set()).add(n.person_id)
    participants = set(manifest.sprint_people(manifest.sprints[0]))
    assert by_kind["sprint_invitation"] == participants
    assert by_kind["sprint_wrapup"] == participants
    # Ben had started a focus module: he is not nudged; the others are.
    assert by_kind["sprint_nudge"] == participants - {"ben.carter"}
    invitation = next(
        n
        for n in store.notices.list(person="chloe.nguyen")
        if n.key == "sprint:2026-11-a:invitation:chloe.nguyen"
    )
    names = [s["name"] for s in invitation.variables["focus_skills"]]
    assert names == ["SQL indexing", "Feature flags", "Incident postmortems"]


def test_a_planner_that_was_away_never_sends_reminders_in_a_burst(store: Store) -> None:
    store_events(store, [progress("ben.carter"), progress("chloe.nguyen", SQL, STARTED)])
    manifest = manifest_with(budget={"per_person_per_day": 5, "per_person_per_week": 20})
    planner = Scheduler(store, manifest, Words())
    planner.clock = lambda: STARTED + timedelta(days=8, hours=1)  # the 2nd reminder's window
    planner.tick()
    assert reminders(store, "ben.carter") == [(2, "sent")]  # not #1 and #2 together
    planner.clock = lambda: STARTED + timedelta(days=90)  # long after the last window
    planner.tick()
    assert reminders(store, "ben.carter") == [(2, "sent")]
