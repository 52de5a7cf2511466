"""The pipeline end to end through the inbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from plugin.domain import CompletionState, PersonRef
from plugin.store import Store
from tests.test_pipeline_support import (
    FLAGS,
    JIRA,
    SQL,
    T0,
    award_of,
    completion,
    drain,
    effect_keys,
    move,
    outbox,
    pipeline,
    put,
    reopen,
    ticket,
    worked,
)

DONE_AT = T0 + timedelta(days=1)


def test_award_that_needs_approval(store: Store) -> None:
    pay = ticket("PAY-101", "ben.carter")
    put(store, [completion("ben.carter"), *worked(pay, DONE_AT)])
    stats = pipeline(store).run_once()
    assert (stats.claimed, stats.processed, stats.awarded, stats.failed) == (3, 3, 1, 0)

    [award] = store.awards.list()
    assert (award.person_id, award.skill_id, award.ticket_key) == (
        "ben.carter",
        "sql-indexing",
        "PAY-101",
    )
    assert (award.reward_id, award.points, award.state, award.sprint_id) == (
        "paid-learning-hour",
        20,
        "pending_approval",
        "2026-11-a",
    )
    assert award.ticket_done_at == DONE_AT
    assert award.completion_key == completion("ben.carter").natural_key
    evidence = award.evidence or {}
    module = {"key": SQL, "id": "sql-query-plans", "title": "Reading a query plan"}
    assert evidence["module"] == module
    assert evidence["ticket_url"] == f"{JIRA}/browse/PAY-101"
    assert evidence["ticket"]["summary"] == "Work on PAY-101"
    assert evidence["reward_name"] == "One paid learning hour"

    [decision] = store.decisions.for_ticket("PAY-101")
    assert (decision.outcome, decision.person_id, decision.skill_id) == (
        "awarded",
        "ben.carter",
        "sql-indexing",
    )
    assert decision.detail is not None and decision.detail["completion"]["module"] == SQL
    assert decision.inbox_id is not None

    assert effect_keys(store) == [
        f"{award.id}:awarded:jira:comment",
        f"{award.id}:awarded:jira:label",
        f"{award.id}:awarded:lrs:applied",
    ]  # no "earned" statement before a manager approves
    assert store.inbox.count_by_status()["processed"] == 3
    ben = store.identities.get("moodle", "102")
    assert ben is not None and ben.person_id == "ben.carter"


def test_award_without_approval_is_granted_at_once(store: Store) -> None:
    pay = ticket("PAY-202", "chloe.nguyen", FLAGS)
    put(store, [completion("chloe.nguyen", FLAGS), *worked(pay, DONE_AT)])
    drain(pipeline(store))
    award = award_of(store, "chloe.nguyen", "PAY-202")
    assert (award.state, award.points, award.reward_id) == ("approved", 50, "points-50")
    assert [(i.target, i.action) for i in outbox(store)] == [
        ("jira", "comment"),
        ("jira", "label"),
        ("lrs", "applied"),
        ("lrs", "earned"),
    ]


def test_no_award_is_still_a_decision(store: Store) -> None:
    """A ticket done without the module: a decision with its reason, no award."""
    put(store, worked(ticket("PAY-103", "diego.ramirez"), DONE_AT))
    drain(pipeline(store))
    assert store.awards.list() == []
    assert [d.outcome for d in store.decisions.for_ticket("PAY-103")] == ["no_completion"]
    assert outbox(store) == []


@pytest.mark.parametrize("seed", [1, 2, 3], ids=["order-1", "order-2", "order-3"])
def test_duplicates_in_any_order_award_once(store: Store, seed: int) -> None:
    events = [
        completion("ben.carter"),
        completion("ben.carter", at=T0 + timedelta(hours=1)),  # the module again
        *worked(ticket("PAY-101", "ben.carter"), DONE_AT),
        completion("chloe.nguyen", FLAGS),
        *worked(ticket("PAY-202", "chloe.nguyen", FLAGS), DONE_AT + timedelta(hours=3)),
    ]
    twice = events * 2
    random.Random(seed).shuffle(twice)
    p = pipeline(store)
    for event in twice:  # one at a time, each decided before the next arrives
        put(store, [event])
        p.run_once()
    assert sorted((a.person_id, a.ticket_key) for a in store.awards.list()) == [
        ("ben.carter", "PAY-101"),
        ("chloe.nguyen", "PAY-202"),
    ]
    for key in ("PAY-101", "PAY-202"):
        assert [d.outcome for d in store.decisions.for_ticket(key)][-1] == "awarded"
    keys = effect_keys(store)
    assert len(keys) == len(set(keys)) == 7  # 3 + 4, each once


def test_reopen_revokes_and_done_again_brings_it_back(store: Store) -> None:
    pay = ticket("PAY-101", "ben.carter")
    put(store, [completion("ben.carter"), *worked(pay, DONE_AT)])
    p = pipeline(store)
    drain(p)
    award = award_of(store, "ben.carter", "PAY-101")

    put(store, [reopen(pay, DONE_AT + timedelta(hours=5))])
    assert drain(p).revoked == 1
    revoked = award_of(store, "ben.carter", "PAY-101")
    assert revoked.state == "revoked"
    last = store.awards.events(award.id)[-1]
    assert (last.from_state, last.to_state, last.actor, last.note) == (
        "pending_approval",
        "revoked",
        "engine",
        "reopened",
    )
    assert f"{award.id}:revoked:jira:comment" in effect_keys(store)
    assert [d.outcome for d in store.decisions.for_ticket("PAY-101")] == ["awarded", "reopened"]

    # Done again and still qualifying: the same award comes back, with new effects.
    put(store, [move(pay, "indeterminate", "done", DONE_AT + timedelta(hours=8))])
    assert drain(p).awarded == 0
    back = award_of(store, "ben.carter", "PAY-101")
    assert (back.id, back.state) == (award.id, "pending_approval")
    assert f"{award.id}:awarded#1:jira:comment" in effect_keys(store)
    assert [d.outcome for d in store.decisions.for_ticket("PAY-101")] == [
        "awarded",
        "reopened",
        "awarded",
    ]


def test_fulfilled_then_reopened_is_flagged_for_a_manager(store: Store) -> None:
    pay = ticket("PAY-202", "chloe.nguyen", FLAGS)
    put(store, [completion("chloe.nguyen", FLAGS), *worked(pay, DONE_AT)])
    p = pipeline(store)
    drain(p)
    award = award_of(store, "chloe.nguyen", "PAY-202")
    p.fulfil(award.id, "amara.okafor", "50 points booked")

    put(store, [reopen(pay, DONE_AT + timedelta(days=1))])
    assert drain(p).flagged == 1
    assert award_of(store, "chloe.nguyen", "PAY-202").state == "revocation_flagged"
    assert store.awards.events(award.id)[-1].note == "reopened"
    assert f"{award.id}:revocation_flagged:jira:comment" in effect_keys(store)
    assert f"{award.id}:revoked:lrs:voided" not in effect_keys(store)

    # Done again and still qualifying: the flag has no reason left.
    put(store, [move(pay, "indeterminate", "done", DONE_AT + timedelta(days=2))])
    assert drain(p).restored == 1
    assert award_of(store, "chloe.nguyen", "PAY-202").state == "fulfilled"


def test_completion_withdrawn_revokes(store: Store) -> None:
    pay = ticket("PAY-202", "chloe.nguyen", FLAGS)
    put(store, [completion("chloe.nguyen", FLAGS), *worked(pay, DONE_AT)])
    p = pipeline(store)
    drain(p)
    withdrawn = completion(
        "chloe.nguyen", FLAGS, T0 + timedelta(days=3), CompletionState.INCOMPLETE
    )
    put(store, [withdrawn])
    assert drain(p).revoked == 1
    award = award_of(store, "chloe.nguyen", "PAY-202")
    assert award.state == "revoked"
    assert store.awards.events(award.id)[-1].note == "completion_withdrawn"
    assert f"{award.id}:revoked:lrs:voided" in effect_keys(store)  # it had been granted


def test_restart_rebuilds_from_the_inbox_and_goes_on(store: Store) -> None:
    # Stored before any worker ran: the first pipeline finds them in its engine already.
    put(store, [completion("ben.carter"), *worked(ticket("PAY-101", "ben.carter"), DONE_AT)])
    first = pipeline(store)
    assert drain(first).awarded == 1

    # Stored while no worker runs, then a new worker on the same store.
    put(store, [completion("chloe.nguyen", FLAGS)])
    put(store, worked(ticket("PAY-202", "chloe.nguyen", FLAGS), DONE_AT))
    second = pipeline(store, worker="w2")
    stats = drain(second)
    assert (stats.awarded, stats.processed) == (1, 3)
    assert sorted(a.ticket_key for a in store.awards.list()) == ["PAY-101", "PAY-202"]

    # And it decides new events as they come; the old award is not made twice.
    put(store, [reopen(ticket("PAY-101", "ben.carter"), DONE_AT + timedelta(hours=6))])
    assert drain(second).revoked == 1
    assert pipeline(store, worker="w3").run_once().awarded == 0
    assert len(store.awards.list()) == 2
    assert [d.outcome for d in store.decisions.for_ticket("PAY-202")] == ["awarded"]


def test_worker_catches_up_on_what_another_worker_decided(store: Store) -> None:
    a, b = pipeline(store, worker="a"), pipeline(store, worker="b")
    put(store, [completion("ben.carter")])
    assert drain(a).processed == 1
    put(store, worked(ticket("PAY-101", "ben.carter"), DONE_AT))
    stats = drain(b)  # b never claimed the completion: it reads it from the inbox
    assert stats.awarded == 1 and stats.caught_up >= 1
    put(store, [reopen(ticket("PAY-101", "ben.carter"), DONE_AT + timedelta(hours=1))])
    assert drain(a).revoked == 1  # a read the ticket b decided, so it can revoke
    assert len(store.decisions.for_ticket("PAY-101")) == 2


@pytest.mark.parametrize("explicit", [False, True], ids=["noticed", "relearn"])
def test_unmatched_identity_is_decided_once_mapped(store: Store, explicit: bool) -> None:
    stranger = PersonRef(system="jira", id="acc-unknown", display_name="D. R.")
    put(store, [completion("diego.ramirez"), *worked(ticket("PAY-301", stranger), DONE_AT)])
    p = pipeline(store)
    drain(p)
    assert store.awards.list() == []
    [unmatched] = store.identities.unmatched()
    assert (unmatched.system, unmatched.external_id, unmatched.display_name) == (
        "jira",
        "acc-unknown",
        "D. R.",
    )
    assert [d.outcome for d in store.decisions.for_ticket("PAY-301")] == ["unmatched_identity"]

    store.identities.map("jira", "acc-unknown", "diego.ramirez")  # as `identities map` does
    stats = p.relearn() if explicit else p.run_once()
    assert stats.awarded == 1
    assert award_of(store, "diego.ramirez", "PAY-301").state == "pending_approval"


def test_unreadable_items_fail_and_deliveries_are_just_processed(store: Store) -> None:
    store.inbox.add("jira", "ticket", "broken", payload={"kind": "ticket", "ticket": 7})
    store.inbox.add("jira", "delivery", "hook-1", payload={"webhookEvent": "jira:issue_updated"})
    stats = pipeline(store).run_once()
    assert (stats.failed, stats.deliveries, stats.processed) == (1, 1, 0)
    [failed] = store.inbox.list(status="failed")
    assert failed.natural_key == "broken"
    assert failed.error is not None and failed.error.startswith("unreadable ticket payload: ")
    [done] = store.inbox.list(status="processed")
    assert done.natural_key == "hook-1"


def test_a_manager_takes_back_a_flagged_reward(store: Store) -> None:
    pay = ticket("PAY-202", "chloe.nguyen", FLAGS)
    put(store, [completion("chloe.nguyen", FLAGS), *worked(pay, DONE_AT)])
    p = pipeline(store)
    drain(p)
    award = award_of(store, "chloe.nguyen", "PAY-202")
    p.fulfil(award.id, "amara.okafor")
    put(store, [reopen(pay, DONE_AT + timedelta(days=1))])
    drain(p)
    result = p.revoke(award.id, "amara.okafor", "the fix was reverted")
    assert (result.previous, result.award.state) == ("revocation_flagged", "revoked")
    assert f"{award.id}:revoked:lrs:voided" in effect_keys(store)


def test_a_failed_write_is_decided_again(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    p = pipeline(store)
    drain(p)
    put(store, [completion("ben.carter"), *worked(ticket("PAY-101", "ben.carter"), DONE_AT)])

    def down(*args: object, **kwargs: object) -> bool:
        raise ConnectionError("the database went away")

    with monkeypatch.context() as patched:
        patched.setattr(store.outbox, "enqueue_many", down)
        with pytest.raises(ConnectionError):
            p.run_once()
    assert store.awards.list() == [] and store.decisions.for_ticket("PAY-101") == []

    later = datetime.now(UTC) + timedelta(minutes=10)
    monkeypatch.setattr(store.inbox, "clock", lambda: later)  # the claim's lease runs out
    stats = drain(p)
    assert (stats.awarded, stats.processed) == (1, 3)
    [decision] = store.decisions.for_ticket("PAY-101")
    assert decision.outcome == "awarded" and decision.inbox_id is not None
    assert len(effect_keys(store)) == 3
