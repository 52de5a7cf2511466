"""The steps every sender's view shares: read the body, decode JSON, store in the inbox.

Storing happens in one transaction before the view answers 2xx, so an acknowledged event is
durable. Duplicates are a normal outcome (the inbox's unique natural key), not an error.

A sender's `take` reads and checks a delivery into `Prepared` rows; committing them is a
step of its own (`respond` waits for the group commit), so a server that awaits the commit
instead of blocking a thread on it runs the same steps.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from plugin.ports import Event
from plugin.store import InboxEvent, Store
from plugin.store.group_commit import Key
from plugin.store.intake import Encoded
from plugin.store.models import Json, JsonText
from webhooks.door import decode
from webhooks.errors import Answer, UnsupportedMediaType
from webhooks.incoming import JSON_TYPE, Incoming
from webhooks.services import Services


@dataclass(frozen=True)
class Delivery:
    """A marker row for a delivery id (`X-Atlassian-Webhook-Identifier`), so a retried
    delivery is recognised even when it carries no event. Stored only then: a delivery's
    events recognise its retries by their own keys, so one row per delivery is enough."""

    source: str
    natural_key: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    new: int
    duplicates: int
    ignored: int
    duplicate_delivery: bool

    @property
    def duplicate(self) -> bool:
        """Nothing new: a delivery seen before, or only events stored before."""
        return self.duplicate_delivery or (self.new == 0 and self.duplicates > 0)

    @property
    def status(self) -> str:
        """duplicate: nothing new; stored: at least one new event; ignored: nothing to store."""
        if self.duplicate:
            return "duplicate"
        return "stored" if self.new else "ignored"

    def answer(self) -> Answer:
        """The 200 answer, encoded without Flask's JSON provider (per request)."""
        return _answer(self.status, self.new, self.duplicates, self.ignored)


@functools.lru_cache(maxsize=256)  # a handful of answers repeat: stored 1, duplicate 1...
def _answer(status: str, new: int, duplicates: int, ignored: int) -> Answer:
    body = {"status": status, "events": new, "duplicates": duplicates, "ignored": ignored}
    return Answer(200, msgspec.json.encode(body))


@dataclass(frozen=True)
class Prepared:
    """A delivery read and checked, its inbox rows encoded; `finish` gives the outcome (and
    counts what the sender counts) once the commit says which of the rows' keys were new."""

    rows: Sequence[Encoded]
    finish: Callable[[set[Key]], Outcome]


Take = Callable[[Services, Incoming], Prepared]  # a sender's view, less the commit and answer


def _row(event: Event, raw: Json | JsonText | None, now: datetime) -> InboxEvent:
    """The event's inbox row, its payload serialised by pydantic straight to JSON text (as
    `inbox_event` stores it, without a dict to encode again)."""
    payload = JsonText(event.model_dump_json())
    return InboxEvent(event.source, event.kind, event.natural_key, payload, now, raw)


def json_body(incoming: Incoming, body: bytes) -> Any:
    """The decoded JSON body: 415 unless it is application/json, 400 unless it parses and
    could be stored (webhooks.door)."""
    mimetype = incoming.mimetype()
    if mimetype != JSON_TYPE:
        raise UnsupportedMediaType(f"Content-Type: expected {JSON_TYPE}, got {mimetype or 'none'}")
    return decode(body)


def prepare_events(
    store: Store,
    events: Sequence[Event],
    raws: Sequence[Json | JsonText | None],
    *,
    ignored: int = 0,
    delivery: Delivery | None = None,
    then: Callable[[Outcome], None] | None = None,
) -> Prepared:
    """The rows of the events (or, when there are none, the delivery marker), to commit with
    the requests arriving at the same time; `then` runs with the outcome once committed."""
    now = store.clock()
    rows = [_row(e, raw, now) for e, raw in zip(events, raws, strict=True)]
    marker = None
    if delivery is not None and not rows:
        marker = InboxEvent(
            delivery.source, "delivery", delivery.natural_key, delivery.payload, now
        )
    encode = store.inbox_writer.encode

    def finish(added: set[Key]) -> Outcome:
        duplicate_delivery = marker is not None and (marker.source, marker.natural_key) not in added
        new = sum((row.source, row.natural_key) in added for row in rows)
        outcome = Outcome(new, len(rows) - new, ignored, duplicate_delivery)
        if then is not None:
            then(outcome)
        return outcome

    return Prepared([encode(row) for row in ([*rows, marker] if marker else rows)], finish)


def receive(found: Services, sender: str, take: Take, incoming: Incoming) -> Prepared:
    """The request counted as received from `sender`, then read and checked by `take`."""
    found.metrics.received_from[sender].inc()
    return take(found, incoming)


def respond(found: Services, sender: str, take: Take, incoming: Incoming) -> Answer:
    """A webhook view's 200: the request received, the group commit stores it (returning
    once committed), `answered` counts and answers."""
    prepared = receive(found, sender, take, incoming)
    return answered(found, sender, prepared.finish(found.intake.add_new(prepared.rows)))


def answered(found: Services, sender: str, outcome: Outcome) -> Answer:
    """The answer to a committed delivery; counted (received: before `take`, ignored: by
    `take`), and when something new was stored, the hooks run (`serve` wakes its pipeline)."""
    metrics = found.metrics
    if outcome.duplicate:
        metrics.duplicates.labels(sender=sender).inc()
    if outcome.new:
        metrics.stored_from[sender].inc(outcome.new)
        for hook in found.on_stored:
            hook()
    return outcome.answer()
