"""What the core needs from the outside, as small Protocols the connectors satisfy."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from plugin.domain import Completion, Progress, TicketTransition
from plugin.store.models import JsonText

Event = Completion | TicketTransition | Progress  # what sources and receivers store


@dataclass(frozen=True)
class Batch:
    """One page of events from a source, and the cursor to save once they are stored."""

    stream: str
    events: Sequence[Event]
    cursor: str | None  # save this for `stream` after the events are durable; None: unchanged
    fetched: int  # raw records read from the source for this batch
    # native payloads, same order: decoded, or as received (JsonText)
    raw: Sequence[Mapping[str, Any] | JsonText] = field(default_factory=tuple)
    errors: Sequence[str] = field(default_factory=tuple)  # records that could not be read
    position: datetime | None = None  # orders cursors (never backwards); default: the cursor time


class EventSource(Protocol):
    """A pull source (Jira search, Moodle completion, LRS statements)."""

    name: str

    def pull(self, cursors: Mapping[str, str | None], now: datetime) -> Iterator[Batch]:
        """Events since the saved cursors; never advance a cursor past `now`."""
        ...


class StatementSink(Protocol):
    def send_statements(self, statements: Sequence[Mapping[str, Any]]) -> Sequence[str]: ...
