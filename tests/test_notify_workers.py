"""Several planners at once, and a planner that dies mid-tick: every message is queued once,
nobody goes over the budget, and a crash leaves nothing half-planned."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from plugin.notify.scheduler import Scheduler
from plugin.notify.words import Words
from plugin.store import Store
from tests.test_notify_scheduler import manifest_with
from tests.test_pipeline_support import NOW, northwind

BUDGET = {"per_person_per_day": 1, "per_person_per_week": 2}


class Died(BaseException):
    """Stands for the process being killed: nothing after it runs."""


def test_planners_on_several_workers_queue_each_message_once(store_url: str) -> None:
    with Store.open(store_url) as store:
        northwind(store)
    manifest = manifest_with(budget=BUDGET)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with Store.open(store_url) as mine:
                for tick in range(4):
                    at = NOW + timedelta(hours=1, days=tick * 3, minutes=n)
                    Scheduler(mine, manifest, Words(), clock=lambda at=at: at).tick()
        except BaseException as exc:  # surfaced below, with the worker that raised it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    with Store.open(store_url) as store:
        notices = store.notices.list(limit=1000)
        effects = [
            i for i in store.outbox.list(limit=1000) if i.idempotency_key.startswith("notify:")
        ]
    sent = [n for n in notices if n.status == "sent"]
    assert len(effects) == len(sent)  # one outbox effect per sent message, none twice
    assert len({e.idempotency_key for e in effects}) == len(effects)
    assert Counter(n.key for n in notices).most_common(1)[0][1] == 1
    for person in {n.person_id for n in sent}:
        times = sorted(n.sent_at for n in sent if n.person_id == person and n.sent_at)
        for at in times:
            assert sum(1 for t in times if at - timedelta(days=1) < t <= at) <= 1
            assert sum(1 for t in times if at - timedelta(days=7) < t <= at) <= 2


def test_a_planner_killed_while_sending_leaves_nothing_half_sent(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    northwind(store)
    manifest = manifest_with(budget={"per_person_per_day": 5, "per_person_per_week": 10})
    calls = {"n": 0}
    enqueue = store.outbox.enqueue_many

    def dies_queueing(*args: object, **kwargs: object) -> int:
        calls["n"] += 1
        if calls["n"] == 1:  # the tick's last write: everything before it is undone
            raise Died
        return enqueue(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store.outbox, "enqueue_many", dies_queueing)
    at = NOW + timedelta(hours=1)
    with pytest.raises(Died):
        Scheduler(store, manifest, Words(), clock=lambda: at).tick()
    # Sending rolled back whole: the planned messages wait, none marked sent, no effect.
    planned = store.notices.list()
    assert len(planned) == 9 and {n.status for n in planned} == {"pending"}
    assert [
        i for i in store.outbox.list(limit=100) if i.idempotency_key.startswith("notify:")
    ] == []
    monkeypatch.setattr(store.outbox, "enqueue_many", enqueue)
    stats = Scheduler(store, manifest, Words(), clock=lambda: at).tick()
    assert stats.planned == 0 and stats.sent > 0
    sent = [n for n in store.notices.list() if n.status == "sent"]
    effects = [i for i in store.outbox.list(limit=100) if i.idempotency_key.startswith("notify:")]
    assert len(effects) == len(sent) and len(store.notices.list()) == 9


def test_a_planner_killed_while_planning_leaves_nothing_planned(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    northwind(store)
    manifest = manifest_with(budget={"per_person_per_day": 5, "per_person_per_week": 10})
    add_many = store.notices.add_many

    def dies_planning(*args: object, **kwargs: object) -> int:
        add_many(*args, **kwargs)  # type: ignore[arg-type]
        raise Died  # after the rows are written, before the commit

    monkeypatch.setattr(store.notices, "add_many", dies_planning)
    at = NOW + timedelta(hours=1)
    with pytest.raises(Died):
        Scheduler(store, manifest, Words(), clock=lambda: at).tick()
    assert store.notices.list() == []
    monkeypatch.setattr(store.notices, "add_many", add_many)
    stats = Scheduler(store, manifest, Words(), clock=lambda: at).tick()
    assert stats.planned == 9 and stats.sent > 0


def test_two_planners_deciding_at_the_same_moment_keep_one_budget(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first planner stops inside its decision until the second one reaches its own (or
    3 s pass): without one planner at a time, both would spend the same room in the budget."""
    quiet = {"start": "19:00", "end": "08:00"}
    manifest = manifest_with(
        budget={"per_person_per_day": 1, "per_person_per_week": 5, "quiet_hours": quiet}
    )
    with Store.open(store_url) as store:
        northwind(store)
        evening = datetime(2026, 11, 20, 22, tzinfo=UTC)  # planned, all held for the night
        assert Scheduler(store, manifest, Words(), clock=lambda: evening).tick().held > 0
    from plugin.notify import budget, scheduler

    inside = threading.Event()
    real = budget.decide

    def decide(*args: object, **kwargs: object) -> object:
        if threading.current_thread().name == "first":
            inside.set()
            time.sleep(0.1)
            second_arrived.wait(3)
        else:
            second_arrived.set()
        return real(*args, **kwargs)  # type: ignore[arg-type]

    second_arrived = threading.Event()
    monkeypatch.setattr(scheduler.budget, "decide", decide)
    at = datetime(2026, 11, 21, 8, 30, tzinfo=UTC)  # the morning: both decide the same ones

    def tick() -> None:
        with Store.open(store_url) as mine:
            Scheduler(mine, manifest, Words(), clock=lambda: at).tick()

    first = threading.Thread(target=tick, name="first")
    first.start()
    assert inside.wait(10)
    second = threading.Thread(target=tick, name="second")
    second.start()
    first.join(30)
    second.join(30)
    with Store.open(store_url) as store:
        sent = Counter(n.person_id for n in store.notices.list() if n.status == "sent")
    assert sent["amara.okafor"] == 1  # two messages were due for her; the budget is one a day


def test_a_tick_decides_a_bounded_share_and_the_next_ticks_the_rest(store: Store) -> None:
    northwind(store)
    manifest = manifest_with(budget={"per_person_per_day": 5, "per_person_per_week": 10})
    at = NOW + timedelta(hours=1)
    planner = Scheduler(store, manifest, Words(), clock=lambda: at, per_tick=2)
    first = planner.tick()
    assert first.planned == 9 and first.sent + first.dropped + first.digested <= 2 + 3
    ticks = 1
    while any(n.status == "pending" for n in store.notices.list()):
        planner.tick()
        ticks += 1
        assert ticks < 20
    assert ticks >= 3  # 9 messages, 2 at a time (suggestions without tickets drop first)
    sent = [n for n in store.notices.list() if n.status == "sent"]
    effects = [i for i in store.outbox.list(limit=100) if i.idempotency_key.startswith("notify:")]
    assert len(sent) == len(effects) > 0
