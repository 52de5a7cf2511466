"""Leases that hold: two outbox workers never both send one effect, and a worker that lost
its lease neither sends nor records. Real threads, a real Jira double over HTTP, a real store
(SQLite and PostgreSQL); inbox claims follow the `--lease` setting."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from connectors.delivery import DELIVERY_POLICY, JiraSender
from connectors.jira_client import JiraClient
from plugin.effects import Effect
from plugin.outbox_worker import DeliveryStats, OutboxWorker
from plugin.service import compose
from plugin.settings import EXAMPLE_MANIFEST
from plugin.store import Store
from tests.test_effects_support import change, enqueue, make_award, plan
from tests.test_service_support import FakeJira

T0 = datetime(2026, 11, 6, 9, 0, tzinfo=UTC)


def comments(count: int) -> list[Effect]:
    """The comments of `count` awards, each on its own ticket."""
    found = []
    for n in range(count):
        award = make_award(id=500 + n, ticket=f"PAY-{500 + n}")
        found += [e for e in plan(change(award, "awarded")) if e.action == "comment"]
    return found


class Counting:
    """A sender that counts what it is handed, then passes it on (after `delay` seconds)."""

    def __init__(self, inner: object | None = None, delay: float = 0.0) -> None:
        self.inner = inner
        self.delay = delay
        self.sent: Counter[str] = Counter()
        self.started = threading.Event()
        self.lock = threading.Lock()

    def send(self, effect: Effect) -> None:
        with self.lock:
            self.sent[effect.idempotency_key] += 1
        self.started.set()
        time.sleep(self.delay)
        if self.inner is not None:
            self.inner.send(effect)  # type: ignore[attr-defined]


def jira_sender(jira: FakeJira) -> JiraSender:
    client = JiraClient(
        jira.url, "cloud", email="bot@example.com", token="lease-test", policy=DELIVERY_POLICY
    )
    return JiraSender(client)


def test_two_workers_with_a_short_lease_post_each_comment_once(store: Store) -> None:
    """The lease (1 s) is shorter than a batch takes to deliver (10 comments at 0.2 s)."""
    effects = comments(10)
    with FakeJira() as jira:
        jira.state.comment_delay = 0.2
        enqueue(store, effects)
        stop = threading.Event()
        senders = [Counting(jira_sender(jira)) for _ in range(2)]
        workers = [
            OutboxWorker(store, {"jira": s}, worker_id=f"w{n}", lease_seconds=1.0)
            for n, s in enumerate(senders)
        ]
        threads = [threading.Thread(target=w.run, args=(stop, 0.05)) for w in workers]
        for thread in threads:
            thread.start()
        try:
            deadline = time.monotonic() + 60
            while store.outbox.backlog().pending + store.outbox.backlog().in_flight:
                assert time.monotonic() < deadline, store.outbox.list()
                time.sleep(0.05)
        finally:
            stop.set()
            for thread in threads:
                thread.join(10)
    keys = [e.idempotency_key for e in effects]
    assert jira.state.refs == Counter(dict.fromkeys(keys, 1))  # each comment posted once
    assert senders[0].sent + senders[1].sent == Counter(dict.fromkeys(keys, 1))  # sent once
    assert {i.status for i in store.outbox.list()} == {"done"}


def test_a_worker_that_lost_its_lease_sends_and_records_nothing_more(store: Store) -> None:
    """Worker a's first send outlasts its lease; b takes the batch over. a then sends none of
    the rest and records no outcome: b's are the ones that stand."""
    effects = comments(4)
    enqueue(store, effects, T0)
    b_sender = Counting()
    b = OutboxWorker(store, {"jira": b_sender}, worker_id="b", lease_seconds=60)

    class TakenOver(Counting):
        def send(self, effect: Effect) -> None:
            super().send(effect)
            if sum(self.sent.values()) == 1:  # a minute passes in this send: a's lease lapses
                assert b.run_once(T0 + timedelta(seconds=61)) == DeliveryStats(claimed=4, done=4)

    a_sender = TakenOver()
    a = OutboxWorker(store, {"jira": a_sender}, worker_id="a", lease_seconds=60)
    assert a.run_once(T0) == DeliveryStats(claimed=4, lost=4)
    assert list(a_sender.sent) == [effects[0].idempotency_key]  # only the one in hand
    assert b_sender.sent == Counter(e.idempotency_key for e in effects)
    assert [(i.status, i.claimed_by) for i in store.outbox.list()] == [("done", None)] * 4


def test_the_lease_is_renewed_while_a_slow_send_runs(store: Store) -> None:
    """A send that takes longer than the lease (2.5 s, lease 1 s): no other worker takes it."""
    [effect] = comments(1)
    enqueue(store, [effect])
    slow = Counting(delay=2.5)
    a = OutboxWorker(store, {"jira": slow}, worker_id="a", lease_seconds=1.0)
    b_sender = Counting()
    b = OutboxWorker(store, {"jira": b_sender}, worker_id="b", lease_seconds=1.0)
    stats: list[DeliveryStats] = []
    thread = threading.Thread(target=lambda: stats.append(a.run_once()))
    thread.start()
    try:
        assert slow.started.wait(10)
        while thread.is_alive():
            assert b.run_once().claimed == 0
            time.sleep(0.1)
    finally:
        thread.join(10)
    assert stats == [DeliveryStats(claimed=1, done=1)]
    assert (slow.sent[effect.idempotency_key], b_sender.sent) == (1, Counter())


def test_a_worker_claims_what_it_can_deliver_well_inside_its_lease(store: Store) -> None:
    """Sends of 0.05 s under a 1 s lease: once a worker knows its pace, it claims batches
    of a handful, not 200, so other workers share the work and no batch outlives its lease."""
    effects = comments(34)
    sender = Counting(delay=0.05)
    run = OutboxWorker(store, {"jira": sender}, worker_id="a", lease_seconds=1.0)
    enqueue(store, effects[:4])
    assert run.run_once().done == 4  # the first batch: the worker learns its pace
    enqueue(store, effects[4:])
    claims = []
    while (stats := run.run_once()).claimed:
        claims.append(stats.claimed)
        assert stats.done == stats.claimed
    assert sum(claims) == 30 and len(claims) >= 3
    assert max(claims) <= 12, claims
    assert sender.sent == Counter(e.idempotency_key for e in effects)


def test_inbox_claims_follow_the_lease_setting(store_url: str) -> None:
    """`--lease 7`: the pipeline's claims hold 7 s, so a killed worker's events come back
    after 7 s (not 5 minutes)."""
    settings = compose.Settings(
        manifest_file=EXAMPLE_MANIFEST, database=store_url, worker_id="w1", lease=7.0
    )
    opened = compose.open_parts(settings, env={})
    store = opened.store
    try:
        for n in range(3):
            store.inbox.add("jira", "issue_updated", f"k{n}", {"n": n})
        now = datetime.now(UTC)
        store.inbox.clock = lambda: now
        claimed = store.inbox.claim(10, "killed")  # the pipeline's own call
        assert len(claimed) == 3
        store.inbox.clock = lambda: now + timedelta(seconds=6)
        assert store.inbox.claim(10, "w2") == []
        store.inbox.clock = lambda: now + timedelta(seconds=8)
        assert [i.id for i in store.inbox.claim(10, "w2")] == [i.id for i in claimed]
    finally:
        store.close()
