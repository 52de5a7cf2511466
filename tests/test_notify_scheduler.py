"""The planner on a real store: award events become notices to the right people, queued
once in the outbox on a channel that reaches them, within the budget; check-ins are asked,
reminded when overdue and recorded."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from ruamel.yaml import YAML

from plugin.manifest import Manifest
from plugin.notify.scheduler import Scheduler
from plugin.notify.words import Words
from plugin.settings import EXAMPLE_MANIFEST
from plugin.store import Store
from plugin.store.notices import UnknownCheckIn
from tests.test_pipeline_support import NOW, northwind

LATER = NOW + timedelta(hours=1)


EMAIL = {
    "type": "email",
    "smtp": {"host": "127.0.0.1", "port": 2525, "security": "none", "from": "relay@nw.example"},
}


def manifest_with(**notifications: object) -> Manifest:
    """The example's channels, and e-mail last, for the managers no other channel reaches."""
    data = YAML(typ="safe").load(EXAMPLE_MANIFEST.read_text())
    channels = [*data["notifications"]["channels"], EMAIL]
    data["notifications"] = {**data["notifications"], "channels": channels, **notifications}
    return Manifest.model_validate(data)


def scheduler(store: Store, manifest: Manifest, at: datetime = LATER) -> Scheduler:
    return Scheduler(store, manifest, Words(), clock=lambda: at)


def queued(store: Store) -> list[tuple[str, str, str]]:
    return sorted(
        (i.idempotency_key, i.target, i.action)
        for i in store.outbox.list(limit=1000)
        if i.idempotency_key.startswith("notify:")
    )


def test_award_events_reach_learners_and_managers_once(store: Store) -> None:
    northwind(store)
    manifest = manifest_with(budget={"per_person_per_day": 5, "per_person_per_week": 10})
    first = scheduler(store, manifest).tick()
    again = scheduler(store, manifest).tick()
    assert again.planned == 0 and again.sent == 0  # the same history plans nothing twice
    notices = store.notices.list()
    kinds = Counter((n.person_id, n.kind) for n in notices)
    # Ben and Farah wait for approval: each is told, and each manager is asked to approve.
    assert kinds[("ben.carter", "awarded")] == 1
    assert kinds[("farah.haddad", "awarded")] == 1
    assert kinds[("amara.okafor", "approval_needed")] == 1
    assert kinds[("elena.petrova", "approval_needed")] == 1
    # Chloe's 50 points needed no approval: her manager is asked for a check-in.
    assert kinds[("chloe.nguyen", "awarded")] == 1
    assert kinds[("amara.okafor", "checkin_prompt")] == 1
    assert first.sent == sum(1 for n in notices if n.status == "sent")
    sent = [n for n in notices if n.status == "sent"]
    assert {(n.person_id, n.channel) for n in sent if n.kind == "awarded"} == {
        ("ben.carter", "jira_comment"),  # on his ticket, mentioning him
        ("farah.haddad", "moodle_message"),  # no Jira account id: Moodle reaches her
        ("chloe.nguyen", "moodle_message"),
    }
    assert {n.channel for n in sent if n.person_id == "amara.okafor"} == {"email"}
    # "Apply it now" needs a Jira search; without a Jira source it is dropped, saying why.
    suggestions = [n for n in notices if n.kind == "apply_suggestion"]
    assert {(n.status, n.reason) for n in suggestions} == {
        ("dropped", "no Jira search to find open tickets with")
    }
    keys = queued(store)
    assert len(keys) == len(sent) and len(set(keys)) == len(keys)
    ben = next(
        i
        for i in store.outbox.list(limit=1000)
        if i.idempotency_key.startswith("notify:award:") and i.payload["person"] == "ben.carter"
    )
    assert ben.payload["ticket"] == "PAY-101" and ben.payload["subject"]
    assert "PAY-101" in ben.payload["text"]


def test_the_budget_digests_what_does_not_fit(store: Store) -> None:
    northwind(store)
    manifest = manifest_with(
        budget={"per_person_per_day": 1, "per_person_per_week": 1},
        channels=[EMAIL],
        checkins={"max_reminders": 0},
    )
    scheduler(store, manifest).tick()
    amara = [n for n in store.notices.list(person="amara.okafor") if n.kind != "digest"]
    assert sorted(n.status for n in amara) == ["digested", "sent"]
    sent = next(n for n in amara if n.status == "sent")
    assert sent.kind == "approval_needed"  # approvals before check-ins
    folded = next(n for n in amara if n.status == "digested")
    assert folded.reason == "over the budget: 1 of 1 in the last 24 hours"
    # The digest waits for room: a week later it is sent, carrying the check-in prompt.
    scheduler(store, manifest, LATER + timedelta(hours=2)).tick()
    [digest] = [n for n in store.notices.list(person="amara.okafor") if n.kind == "digest"]
    assert digest.status == "pending"
    # Due at the next digest time in her zone (daily at 09:00 London), not before.
    assert digest.due_at == datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    scheduler(store, manifest, LATER + timedelta(days=7, hours=1)).tick()
    [digest] = [n for n in store.notices.list(person="amara.okafor") if n.kind == "digest"]
    assert digest.status == "sent" and digest.channel == "email"
    assert [i["subject"] for i in digest.variables["items"]] != []


def test_quiet_hours_hold_messages_in_the_persons_zone(store: Store) -> None:
    northwind(store)
    manifest = manifest_with(
        budget={
            "per_person_per_day": 5,
            "per_person_per_week": 10,
            "quiet_hours": {"start": "19:00", "end": "08:00"},
        }
    )
    late = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)  # 22:00 in London
    stats = scheduler(store, manifest, late).tick()
    assert stats.sent == 0 and stats.held > 0
    [held] = [n for n in store.notices.list(person="ben.carter") if n.kind == "awarded"]
    assert held.status == "pending" and held.reason == "quiet hours until 08:00 Europe/London"
    morning = datetime(2026, 11, 21, 8, 5, tzinfo=UTC)
    after = scheduler(store, manifest, morning).tick()
    assert after.held == 0 and after.sent + after.dropped == stats.held  # none waits longer


def test_opt_outs_and_unreachable_people_are_dropped_with_the_reason(store: Store) -> None:
    northwind(store)
    manifest = manifest_with(
        budget={"per_person_per_day": 5, "per_person_per_week": 10},
        opt_out={"ben.carter": ["awarded"]},
    )
    scheduler(store, manifest).tick()
    [ben] = [n for n in store.notices.list(person="ben.carter") if n.kind == "awarded"]
    assert (ben.status, ben.reason) == ("dropped", "opted out of awarded")
    [farah] = [n for n in store.notices.list(person="farah.haddad") if n.kind == "awarded"]
    assert farah.status == "sent"
    # Unsubscribing (the link in a message) stops the next one of that kind.
    store.optouts.add("chloe.nguyen", "checkin_overdue")
    store.optouts.add("amara.okafor", "approval_needed")  # a manager cannot opt out of these
    assert store.optouts.all() == {
        "chloe.nguyen": frozenset({"checkin_overdue"}),
        "amara.okafor": frozenset({"approval_needed"}),
    }
    [approval] = [
        n for n in store.notices.list(person="amara.okafor") if n.kind == "approval_needed"
    ]
    assert approval.status == "sent"


def test_checkins_are_reminded_when_overdue_and_recorded_once(store: Store) -> None:
    northwind(store)
    manifest = manifest_with(
        budget={"per_person_per_day": 5, "per_person_per_week": 10},
        checkins={"due_days": 7, "remind_every_days": 3, "max_reminders": 2},
    )
    scheduler(store, manifest).tick()
    [asked] = store.checkins.list()
    assert (asked.manager_id, asked.person_id) == ("amara.okafor", "chloe.nguyen")
    for days in (8, 9, 12, 20):
        scheduler(store, manifest, LATER + timedelta(days=days)).tick()
    reminders = [
        n for n in store.notices.list(person="amara.okafor") if n.kind == "checkin_overdue"
    ]
    assert len(reminders) == 2  # every 3 days after the due date, at most twice
    with pytest.raises(UnknownCheckIn, match=r"ben\.carter is not asked"):
        store.checkins.done(asked.award_id, "ben.carter", None)
    done = store.checkins.done(asked.award_id, "amara.okafor", "Showed the flag clean-up")
    again = store.checkins.done(asked.award_id, "amara.okafor", "twice")
    assert done.note == again.note == "Showed the flag clean-up"
    assert store.checkins.rate() == (1, 1)


def test_a_weekly_digest_waits_for_monday_and_gathers_what_folds_meanwhile(store: Store) -> None:
    northwind(store)
    manifest = manifest_with(
        budget={
            "per_person_per_day": 1,
            "per_person_per_week": 1,
            "digest": "weekly",
            "digest_at": "08:30",
        },
        channels=[EMAIL],
        checkins={"max_reminders": 0},
    )
    scheduler(store, manifest).tick()  # Friday 20 November 2026: the check-in prompt folds
    scheduler(store, manifest, LATER + timedelta(minutes=1)).tick()  # into a digest
    [digest] = [n for n in store.notices.list(person="amara.okafor") if n.kind == "digest"]
    assert digest.due_at == datetime(2026, 11, 23, 8, 30, tzinfo=UTC)  # Monday, London time
    assert len(digest.variables["items"]) == 1
