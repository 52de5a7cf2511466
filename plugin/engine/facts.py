"""Lightweight facts the engine works on, and the converter from the pydantic domain events.

A backfill holds millions of events: building a pydantic model per event costs more than
deciding it, so the engine keeps plain slots dataclasses. Times are whole microseconds since
the Unix epoch (UTC): integer arithmetic keeps window and cooldown boundaries exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import TypeVar

from plugin.domain import Completion, PersonRef, Ticket, TicketTransition

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
DAY_US = 86_400_000_000
MINUTE_US = 60_000_000

FieldValue = str | list[str] | tuple[str, ...] | None
NO_FIELDS: Mapping[str, FieldValue] = MappingProxyType({})  # shared: most tickets have none


def to_us(at: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is read as UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return (at - EPOCH) // MICROSECOND


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


@dataclass(frozen=True, slots=True)
class Ref:
    """How one system names a person (see plugin.domain.PersonRef)."""

    system: str
    id: str
    email: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        return f"{self.system}:{self.id}"


@dataclass(frozen=True, slots=True)
class CompletionFact:
    key: str  # the event's natural key
    source: str
    person: Ref
    module: str  # "moodle:cm:<cmid>" or an xAPI activity IRI
    state: str  # complete | passed | failed | incomplete
    at: int  # microseconds since the epoch


@dataclass(frozen=True, slots=True, eq=True)
class TicketFact:
    """A ticket snapshot; transitions of one sync may share one instance."""

    id: str
    key: str
    project: str | None = None
    summary: str | None = None
    status: str | None = None
    status_category: str | None = None
    resolution: str | None = None
    assignee: Ref | None = None
    labels: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    fields: Mapping[str, FieldValue] = field(default_factory=lambda: NO_FIELDS)
    updated: int | None = None


@dataclass(frozen=True, slots=True)
class TransitionFact:
    key: str  # the event's natural key
    ticket: TicketFact
    from_category: str | None
    to_category: str | None
    at: int  # microseconds since the epoch


Fact = CompletionFact | TransitionFact


def ref_of(person: PersonRef) -> Ref:
    return Ref(person.system, person.id, person.email, person.display_name)


def ticket_of(ticket: Ticket) -> TicketFact:
    return TicketFact(
        id=ticket.id,
        key=ticket.key,
        project=ticket.project,
        summary=ticket.summary,
        status=ticket.status,
        status_category=ticket.status_category,
        resolution=ticket.resolution,
        assignee=ref_of(ticket.assignee) if ticket.assignee else None,
        labels=ticket.labels,
        components=ticket.components,
        fields=dict(ticket.fields) if ticket.fields else NO_FIELDS,
        updated=to_us(ticket.updated) if ticket.updated else None,
    )


def fact_of(event: Completion | TicketTransition | Fact) -> Fact:
    """The lightweight fact for a domain event (facts pass through unchanged)."""
    if isinstance(event, CompletionFact | TransitionFact):
        return event
    if isinstance(event, Completion):
        return CompletionFact(
            key=event.natural_key,
            source=event.source,
            person=ref_of(event.person),
            module=event.module,
            state=event.state.value,
            at=to_us(event.at),
        )
    return TransitionFact(
        key=event.natural_key,
        ticket=ticket_of(event.ticket),
        from_category=event.from_category,
        to_category=event.to_category,
        at=to_us(event.at),
    )


F = TypeVar("F", CompletionFact, TransitionFact)


def preferred(old: F, new: F) -> F:
    """Which of two different events sharing a natural key to keep, whatever their order.

    Sources should never do this, but a re-sync may carry a fresher ticket snapshot; keep
    the later one (by event time, then snapshot time), else the larger by a stable text form.
    """
    first, then = _when(old), _when(new)
    if first != then:
        return new if then > first else old
    return max(old, new, key=repr)  # rare: the text form is what costs


def _when(fact: Fact) -> tuple[int, int]:
    if isinstance(fact, CompletionFact):
        return fact.at, 0
    return fact.at, fact.ticket.updated or -1
