"""Pull every configured source since its cursors into the inbox.

A page's events are stored first, then its cursor is saved (in one transaction), so a crash
can only make the next sync read a page again — the inbox's natural key absorbs the repeat.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from plugin.errors import ConnectorError
from plugin.ports import Batch, Event, EventSource
from plugin.store import InboxEvent, Store
from plugin.store.models import JsonText

log = logging.getLogger("skillrelay.sync")

Progress = Callable[[str, int], None]  # (source name, records fetched in this batch)


@dataclass
class SourceSummary:
    source: str
    fetched: int = 0
    new: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)  # records that could not be read
    stopped: str | None = None  # why the source stopped early (its cursor stays put)

    @property
    def ok(self) -> bool:
        return self.stopped is None


def inbox_event(event: Event, raw: object, received_at: datetime) -> InboxEvent:
    return InboxEvent(
        source=event.source,
        kind=event.kind,
        natural_key=event.natural_key,
        payload=event.model_dump(mode="json"),
        received_at=received_at,
        raw=raw if isinstance(raw, dict | JsonText) else None,
    )


def cursor_position(batch: Batch, now: datetime) -> datetime:
    if batch.position is not None:
        return batch.position
    if batch.cursor:
        try:
            parsed = datetime.fromisoformat(batch.cursor.replace("Z", "+00:00"))
        except ValueError:
            return now
        if parsed.tzinfo is not None:
            return parsed
    return now


def sync_source(
    source: EventSource,
    store: Store,
    now: datetime,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> SourceSummary:
    summary = SourceSummary(source.name)
    cursors = store.cursors.for_source(source.name)
    try:
        for batch in source.pull(cursors, now):
            summary.fetched += batch.fetched
            summary.errors.extend(batch.errors)
            raws: Sequence[object] = batch.raw if len(batch.raw) == len(batch.events) else ()
            events = [
                inbox_event(e, raws[i] if raws else None, now) for i, e in enumerate(batch.events)
            ]
            if dry_run:
                summary.new += len(events)
            else:
                with store.transaction() as conn:
                    new, dup = store.inbox.add_many(events, conn=conn)
                    if batch.cursor is not None:
                        position = cursor_position(batch, now)
                        store.cursors.set(
                            source.name, batch.stream, batch.cursor, position, conn=conn
                        )
                summary.new += new
                summary.duplicates += dup
            if progress is not None:
                progress(source.name, batch.fetched)
    except ConnectorError as exc:
        # Keep what earlier pages stored; the cursor stands where the last good page left it.
        summary.stopped = str(exc)
        log.warning("sync of %s stopped: %s", source.name, exc)
    return summary


def sync_all(
    sources: Sequence[EventSource],
    store: Store,
    now: datetime,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> list[SourceSummary]:
    return [sync_source(s, store, now, dry_run=dry_run, progress=progress) for s in sources]
