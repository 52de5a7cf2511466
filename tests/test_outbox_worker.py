"""OutboxWorker with a real Store (SQLite and PostgreSQL) and Jira behind the contract harness:
Retry-After, backoff, dead letters, retry, paused targets, crashes. No real sleeping.
(Leases: test_outbox_lease; the retry budget: test_outbox_budget; a long storm:
test_outbox_storm.)"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import responses

from connectors.delivery import DELIVERY_POLICY, JiraSender, LrsSender
from connectors.xapi import LrsClient
from plugin.effects import Effect
from plugin.errors import AuthError, RetriableError
from plugin.outbox_worker import DeliveryStats, OutboxWorker, exponential_backoff
from plugin.store import OutboxItem, Store
from tests.jira_contract import JiraHarness
from tests.test_effects_support import (
    FakeIssue,
    change,
    enqueue,
    flags_award,
    make_award,
    plan,
    store_award,
)

pytest_plugins = ["tests.jira_contract"]

T0 = datetime(2026, 11, 6, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class Recorder:
    """A sender that records effects, failing as told first."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.sent: list[Effect] = []

    def send(self, effect: Effect) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(effect)


def comment_effect(store: Store) -> Effect:
    award = store_award(store, make_award())
    return plan(change(award, "awarded"))[0]


def worker(store: Store, jira: object, **kwargs: object) -> OutboxWorker:
    options: dict[str, object] = {"worker_id": "w1", "backoff": lambda n: 10.0 * n}
    options.update(kwargs)
    return OutboxWorker(store, {"jira": jira}, **options)  # type: ignore[arg-type, dict-item]


def only(store: Store) -> OutboxItem:
    [item] = store.outbox.list()
    return item


def test_429_retry_after_is_honoured(store: Store, jira_cloud: JiraHarness) -> None:
    issue = FakeIssue(jira_cloud)
    issue.fail("POST", "comment", 429, headers={"Retry-After": "30"})
    enqueue(store, [comment_effect(store)], T0)
    run = worker(store, JiraSender(jira_cloud.client), backoff=lambda n: 1.0)

    assert run.run_once(T0) == DeliveryStats(claimed=1, retried=1)
    item = only(store)
    assert (item.status, item.next_attempt_at, item.attempts) == ("pending", at(30), 1)
    assert item.last_error == "jira (HTTP 429): Too Many Requests"
    assert run.run_once(at(29)).claimed == 0
    assert run.run_once(at(30)) == DeliveryStats(claimed=1, done=1)
    assert (only(store).status, issue.posts) == ("done", 1)
    assert jira_cloud.sleeps == []  # the client itself never waited


def test_503_burst_backs_off_then_delivers(store: Store, jira_cloud: JiraHarness) -> None:
    issue = FakeIssue(jira_cloud)
    issue.fail("POST", "comment", 503, times=3)
    enqueue(store, [comment_effect(store)], T0)
    run = worker(store, JiraSender(jira_cloud.client))
    now, waits = T0, []
    for _ in range(3):
        assert run.run_once(now).retried == 1
        item = only(store)
        waits.append((item.next_attempt_at - now).total_seconds())
        now = item.next_attempt_at
    assert waits == [10.0, 20.0, 30.0]
    assert run.run_once(now).done == 1
    assert issue.posts == 1


def test_fatal_400_is_dead_at_once(store: Store, jira_cloud: JiraHarness) -> None:
    issue = FakeIssue(jira_cloud)
    issue.fail("PUT", "issue", 400)
    label = plan(change(store_award(store, make_award()), "awarded"))[1]
    enqueue(store, [label], T0)
    assert worker(store, JiraSender(jira_cloud.client)).run_once(T0).dead == 1
    item = only(store)
    assert (item.status, item.attempts, item.last_error) == (
        "dead",
        1,
        "jira (HTTP 400): label on PAY-101: Bad Request: Jira refused the request as invalid; "
        "it will not succeed as it is",
    )
    assert store.outbox.backlog().dead == 1  # what /readyz reports


def test_the_budget_then_dead_then_retry_delivers(store: Store, jira_cloud: JiraHarness) -> None:
    issue = FakeIssue(jira_cloud)
    issue.fail("POST", "comment", 503, times=3)
    enqueue(store, [comment_effect(store)], T0)
    run = worker(store, JiraSender(jira_cloud.client), retry_budget=timedelta(seconds=25))
    now = T0
    for expected in ("pending", "pending", "dead"):  # failing at 0 s, 10 s, then 30 s
        run.run_once(now)
        item = only(store)
        assert item.status == expected
        now = item.next_attempt_at
    assert item.last_error == (
        "gave up: not delivered within 25s (attempts: 3); last: jira (HTTP 503): "
        "Service Unavailable"
    )
    assert run.run_once(at(10_000)).claimed == 0  # dead stays dead

    assert store.outbox.retry(item.id)
    assert (only(store).status, only(store).attempts) == ("pending", 0)
    assert run.run_once(store.clock() + timedelta(seconds=1)).done == 1
    assert issue.posts == 1


def test_a_down_target_pauses_its_batch_not_the_others(store: Store) -> None:
    jira = Recorder(RetriableError("jira", "connection failed: ConnectionError"))
    lrs = Recorder()
    award = store_award(store, make_award(state="approved"))
    effects = plan(change(award, "awarded"))
    enqueue(store, effects, T0)
    run = OutboxWorker(store, {"jira": jira, "lrs": lrs}, worker_id="w1", backoff=lambda n: 60.0)
    assert run.run_once(T0) == DeliveryStats(claimed=4, done=2, retried=1, deferred=1)
    assert [e.action for e in lrs.sent] == ["applied", "earned"]
    waiting = store.outbox.list(status="pending")
    assert [i.action for i in waiting] == ["comment", "label"]
    assert {i.next_attempt_at for i in waiting} == {at(60)}
    assert waiting[1].last_error == (
        "waiting: jira paused until 2026-11-06T09:01:00+00:00: "
        "jira: connection failed: ConnectionError"
    )
    assert waiting[1].attempts == 0  # waited untried: no attempt spent
    assert run.run_once(at(60)) == DeliveryStats(claimed=2, done=2)
    assert [e.action for e in jira.sent] == ["comment", "label"]


def test_auth_error_dead_letters_one_and_holds_the_rest(store: Store) -> None:
    jira = Recorder(AuthError("jira", "Unauthorized: check the credentials", 401))
    enqueue(store, plan(change(store_award(store, make_award()), "awarded"))[:2], T0)
    stats = worker(store, jira).run_once(T0)
    assert stats == DeliveryStats(claimed=2, dead=1, deferred=1)
    dead, held = store.outbox.list()
    assert (dead.status, dead.last_error) == (
        "dead",
        "jira (HTTP 401): Unauthorized: check the credentials",
    )
    assert (held.status, held.last_error) == (
        "pending",
        "waiting: jira paused until 2026-11-06T09:00:10+00:00: jira refused our credentials",
    )


def test_no_sender_and_unreadable_payload_are_dead(store: Store) -> None:
    store.outbox.enqueue("1:awarded:moodle:message", "moodle", "message", {}, T0)
    store.outbox.enqueue("1:awarded:jira:comment", "jira", "comment", {"issue": "PAY-1"}, T0)

    class Broken:
        def send(self, effect: Effect) -> None:
            raise KeyError("blocks")

    assert worker(store, Broken()).run_once(T0).dead == 2
    errors = [i.last_error for i in store.outbox.list()]
    assert errors == ["no sender for target 'moodle' (configured: jira)", "KeyError: 'blocks'"]


def test_a_crash_after_sending_is_redelivered_without_a_second_comment(
    store: Store, jira_cloud: JiraHarness
) -> None:
    """Worker A posts, then dies before mark_done; B takes over after the lease lapses."""
    issue = FakeIssue(jira_cloud)
    enqueue(store, [comment_effect(store)], T0)
    [claimed] = store.outbox.claim_due(T0, 10, "worker-a", lease_seconds=60)
    JiraSender(jira_cloud.client).send(Effect.from_item(claimed))  # ...and worker A is gone
    run = worker(store, JiraSender(jira_cloud.client), worker_id="worker-b")
    assert run.run_once(at(30)).claimed == 0  # A's lease still holds
    assert run.run_once(at(61)) == DeliveryStats(claimed=1, done=1)
    assert (issue.posts, only(store).attempts) == (1, 1)  # a's send was not the worker's
    assert store.outbox.mark_done(claimed.id, worker="worker-a") is False  # A lost the lease


def test_stop_finishes_the_current_effect_and_releases_the_rest(store: Store) -> None:
    stop = threading.Event()

    class StopsAfterOne(Recorder):
        def send(self, effect: Effect) -> None:
            super().send(effect)
            stop.set()  # SIGTERM arrives while this effect is being sent

    jira = StopsAfterOne()
    enqueue(store, plan(change(store_award(store, make_award()), "awarded"))[:2], T0)
    stats = worker(store, jira).run_once(T0, stop=stop)
    assert stats == DeliveryStats(claimed=2, done=1, deferred=1)
    done, released = store.outbox.list()
    assert (done.status, released.status, released.next_attempt_at) == ("done", "pending", T0)


def test_run_loops_until_stopped(store: Store) -> None:
    stop = threading.Event()
    jira = Recorder()
    enqueue(store, plan(change(store_award(store, make_award()), "awarded"))[:2], T0)
    run = worker(store, jira, clock=lambda: T0)
    thread = threading.Thread(target=run.run, args=(stop, 0.01))
    thread.start()
    try:
        for _ in range(500):
            if store.outbox.backlog().pending == 0 and len(jira.sent) == 2:
                break
            threading.Event().wait(0.01)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert [i.status for i in store.outbox.list()] == ["done", "done"]


def test_default_backoff_is_capped_exponential_with_jitter() -> None:
    backoff = exponential_backoff(base=30, cap=3600)
    for attempt, low in [(1, 30), (2, 60), (3, 120), (7, 1920)]:
        assert low <= backoff(attempt) <= low + 30
    assert 3570 <= backoff(30) <= 3600
    assert exponential_backoff(base=1, cap=10, jitter=0)(3) == 4


def test_bad_settings_are_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        OutboxWorker(store, {}, worker_id="w", batch=0)
    with pytest.raises(ValueError):
        OutboxWorker(store, {}, worker_id="w", retry_budget=timedelta(0))


LRS = "https://lrs.example.org/xAPI/"


def lrs_worker(store: Store, jira: Recorder, **kwargs: object) -> OutboxWorker:
    lrs = LrsSender(LrsClient(LRS, auth=("u", "p"), policy=DELIVERY_POLICY))
    options: dict[str, object] = {"worker_id": "w1", "backoff": lambda n: 10.0 * n}
    options.update(kwargs)
    return OutboxWorker(store, {"jira": jira, "lrs": lrs}, **options)  # type: ignore[arg-type]


@responses.activate
def test_lrs_503_retries_the_whole_lrs_batch(store: Store) -> None:
    post = responses.post(f"{LRS}statements", status=503, headers={"Retry-After": "45"})
    enqueue(store, plan(change(store_award(store, flags_award()), "awarded")), T0)
    jira = Recorder()
    run = lrs_worker(store, jira)

    assert run.run_once(T0) == DeliveryStats(claimed=4, done=2, retried=2)
    assert (len(jira.sent), post.call_count) == (2, 1)
    waiting = store.outbox.list(status="pending")
    assert [i.target for i in waiting] == ["lrs", "lrs"]
    assert all((i.next_attempt_at, i.attempts) == (at(45), 1) for i in waiting)
    assert all(i.last_error == "xapi (HTTP 503): Service Unavailable" for i in waiting)
    assert run.run_once(at(44)).claimed == 0

    responses.replace(responses.POST, f"{LRS}statements", status=200, json=[])
    assert run.run_once(at(45)) == DeliveryStats(claimed=2, done=2)
    assert len(responses.calls) == 2
    assert store.outbox.backlog().pending == 0


@responses.activate
def test_lrs_batch_past_its_budget_is_dead_and_auth_kills_each(store: Store) -> None:
    responses.post(f"{LRS}statements", status=503)
    enqueue(store, plan(change(store_award(store, flags_award()), "awarded")), T0)
    run = lrs_worker(store, Recorder(), retry_budget=timedelta(minutes=1))
    assert run.run_once(at(60)) == DeliveryStats(claimed=4, done=2, dead=2)
    dead = store.outbox.list(status="dead")
    assert all(
        i.last_error == "gave up: not delivered within 1m (attempts: 1); last: xapi (HTTP 503): "
        "Service Unavailable"
        for i in dead
    )

    responses.replace(responses.POST, f"{LRS}statements", status=401)
    more = lrs_of(store, 2)
    assert len({e.idempotency_key for e in more}) == len(more) >= 2
    enqueue(store, more, T0)
    stats = lrs_worker(store, Recorder()).run_once(T0)
    assert stats == DeliveryStats(claimed=len(more), dead=len(more))
    assert len(responses.calls) == 2  # one POST per run
    keys = {e.idempotency_key for e in more}
    refused = [i for i in store.outbox.list(status="dead") if i.idempotency_key in keys]
    assert len(refused) == len(more)
    assert all("401" in (i.last_error or "") for i in refused)


def lrs_of(store: Store, count: int) -> list[Effect]:
    """The LRS effects of `count` more awards being awarded (different tickets)."""
    effects: list[Effect] = []
    for n in range(count):
        award = store_award(store, replace(flags_award(), ticket_key=f"PAY-{400 + n}"))
        effects += [e for e in plan(change(award, "awarded")) if e.target == "lrs"]
    return effects


@responses.activate
def test_lrs_effects_no_sender_can_read_die_alone(store: Store) -> None:
    responses.post(f"{LRS}statements", status=200, json=[])
    [applied, earned] = [
        e for e in plan(change(store_award(store, flags_award()), "awarded")) if e.target == "lrs"
    ]
    broken = Effect("9:awarded:lrs:earned", "lrs", "earned", {"statement": "not one"})
    enqueue(store, [applied, broken, earned], T0)
    assert lrs_worker(store, Recorder()).run_once(T0) == DeliveryStats(claimed=3, done=2, dead=1)
    [dead] = store.outbox.list(status="dead")
    assert dead.idempotency_key == broken.idempotency_key
    assert dead.last_error == "xapi: effect 9:awarded:lrs:earned carries no statement"
    assert len(responses.calls) == 1
