"""Which inbox rows a worker's engine has read, so it can catch up on rows stored since.

Inbox ids come from a sequence. On PostgreSQL an id is taken when the INSERT runs, but the
row is only visible once its transaction commits, so a lower id can appear after a higher
one was read; and an INSERT that meets a duplicate burns its id for good. The horizon reads
every row above the highest id it has read, and remembers the ids missing below it (gaps):
it looks for them again on each catch-up until GAP_SECONDS have passed, far longer than
any inbox transaction stays open. SQLite hands out ids under its one write lock, so the
gaps there are only ids that were rolled back.

A gap that expires, and a jump too long to track, is remembered as lost: should another
worker decide an event with a lost id after all, `unread` says so and the pipeline reads it
before it reconciles (watermark.py). So is a row read while it was set aside (status
failed): an admin may give it back (`skillrelay events retry`), and whoever decides it then
is not the only engine to count it.

Rows are read on the caller's connection, inside its transaction: on SQLite a second
connection could not begin while the caller holds the write lock. `Inbox.payloads` opens
its own connection, so this reads with `read_payload_texts` on the caller's connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from sqlalchemy import Connection, func, select

from plugin.store.inbox import SET_ASIDE, read_payload_texts
from plugin.store.schema import inbox

log = logging.getLogger("skillrelay.pipeline")

# Every kind the intake stores: a row of a kind not listed here is looked for again as a
# gap until it expires, which is harmless.
KINDS = ("completion", "ticket", "delivery", "progress")
GAP_SECONDS = 120.0
MAX_GAPS = 10_000  # a sequence that jumps further (a server crash skips ids) is not tracked
CLUSTER = 64  # gaps closer than this are looked for with one range query
MAX_LOST = 1_000_000  # lost ids remembered one by one; past that every id is suspect

Row = tuple[int, str, str]  # (inbox id, kind, payload as JSON text)


class Horizon:
    def __init__(self, upto: int, clock: Callable[[], datetime], aside: Iterable[int] = ()) -> None:
        self.upto = upto  # the highest inbox id read
        self.clock = clock
        self.aside = set(aside)  # ids read while set aside: their event is not in the engine
        self.gaps: dict[int, datetime] = {}  # id missing below `upto` -> when first missed
        self.lost: set[int] = set()  # gaps that expired: never read, no longer looked for
        self.lost_ranges: list[tuple[int, int]] = []  # [start, stop) jumps not tracked
        self.uncertain = False  # too many lost ids to remember: treat every id as unread

    def unread(self, ids: list[int]) -> list[int]:
        """Those of `ids` (stored rows) this horizon has not read."""
        if self.uncertain:
            return list(ids)
        return [
            i
            for i in ids
            if i > self.upto
            or i in self.lost
            or i in self.aside
            or any(start <= i < stop for start, stop in self.lost_ranges)
        ]

    def found(self, ids: list[int]) -> None:
        """These unread ids were read after all."""
        self.lost.difference_update(ids)
        self.aside.difference_update(ids)

    def read(self, conn: Connection) -> list[Row]:
        """Rows not read before: gaps that have appeared since, then everything newer."""
        now = self.clock()
        found = list(self._filled(conn, now))
        last = self.upto
        for row in _payloads(conn, after_id=self.upto):
            self._missed(last + 1, row[0], now)
            found.append(row)
            last = row[0]
        self.upto = last
        self.aside.update(row[0] for row in found if row[1] == SET_ASIDE)
        return found

    def _filled(self, conn: Connection, now: datetime) -> Iterator[Row]:
        for gap, noticed in list(self.gaps.items()):
            if (now - noticed).total_seconds() > GAP_SECONDS:
                del self.gaps[gap]
                self._lose(gap)
        for first, last in _clusters(sorted(self.gaps)):
            for row in _payloads(conn, after_id=first - 1, up_to_id=last):
                if self.gaps.pop(row[0], None) is not None:
                    yield row

    def _missed(self, start: int, stop: int, now: datetime) -> None:
        """Ids in [start, stop) were not there when read."""
        if stop - start > MAX_GAPS - len(self.gaps):
            log.warning("inbox ids %d..%d are missing; too many to look for again", start, stop)
            self.lost_ranges.append((start, stop))
            return
        for gap in range(start, stop):
            self.gaps.setdefault(gap, now)

    def _lose(self, gap: int) -> None:
        if len(self.lost) >= MAX_LOST:
            if not self.uncertain:
                log.warning("more than %d inbox ids lost; checking every decided id", MAX_LOST)
            self.uncertain = True
            self.lost.clear()
        elif not self.uncertain:
            self.lost.add(gap)


def _clusters(ids: list[int]) -> Iterator[tuple[int, int]]:
    """Runs of ids no more than CLUSTER apart, as (first, last)."""
    if not ids:
        return
    first = last = ids[0]
    for gap in ids[1:]:
        if gap - last > CLUSTER:
            yield first, last
            first = gap
        last = gap
    yield first, last


def _payloads(conn: Connection, *, after_id: int, up_to_id: int | None = None) -> Iterator[Row]:
    """(id, kind, payload text) of the rows of KINDS in (after_id, up_to_id], oldest first."""
    return read_payload_texts(conn, KINDS, after_id=after_id, up_to_id=up_to_id)


def unprocessed(conn: Connection, kinds: tuple[str, ...]) -> tuple[int | None, int]:
    """(the lowest id, the number) of the events of `kinds` no worker has decided yet."""
    query = select(func.min(inbox.c.id), func.count()).where(
        inbox.c.status.in_(("new", "deferred")), inbox.c.kind.in_(kinds)
    )
    first, count = conn.execute(query).one()
    return (int(first) if first is not None else None), int(count)
