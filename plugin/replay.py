"""Rebuild the engine from the inbox: the inbox is the event log, the engine a view of it."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import TypeAdapter, ValidationError

from plugin.domain import Completion, TicketTransition
from plugin.engine import Engine
from plugin.manifest import Manifest
from plugin.store import Store

EVENT_KINDS = ("completion", "ticket")
EVENT: TypeAdapter[Completion | TicketTransition] = TypeAdapter(Completion | TicketTransition)


def events_from_inbox(
    store: Store, *, after_id: int = 0, up_to_id: int | None = None
) -> Iterator[Completion | TicketTransition]:
    """Every stored completion and ticket transition, oldest first; unreadable rows skipped
    (they are listed by `skillrelay events` as unreadable, never dropped from the inbox)."""
    for _, _, payload in store.inbox.payloads(EVENT_KINDS, after_id=after_id, up_to_id=up_to_id):
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
