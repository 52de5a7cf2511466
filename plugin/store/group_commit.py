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
"""

from __future__ import annotations

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
        count, rows = 0, 0
        for request in self._queue:
            if count and rows + len(request.rows) > self.max_rows:
                break
            count += 1
            rows += len(request.rows)
        group, self._queue = self._queue[:count], self._queue[count:]
        return group

    def _commit(self, group: list[_Request[R]]) -> None:
        try:
            added = self._write([row for request in group for row in request.rows])
            self.groups += 1
        except BaseException as exc:
            if len(group) == 1:
                group[0].error = exc
            else:
                for request in group:
                    self._commit([request])
            _finish(group)
            return
        for request in group:
            for row in request.rows:
                key = (row.source, row.natural_key)
                if key in added:
                    added.discard(key)  # the first request to send a key stored it
                    request.new.add(key)
        _finish(group)


def _finish(group: list[_Request[R]]) -> None:
    for request in group:
        request.done = True
