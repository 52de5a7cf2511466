"""Rebuild the engine from the inbox: the inbox is the event log, the engine a view of it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from pydantic import AfterValidator, Field, TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError

from plugin.domain import Completion, TicketTransition, unstorable
from plugin.engine import Engine
from plugin.manifest import Manifest
from plugin.store import Store

# The kinds the engine decides; "delivery" markers and "progress" signals are never read here.
EVENT_KINDS = ("completion", "ticket")


def storable(event: Completion | TicketTransition) -> Completion | TicketTransition:
    """Refuse an event with text no database can store (see domain.unstorable): it is
    quarantined as unreadable, the same on every worker and database, instead of failing
    every transaction that would write its verdicts."""
    try:  # the fast check (pydantic's own JSON encoder); the walk decides and names the field
        if b"\\u0000" not in event.__pydantic_serializer__.to_json(event):
            return event
    except PydanticSerializationError:
        named = unstorable(event) or "text no database can store"
        raise ValueError(f"{named}; it cannot be stored") from None
    problem = unstorable(event)  # None: an escaped backslash, then "u0000" (no NUL)
    if problem is None:
        return event
    raise ValueError(f"{problem}; it cannot be stored")


# Told apart by `kind`, so an unreadable event is explained by its own model's errors.
EVENT: TypeAdapter[Completion | TicketTransition] = TypeAdapter(
    Annotated[Completion | TicketTransition, Field(discriminator="kind"), AfterValidator(storable)]
)
_EVENT_UNCHECKED: TypeAdapter[Completion | TicketTransition] = TypeAdapter(
    Annotated[Completion | TicketTransition, Field(discriminator="kind")]
)


def event_of_json(text: str) -> Completion | TicketTransition:
    """`EVENT.validate_json(text)`, without encoding each event again to look for a NUL
    where there can be none: JSON text holds one only as the escape `\\u0000`, and text with
    a lone surrogate pydantic's reader refuses. The same events and the same errors."""
    if "\\u0000" in text:
        return EVENT.validate_json(text)
    return _EVENT_UNCHECKED.validate_json(text)


def events_from_inbox(
    store: Store,
    *,
    after_id: int = 0,
    up_to_id: int | None = None,
    aside: list[int] | None = None,
) -> Iterator[Completion | TicketTransition]:
    """Every stored completion and ticket transition, oldest first; unreadable rows and
    events the pipeline set aside skipped (`skillrelay events` lists them, with the reason;
    nothing is dropped from the inbox). The ids of those set aside go to `aside`."""
    rows = store.inbox.payloads(EVENT_KINDS, after_id=after_id, up_to_id=up_to_id)
    for inbox_id, kind, payload in rows:
        if kind not in EVENT_KINDS:
            if aside is not None:
                aside.append(inbox_id)  # set aside by the pipeline
            continue
        try:
            yield EVENT.validate_python(payload)
        except ValidationError:
            continue


def engine_from_inbox(store: Store, manifest: Manifest) -> tuple[Engine, int]:
    """An engine holding every event stored so far, and the last inbox id it has seen."""
    last = store.inbox.last_id()
    engine = Engine(manifest, store.identities.learned())
    engine.load(events_from_inbox(store, up_to_id=last))
    return engine, last
