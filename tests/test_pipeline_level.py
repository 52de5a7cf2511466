"""The ledger follows the engine's current verdict, never the steps a late reader replays.

Regression tests for #16: a worker that catches up late must not apply the intermediate
verdicts of events another worker already decided, and an award that changes several times
inside one transaction still gets the effects of the cycle it ends in.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from plugin.domain import Ticket, TicketTransition
from plugin.pipeline import Pipeline
from plugin.pipeline.horizon import GAP_SECONDS
from plugin.store import Store
from tests.test_pipeline_support import (
    DONE,
    JIRA,
    NOW,
    T0,
    award_of,
    completion,
    drain,
    effect_keys,
    manifest_with,
    move,
    pipeline,
    put,
    reopen,
    ticket,
    worked,
)

DAY = T0 + timedelta(days=1)


def done_as(t: Ticket, resolution: str, at_hours: float) -> TicketTransition:
    """The ticket enters done at DAY + hours with this resolution."""
    return move(
        t.model_copy(update={"resolution": resolution}), *DONE, DAY + timedelta(hours=at_hours)
    )


def wont_do_then_done(key: str, person: str) -> list[TicketTransition]:
    """Done as Won't Do, reopened, then Done for real: the award stands in the end."""
    t = ticket(key, person)
    return [
        move(t, "new", "indeterminate", DAY - timedelta(hours=2)),
        done_as(t, "Won't Do", 0),
        reopen(t, DAY + timedelta(hours=1)),
        done_as(t, "Done", 2),
    ]


def test_a_late_reader_does_not_replay_old_verdicts(store: Store) -> None:
    late = pipeline(store, worker="late")  # started before anything arrived
    quick = pipeline(store, worker="quick")
    put(store, [completion("ben.carter"), *wont_do_then_done("PAY-1", "ben.carter")])
    drain(quick)
    assert award_of(store, "ben.carter", "PAY-1").state == "pending_approval"

    put(store, [completion("chloe.nguyen")])  # something for the late worker to claim
    drain(late)
    award = award_of(store, "ben.carter", "PAY-1")
    assert award.state == "pending_approval", [
        (e.to_state, e.note) for e in store.awards.events(award.id)
    ]
    assert [e.to_state for e in store.awards.events(award.id)] == ["pending_approval"]


def test_an_automatic_revocation_is_undone_when_the_award_qualifies_again(store: Store) -> None:
    """Budget one a sprint: Ben's earlier ticket takes Chloe's place; while Ben's is
    reopened the place is Chloe's again, and Ben's done again takes it back."""
    p = pipeline(store, manifest_with(per_sprint=1))
    chloe = ticket("PAY-2", "chloe.nguyen")
    put(store, [completion("chloe.nguyen"), *worked(chloe, DAY + timedelta(hours=5))])
    drain(p)
    ben = ticket("PAY-1", "ben.carter")
    put(store, [completion("ben.carter"), *worked(ben, DAY)])
    drain(p)
    assert award_of(store, "chloe.nguyen", "PAY-2").state == "revoked"
    put(store, [reopen(ben, DAY + timedelta(hours=6))])
    drain(p)
    assert award_of(store, "ben.carter", "PAY-1").state == "revoked"
    assert award_of(store, "chloe.nguyen", "PAY-2").state == "pending_approval"
    put(store, [move(ben, *DONE, DAY + timedelta(hours=7))])
    drain(p)
    assert award_of(store, "ben.carter", "PAY-1").state == "pending_approval"
    chloes = award_of(store, "chloe.nguyen", "PAY-2")
    assert chloes.state == "revoked"
    assert store.awards.events(chloes.id)[-1].note == "budget"


def test_a_manager_rejection_is_final(store: Store) -> None:
    p = pipeline(store)
    t = ticket("PAY-1", "ben.carter")
    put(store, [completion("ben.carter"), *wont_do_then_done("PAY-1", "ben.carter")[:1]])
    put(store, [done_as(t, "Done", 0)])
    drain(p)
    award = award_of(store, "ben.carter", "PAY-1")
    p.reject(award.id, by="amara.okafor", note="not this one")
    put(store, [reopen(t, DAY + timedelta(hours=1)), done_as(t, "Done", 2)])
    drain(p)
    assert award_of(store, "ben.carter", "PAY-1").state == "rejected"


def test_an_award_revoked_and_back_in_one_run_keeps_its_effects(store: Store) -> None:
    p = pipeline(store)
    t = ticket("PAY-1", "ben.carter")
    put(store, [completion("ben.carter"), *wont_do_then_done("PAY-1", "ben.carter")[:1]])
    put(store, [done_as(t, "Done", 0)])
    drain(p)
    award = award_of(store, "ben.carter", "PAY-1")
    put(store, [reopen(t, DAY + timedelta(hours=1))])
    drain(p)
    assert award_of(store, "ben.carter", "PAY-1").state == "revoked"
    # Done, reopened and done again, all read in one run: the award ends live, cycle 1.
    put(
        store,
        [
            done_as(t, "Done", 2),
            reopen(t, DAY + timedelta(hours=3)),
            done_as(t, "Done", 4),
        ],
    )
    drain(p)
    assert award_of(store, "ben.carter", "PAY-1").state == "pending_approval"
    keys = effect_keys(store)
    assert f"{award.id}:awarded#1:jira:comment" in keys, keys
    assert f"{award.id}:awarded#1:jira:label" in keys, keys
    assert f"{award.id}:awarded#1:lrs:applied" in keys, keys
    assert not any(k.startswith(f"{award.id}:revoked#1") for k in keys), keys


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.postgres
def test_a_worker_reads_what_others_decided_before_it_writes(postgres_store_url: str) -> None:
    """B gives up looking for an inbox id whose transaction commits late; A decides that
    event (a reopen that hands the budget to Chloe). B must read it before it writes, or
    its engine, still giving Ben the place, would revoke Chloe's award."""
    one = manifest_with(per_sprint=1)
    with Store.open(postgres_store_url) as store:
        for table in ("award_events", "awards", "decisions", "outbox", "identities", "decider"):
            with store.transaction() as conn:
                conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names
        with store.transaction() as conn:
            conn.execute(text("DELETE FROM inbox"))
        ben, chloe = ticket("PAY-1", "ben.carter"), ticket("PAY-2", "chloe.nguyen")
        put(store, [completion("ben.carter"), completion("chloe.nguyen"), *worked(ben, DAY)])
        put(store, worked(chloe, DAY + timedelta(hours=5)))
        a = pipeline(store, one, worker="a")
        drain(a)
        clock = Clock()
        b = Pipeline(store, one, worker_id="b", jira_base_url=JIRA, clock=clock)

        late = reopen(ben, DAY + timedelta(hours=6))
        with store.transaction() as slow:  # commits after B gave up on its id
            store.inbox.add(
                late.source, late.kind, late.natural_key, late.model_dump(mode="json"), conn=slow
            )
            put(store, [completion("diego.ramirez")])
            assert b.run_once().processed == 1
            clock.now += timedelta(seconds=GAP_SECONDS + 1)
            put(store, [completion("farah.haddad")])
            assert b.run_once().processed == 1
        assert a.run_once().processed == 1  # the reopen: Ben's place goes to Chloe
        assert award_of(store, "chloe.nguyen", "PAY-2").state == "pending_approval"

        put(store, [move(chloe, "new", "indeterminate", DAY + timedelta(hours=1))])
        stats = b.run_once()
        assert stats.processed == 1
        assert award_of(store, "ben.carter", "PAY-1").state == "revoked"
        assert award_of(store, "chloe.nguyen", "PAY-2").state == "pending_approval"


def test_a_worker_that_sleeps_between_claim_and_decide_writes_no_old_verdict(
    store: Store,
) -> None:
    """B claims an event and stalls; meanwhile A decides a Won't Do / reopen / Done story.
    When B wakes it decides with every event stored, and the award stands untouched."""
    a, b = pipeline(store, worker="a"), pipeline(store, worker="b")
    put(store, [completion("chloe.nguyen")])
    claimed, resume = threading.Event(), threading.Event()
    # B stalls after its claim has committed and before it decides (stalling inside the
    # claim's transaction would hold SQLite's lock, which no worker does there).
    look = b._mapping_changed

    def stall_after_claim(*args: Any, **kwargs: Any) -> bool:
        claimed.set()
        assert resume.wait(30)
        return look(*args, **kwargs)

    errors: list[BaseException] = []
    claims: list[int] = []

    def run_b() -> None:
        try:
            b._mapping_changed = stall_after_claim  # type: ignore[method-assign]
            claims.append(b.run_once().claimed)
        except BaseException as exc:
            errors.append(exc)

    sleeper = threading.Thread(target=run_b)
    sleeper.start()
    assert claimed.wait(30)
    put(store, [completion("ben.carter"), *wont_do_then_done("PAY-1", "ben.carter")])
    drain(a)
    resume.set()
    sleeper.join(30)
    assert errors == []
    assert claims == [1]  # B held chloe's completion while it slept
    award = award_of(store, "ben.carter", "PAY-1")
    assert [e.to_state for e in store.awards.events(award.id)] == ["pending_approval"]
