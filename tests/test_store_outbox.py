"""The outbox: idempotent enqueue, due-time claims, leases, retries and the dead letter."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from plugin.store import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=5)


def enqueue(store: Store, key: str, at: datetime = T0) -> bool:
    return store.outbox.enqueue(key, "jira", "comment", {"ticket": "SR-1", "key": key}, at)


def test_enqueue_is_idempotent(store: Store) -> None:
    assert enqueue(store, "comment:SR-1:sql") is True
    assert enqueue(store, "comment:SR-1:sql") is False
    [item] = store.outbox.list()
    assert (item.status, item.attempts, item.target, item.action) == (
        "pending",
        0,
        "jira",
        "comment",
    )
    assert item.payload == {"ticket": "SR-1", "key": "comment:SR-1:sql"}


def test_claim_due_respects_next_attempt_at(store: Store) -> None:
    enqueue(store, "now", T0)
    enqueue(store, "later", LATER)
    assert [i.idempotency_key for i in store.outbox.claim_due(T0, 10, "w1", 600)] == ["now"]
    assert store.outbox.claim_due(T0, 10, "w1") == []
    [item] = store.outbox.claim_due(LATER, 10, "w1")
    assert (item.idempotency_key, item.status, item.claimed_by, item.attempts) == (
        "later",
        "in_flight",
        "w1",
        0,  # a claim is not an attempt: `start` counts one
    )
    assert item.claimed_until == LATER + timedelta(seconds=60)


def test_claim_due_takes_the_oldest_first_up_to_the_limit(store: Store) -> None:
    for n in range(5):
        enqueue(store, f"k{n}", T0 - timedelta(minutes=n))
    keys = [i.idempotency_key for i in store.outbox.claim_due(T0, 3, "w1")]
    assert keys == ["k4", "k3", "k2"]


def test_an_expired_lease_is_claimed_again(store: Store) -> None:
    enqueue(store, "k")
    [first] = store.outbox.claim_due(T0, 1, "crashed", lease_seconds=30)
    assert store.outbox.claim_due(T0 + timedelta(seconds=29), 1, "w2") == []
    [again] = store.outbox.claim_due(T0 + timedelta(seconds=31), 1, "w2")
    assert (again.id, again.claimed_by) == (first.id, "w2")
    # The crashed worker lost its lease: it may not start a send, its late report is ignored.
    assert store.outbox.start([first.id], "crashed", T0 + timedelta(seconds=32), 30) == set()
    assert store.outbox.renew([first.id], "crashed", LATER) == set()
    assert store.outbox.mark_done(first.id, worker="crashed") is False
    assert store.outbox.mark_done(first.id, worker="w2") is True


def test_start_counts_an_attempt_and_renews_the_lease(store: Store) -> None:
    enqueue(store, "a")
    enqueue(store, "b")
    a, b = store.outbox.claim_due(T0, 2, "w1", lease_seconds=30)
    later = T0 + timedelta(seconds=20)
    assert store.outbox.start([a.id], "w1", later, 30) == {a.id}
    started = store.outbox.get(a.id)
    assert started is not None
    assert (started.attempts, started.claimed_until) == (1, later + timedelta(seconds=30))
    # Renewed, a's lease outlives b's, which lapses and goes to another worker.
    assert store.outbox.renew([a.id, b.id], "w1", T0 + timedelta(seconds=60)) == {a.id, b.id}
    assert store.outbox.claim_due(T0 + timedelta(seconds=61), 2, "w2") != []
    assert store.outbox.start([a.id, b.id], "w1", T0 + timedelta(seconds=62), 30) == set()
    untried = store.outbox.get(b.id)
    assert untried is not None and (untried.attempts, untried.claimed_by) == (0, "w2")


def test_retry_then_done(store: Store) -> None:
    enqueue(store, "k")
    [item] = store.outbox.claim_due(T0, 1, "w1")
    store.outbox.start([item.id], "w1", T0, 60)
    assert store.outbox.mark_retry(item.id, "HTTP 503", LATER)
    retried = store.outbox.get(item.id)
    assert retried is not None
    assert (retried.status, retried.last_error, retried.next_attempt_at) == (
        "pending",
        "HTTP 503",
        LATER,
    )
    assert retried.claimed_by is None
    assert store.outbox.claim_due(T0, 1, "w1") == []
    [again] = store.outbox.claim_due(LATER, 1, "w1")
    store.outbox.start([again.id], "w1", LATER, 60)
    store.outbox.mark_done(again.id)
    done = store.outbox.get(item.id)
    assert done is not None and (done.status, done.attempts, done.last_error) == ("done", 2, None)
    assert store.outbox.claim_due(LATER + timedelta(days=1), 1, "w1") == []


def test_dead_letter_and_manual_retry(store: Store) -> None:
    enqueue(store, "k")
    [item] = store.outbox.claim_due(T0, 1, "w1")
    store.outbox.start([item.id], "w1", T0, 60)
    assert store.outbox.mark_dead(item.id, "HTTP 400: field not on screen")
    assert [i.id for i in store.outbox.list(status="dead")] == [item.id]
    assert store.outbox.claim_due(LATER, 1, "w1") == []
    assert store.outbox.backlog().dead == 1
    before = datetime.now(UTC)
    assert store.outbox.retry(item.id) is True
    assert store.outbox.retry(item.id) is False  # no longer dead
    [again] = store.outbox.claim_due(datetime.now(UTC) + timedelta(seconds=1), 1, "w1")
    assert (again.id, again.attempts, again.last_error) == (
        item.id,
        0,
        "HTTP 400: field not on screen",
    )
    assert again.created_at >= before  # a fresh retry budget, from now


def test_backlog(store: Store) -> None:
    assert store.outbox.backlog().pending == 0
    enqueue(store, "a", LATER)
    enqueue(store, "b", T0)
    enqueue(store, "c", T0)
    store.outbox.claim_due(T0, 1, "w1")
    backlog = store.outbox.backlog()
    assert (backlog.pending, backlog.in_flight, backlog.dead) == (2, 1, 0)
    assert backlog.oldest_due == T0


def test_concurrent_claimers_never_get_the_same_row(store: Store) -> None:
    for n in range(60):
        enqueue(store, f"k{n}")
    claimed: dict[str, list[int]] = {}

    def worker(name: str) -> None:
        mine = claimed.setdefault(name, [])
        while batch := store.outbox.claim_due(LATER, 3, name):
            mine.extend(i.id for i in batch)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for ids in claimed.values() for i in ids]
    assert len(every) == len(set(every)) == 60


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_postgres_skips_rows_locked_by_an_open_claim(store: Store) -> None:
    """A claim still inside its transaction holds row locks; a second claimer skips them
    instead of waiting (it would hit the lock timeout if it waited)."""
    for n in range(3):
        enqueue(store, f"k{n}", T0)
    with store.transaction() as first:
        held = store.outbox.claim_due(T0, 1, "w1", conn=first)
        with store.transaction() as second:
            second.execute(text("SET LOCAL lock_timeout = '2s'"))
            other = store.outbox.claim_due(T0, 1, "w2", conn=second)
    assert len(held) == len(other) == 1
    assert held[0].id != other[0].id
