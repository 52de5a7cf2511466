"""Several workers on one store: budgets are spent once, every key decided once."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import timedelta
from itertools import pairwise

from plugin.domain import Completion, TicketTransition
from plugin.store import Store
from plugin.store.ledger import COUNTED_STATES
from tests.test_pipeline_support import (
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

PEOPLE = ["ben.carter", "chloe.nguyen", "diego.ramirez", "farah.haddad", "george.lin"]
ONE_A_SPRINT = manifest_with(per_sprint=1)


def story() -> list[Completion | TicketTransition]:
    """Everyone learns SQL indexing; person i finishes PAY-(i+1) i hours after the first."""
    events: list[Completion | TicketTransition] = []
    for i, person in enumerate(PEOPLE):
        events.append(completion(person))
        events += worked(ticket(f"PAY-{i + 1}", person), T0 + timedelta(days=1, hours=i))
    return events


def test_an_earlier_ticket_arriving_late_takes_the_budget(store: Store) -> None:
    p = pipeline(store, ONE_A_SPRINT)
    events = story()
    late_first = events[:3]  # ben's completion and PAY-1, the earliest done
    put(store, events[3:6])  # chloe's: done an hour after ben's
    drain(p)
    chloe = award_of(store, "chloe.nguyen", "PAY-2")
    assert chloe.state == "pending_approval"

    put(store, late_first)
    stats = drain(p)
    assert (stats.awarded, stats.revoked) == (1, 1)
    assert award_of(store, "ben.carter", "PAY-1").state == "pending_approval"
    assert award_of(store, "chloe.nguyen", "PAY-2").state == "revoked"
    assert store.awards.events(chloe.id)[-1].note == "budget"
    assert f"{chloe.id}:revoked:jira:comment" in effect_keys(store)
    assert [d.outcome for d in store.decisions.for_ticket("PAY-2")] == ["awarded", "budget"]


def live_at_most(store: Store, limit: int) -> int:
    """Replay the award history in commit order; the most awards counted at once."""
    counted, most, states = 0, 0, {}
    events = [e for a in store.awards.list() for e in store.awards.events(a.id)]
    for e in sorted(events, key=lambda e: e.id):
        was = states.get(e.award_id)
        counted += (e.to_state in COUNTED_STATES) - (was in COUNTED_STATES)
        states[e.award_id] = e.to_state
        most = max(most, counted)
    assert most <= limit, f"{most} awards counted at once against a budget of {limit}"
    return most


def test_two_workers_draining_at_once_spend_the_budget_once(store_url: str) -> None:
    stores = [Store.open(store_url) for _ in range(3)]
    feeder, *workers = stores
    try:
        pipelines = [pipeline(s, ONE_A_SPRINT, worker=f"w{i}") for i, s in enumerate(workers)]
        events = story() * 2  # every event delivered twice
        random.Random(7).shuffle(events)
        fed = threading.Event()
        errors: list[BaseException] = []
        processed = [0, 0]

        def feed() -> None:
            for start in range(0, len(events), 3):
                put(feeder, events[start : start + 3])
                time.sleep(0.002)
            fed.set()

        def work(index: int) -> None:
            try:
                while True:
                    done_feeding = fed.is_set()
                    stats = pipelines[index].run_once(limit=2)
                    processed[index] += stats.processed
                    if stats.claimed == 0:
                        if done_feeding:
                            return
                        time.sleep(0.001)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=feed)]
        threads += [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        assert sum(processed) == len(events) // 2, processed

        store = feeder
        counted = [a for a in store.awards.list() if a.state in COUNTED_STATES]
        assert [(a.person_id, a.ticket_key) for a in counted] == [("ben.carter", "PAY-1")]
        live_at_most(store, 1)
        assert store.inbox.count_by_status()["processed"] == len(events) // 2
        # One award per key, and no outcome logged twice in a row for a key.
        keys = Counter((a.person_id, a.skill_id, a.ticket_key) for a in store.awards.list())
        assert max(keys.values()) == 1
        for i in range(len(PEOPLE)):
            outcomes = [d.outcome for d in store.decisions.for_ticket(f"PAY-{i + 1}")]
            assert all(a != b for a, b in pairwise(outcomes)), outcomes
            assert outcomes[-1] == ("awarded" if i == 0 else "budget")
    finally:
        for s in stores:
            s.close()


def test_a_revoked_award_done_again_comes_back_and_holds_the_budget(store: Store) -> None:
    p = pipeline(store, ONE_A_SPRINT)
    ben = ticket("PAY-1", "ben.carter")
    put(store, [completion("ben.carter"), *worked(ben, T0 + timedelta(days=1))])
    drain(p)
    put(store, [reopen(ben, T0 + timedelta(days=1, hours=1))])
    drain(p)  # Ben's award is revoked: the place is free
    chloe = ticket("PAY-2", "chloe.nguyen")
    put(store, [completion("chloe.nguyen"), *worked(chloe, T0 + timedelta(days=2))])
    drain(p)  # Chloe takes it
    put(store, [move(ben, "indeterminate", "done", T0 + timedelta(days=3))])
    drain(p)
    counted = [a for a in store.awards.list() if a.state in COUNTED_STATES]
    # Ben's ticket was done first (t2 is its first entry into done): the place is his again.
    assert [(a.person_id, a.ticket_key) for a in counted] == [("ben.carter", "PAY-1")]
    by_person = {a.person_id: a.state for a in store.awards.list()}
    assert by_person["chloe.nguyen"] == "revoked"
    keys = {item.idempotency_key for item in store.outbox.list(limit=500)}
    ben_award = counted[0].id
    assert f"{ben_award}:awarded:jira:comment" in keys
    assert f"{ben_award}:revoked:jira:comment" in keys
    assert f"{ben_award}:awarded#1:jira:comment" in keys
