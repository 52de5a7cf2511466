"""Where an import's results go: events to the inbox in batches, counts to the summary,
problems to the report as `WHERE: what is wrong`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from plugin.ports import Event
from plugin.store import InboxEvent, Store
from plugin.sync import inbox_event

BATCH = 1000
Report = Callable[[str], None]


@dataclass
class Summary:
    file: str
    format: str
    dry_run: bool = False
    read: int = 0  # records read: statements, webhook bodies, issues
    events: int = 0  # events they gave
    new: int = 0
    duplicates: int = 0
    ignored: Counter[str] = field(default_factory=Counter)  # reason -> records
    rejected: Counter[str] = field(default_factory=Counter)  # reason -> records or changes
    notes: list[str] = field(default_factory=list)  # what the admin should know

    @property
    def exit_code(self) -> int:
        """0: everything was readable; 1: some records were rejected (the rest is kept)."""
        return 1 if self.rejected else 0

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "dry_run": self.dry_run,
            "read": self.read,
            "events": self.events,
            "new": self.new,
            "duplicates": self.duplicates,
            "ignored": dict(self.ignored),
            "rejected": dict(self.rejected),
            "notes": list(self.notes),
        }


class Output:
    """Collects events and stores them `BATCH` at a time (nothing is stored on a dry run)."""

    def __init__(
        self,
        summary: Summary,
        store: Store | None,
        received_at: datetime,
        report: Report,
        *,
        batch: int = BATCH,
    ) -> None:
        self.summary = summary
        self.store = store
        self.received_at = received_at
        self.report = report
        self.batch = batch
        self.pending: list[InboxEvent] = []

    def event(self, event: Event, raw: Mapping[str, Any] | None) -> None:
        self.summary.events += 1
        self.pending.append(inbox_event(event, dict(raw) if raw else None, self.received_at))
        if len(self.pending) >= self.batch:
            self.flush()

    def ignored(self, reason: str, count: int = 1) -> None:
        self.summary.ignored[reason] += count

    def rejected(self, where: str, reason: str, detail: str | None = None) -> None:
        self.summary.rejected[reason] += 1
        self.report(f"{where}: {detail or reason}")

    def flush(self) -> None:
        events, self.pending = self.pending, []
        if not events:
            return
        if self.store is None:
            self.summary.new += len(events)  # a dry run: what would be offered to the inbox
            return
        new, duplicates = self.store.inbox.add_many(events)
        self.summary.new += new
        self.summary.duplicates += duplicates
