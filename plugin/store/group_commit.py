"""Group commit for the inbox: concurrent requests' rows stored in one transaction.

Every webhook request must have its events durable before it answers 200. Each request
committing alone pays a whole transaction (the writer's turn, BEGIN, the statement,
COMMIT) for one or two rows; under load the requests queue for the one writer anyway. Here
the first request to arrive while nobody is writing becomes the leader: it takes every
request queued so far (its own included), writes them all in one transaction and hands
each its answer; requests that arrived meanwhile go in the next group. A request still
answers only after its own rows are committed.

When a group's transaction fails, each request of the group is written on its own, so one
bad request (a value the database refuses) fails alone and the others are stored.

`AsyncGroupCommit` does the same for requests that run as coroutines on one event loop: a
thread of its own writes what they queued meanwhile, and the loop wakes each of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

Key = tuple[str, str]  # (source, natural key)


class Keyed(Protocol):
    """A row to store: an InboxEvent, or one already encoded for the driver."""

    @property
    def source(self) -> str: ...

    @property
    def natural_key(self) -> str: ...


R = TypeVar("R", bound=Keyed)


@dataclass
class _Request(Generic[R]):
    rows: Sequence[R]
    done: bool = False
    new: set[Key] = field(default_factory=set)
    error: BaseException | None = None


class GroupCommit(Generic[R]):
    def __init__(self, write: Callable[[Sequence[R]], set[Key]], *, max_rows: int = 1000) -> None:
        self._write = write
        self.max_rows = max_rows
        self._cond = threading.Condition()
        self._queue: list[_Request[R]] = []
        self._writing = False
        self.groups = 0  # transactions written, for tests and metrics

    def add_new(self, rows: Sequence[R]) -> set[Key]:
        """Store `rows` (with whatever else is queued); the keys of `rows` that were new.

        A key sent by several requests of one group counts as new for the first only, as if
        they had been stored one after another in queue order."""
        mine = _Request(rows)
        with self._cond:
            self._queue.append(mine)
        while True:
            with self._cond:
                while not mine.done and self._writing:
                    self._cond.wait()
                if mine.done:
                    break
                self._writing = True  # this thread leads the next group
                group = self._take()
            try:
                self._commit(group)
            finally:
                with self._cond:
                    self._writing = False
                    self._cond.notify_all()
        if mine.error is not None:
            raise mine.error
        return mine.new

    def _take(self) -> list[_Request[R]]:
        """The queued requests, oldest first, up to max_rows (at least one)."""
        count = _fits(self._queue, self.max_rows)
        group, self._queue = self._queue[:count], self._queue[count:]
        return group

    def _commit(self, group: list[_Request[R]]) -> None:
        self.groups += _commit(self._write, group)


class AsyncGroupCommit(Generic[R]):
    """`await add_new(rows)` from coroutines on one event loop (the first call's); the
    requests queued meanwhile are written together by a thread of its own."""

    def __init__(self, write: Callable[[Sequence[R]], set[Key]], *, max_rows: int = 1000) -> None:
        self._write = write
        self.max_rows = max_rows
        self._queue: queue.SimpleQueue[tuple[_Request[R], asyncio.Future[None]] | None]
        self._queue = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._closed = False
        self.groups = 0

    async def add_new(self, rows: Sequence[R]) -> set[Key]:
        """As `GroupCommit.add_new`, without holding a thread while the group is written."""
        if self._closed:
            raise RuntimeError("the group commit is closed")
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._thread.start()
        mine = _Request(rows)
        done: asyncio.Future[None] = self._loop.create_future()
        self._queue.put((mine, done))
        await done
        if mine.error is not None:
            raise mine.error
        return mine.new

    def close(self) -> None:
        """Stop the writing thread once what is queued is written."""
        self._closed = True
        if self._thread.ident is not None:
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        waiting: list[tuple[_Request[R], asyncio.Future[None]]] = []
        while True:
            if not waiting:
                first = self._queue.get()
                if first is None:
                    return
                waiting.append(first)
            while (more := self._next()) is not None:
                waiting.append(more)
            count = _fits([request for request, _ in waiting], self.max_rows)
            group, waiting = waiting[:count], waiting[count:]
            self.groups += _commit(self._write, [request for request, _ in group])
            assert self._loop is not None
            # A closed loop (a stop) has nobody waiting: what is queued is written all the same.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(_wake, [done for _, done in group])

    def _next(self) -> tuple[_Request[R], asyncio.Future[None]] | None:
        try:
            item = self._queue.get_nowait()
        except queue.Empty:
            return None
        if item is None:  # closing: what was queued before is written first
            self._queue.put(None)
        return item


def _wake(group: list[asyncio.Future[None]]) -> None:
    for done in group:
        if not done.done():  # a request given up on (its task cancelled) is not woken
            done.set_result(None)


def _fits(queued: Sequence[_Request[R]], max_rows: int) -> int:
    """How many of the queued requests, oldest first, go in the next group (at least one)."""
    count, rows = 0, 0
    for request in queued:
        if count and rows + len(request.rows) > max_rows:
            break
        count += 1
        rows += len(request.rows)
    return count


def _commit(write: Callable[[Sequence[R]], set[Key]], group: list[_Request[R]]) -> int:
    """Write the group in one transaction, each request told which of its keys were new;
    when that fails, each request alone, so one the store refuses fails alone. How many
    transactions were committed."""
    try:
        added = write([row for request in group for row in request.rows])
    except BaseException as exc:
        committed = 0
        if len(group) == 1:
            group[0].error = exc
        else:
            committed = sum(_commit(write, [request]) for request in group)
        _finish(group)
        return committed
    for request in group:
        for row in request.rows:
            key = (row.source, row.natural_key)
            if key in added:
                added.discard(key)  # the first request to send a key stored it
                request.new.add(key)
    _finish(group)
    return 1


def _finish(group: list[_Request[R]]) -> None:
    for request in group:
        request.done = True
