"""Group commit: concurrent requests' inbox rows stored together, each answered correctly;
from threads (`GroupCommit`) and from coroutines on one event loop (`AsyncGroupCommit`)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest

from plugin.store import Store
from plugin.store.group_commit import AsyncGroupCommit, GroupCommit, Key
from plugin.store.models import InboxEvent

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def row(key: str, source: str = "jira") -> InboxEvent:
    return InboxEvent(source, "ticket", key, {"n": key}, T0)


Write = Callable[[Sequence[InboxEvent]], set[Key]]
Together = Callable[
    ..., tuple[list[object], int]
]  # (write, requests, max_rows=) -> (answers, groups)


def run_together(group: GroupCommit[InboxEvent], requests: list[list[InboxEvent]]) -> list[object]:
    """Each request from its own thread, all started at once; each one's answer or error."""
    answers: list[object] = [None] * len(requests)
    start = threading.Barrier(len(requests))

    def send(i: int) -> None:
        start.wait()
        try:
            answers[i] = group.add_new(requests[i])
        except Exception as exc:
            answers[i] = exc

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return answers


def run_on_loop(
    group: AsyncGroupCommit[InboxEvent], requests: list[list[InboxEvent]]
) -> list[object]:
    """Each request a coroutine on one event loop, all started at once."""

    async def send(rows: list[InboxEvent]) -> object:
        try:
            return await group.add_new(rows)
        except Exception as exc:
            return exc

    async def every() -> list[object]:
        return list(await asyncio.gather(*(send(rows) for rows in requests)))

    try:
        return asyncio.run(every())
    finally:
        group.close()


@pytest.fixture(params=["threads", "coroutines"])
def together(request: pytest.FixtureRequest) -> Together:
    def run(
        write: Write, requests: list[list[InboxEvent]], max_rows: int = 1000
    ) -> tuple[list[object], int]:
        if request.param == "threads":
            group = GroupCommit(write, max_rows=max_rows)
            return run_together(group, requests), group.groups
        on_loop = AsyncGroupCommit(write, max_rows=max_rows)
        return run_on_loop(on_loop, requests), on_loop.groups

    return run


def test_concurrent_requests_share_transactions_and_get_their_own_answers(
    store: Store, together: Together
) -> None:
    def slow_write(rows: Sequence[InboxEvent]) -> set[Key]:
        time.sleep(0.02)  # a busy store: requests pile up behind the one being written
        return store.inbox_writer.add_new(rows)

    requests = [[row(f"k{i}"), row(f"delivery-{i}")] for i in range(16)]
    answers, groups = together(slow_write, requests)
    for i, answer in enumerate(answers):
        assert answer == {("jira", f"k{i}"), ("jira", f"delivery-{i}")}
    assert groups < len(requests)  # some requests were written together
    assert store.inbox.count_by_status()["new"] == 32


def test_a_key_sent_by_several_requests_is_new_for_exactly_one(
    store: Store, together: Together
) -> None:
    store.inbox_writer.add_new([row("seen-before")])
    answers, _ = together(
        lambda rows: (time.sleep(0.01), store.inbox_writer.add_new(rows))[1],
        [[row("same"), row("seen-before")] for _ in range(8)],
    )
    assert sum(answer == {("jira", "same")} for answer in answers) == 1
    assert sum(answer == set() for answer in answers) == 7
    assert len(store.inbox.list(limit=100)) == 2


def test_a_request_the_store_refuses_fails_alone(store: Store, together: Together) -> None:
    def picky_write(rows: Sequence[InboxEvent]) -> set[Key]:
        time.sleep(0.01)
        if any(r.natural_key == "poison" for r in rows):
            raise ValueError("refused: poison")
        return store.inbox_writer.add_new(rows)

    requests = [[row(f"ok-{i}")] for i in range(6)] + [[row("poison")]]
    answers, _ = together(picky_write, requests)
    assert isinstance(answers[-1], ValueError)
    assert answers[:-1] == [{("jira", f"ok-{i}")} for i in range(6)]
    stored = {item.natural_key for item in store.inbox.list(limit=100)}
    assert stored == {f"ok-{i}" for i in range(6)}


def test_one_request_alone_is_written_at_once(store: Store) -> None:
    group = GroupCommit(store.inbox_writer.add_new)
    assert group.add_new([row("a"), row("b", source="xapi")]) == {("jira", "a"), ("xapi", "b")}
    assert group.add_new([row("a")]) == set()
    assert group.groups == 2


def test_groups_stop_at_max_rows(store: Store, together: Together) -> None:
    sizes: list[int] = []

    def counting_write(rows: Sequence[InboxEvent]) -> set[Key]:
        sizes.append(len(rows))
        time.sleep(0.01)
        return store.inbox_writer.add_new(rows)

    requests = [[row(f"k{i}-{j}") for j in range(3)] for i in range(6)]
    answers, _ = together(counting_write, requests, max_rows=4)
    assert all(isinstance(a, set) and len(a) == 3 for a in answers)
    assert max(sizes) <= 4 and sum(sizes) == 18


def fails_once(store: Store, fails: type[BaseException]) -> Write:
    """A write that is interrupted the first time (Ctrl-C, a signal handler's exit)."""
    calls = 0

    def flaky(rows: Sequence[InboxEvent]) -> set[Key]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise fails()
        return store.inbox_writer.add_new(rows)

    return flaky


@pytest.mark.parametrize("fails", [KeyboardInterrupt, SystemExit])
def test_an_interrupted_leader_still_lets_the_others_finish(
    store: Store, fails: type[BaseException]
) -> None:
    group = GroupCommit(fails_once(store, fails))
    with pytest.raises(fails):
        group.add_new([row("first")])
    assert group.add_new([row("second")]) == {("jira", "second")}


@pytest.mark.parametrize("fails", [KeyboardInterrupt, SystemExit])
def test_an_interrupted_write_on_the_loop_fails_its_request_and_the_next_is_stored(
    store: Store, fails: type[BaseException]
) -> None:
    group: AsyncGroupCommit[InboxEvent] = AsyncGroupCommit(fails_once(store, fails))

    async def two() -> set[Key]:
        with pytest.raises(fails):
            await group.add_new([row("first")])
        return await group.add_new([row("second")])

    try:
        assert asyncio.run(two()) == {("jira", "second")}
    finally:
        group.close()


def test_a_closed_group_commit_on_the_loop_refuses_more_rather_than_hang(store: Store) -> None:
    group: AsyncGroupCommit[InboxEvent] = AsyncGroupCommit(store.inbox_writer.add_new)
    assert asyncio.run(group.add_new([row("before")])) == {("jira", "before")}
    group.close()
    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(group.add_new([row("after")]))
    assert [item.natural_key for item in store.inbox.list(limit=10)] == ["before"]


def test_what_is_queued_when_its_loop_closes_is_still_written(store: Store) -> None:
    """A server's loop may close with requests still waiting (a stop): the writing thread
    writes what they queued, and wakes nobody."""
    write = store.inbox_writer.add_new

    def slow(rows: Sequence[InboxEvent]) -> set[Key]:
        time.sleep(0.2)
        return write(rows)

    group: AsyncGroupCommit[InboxEvent] = AsyncGroupCommit(slow, max_rows=1)  # a group each
    loop = asyncio.new_event_loop()
    tasks = [loop.create_task(group.add_new([row(key)])) for key in ("first", "second")]
    loop.run_until_complete(asyncio.sleep(0.05))  # both queued, the first being written
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.close()
    group.close()
    assert sorted(item.natural_key for item in store.inbox.list(limit=10)) == ["first", "second"]
