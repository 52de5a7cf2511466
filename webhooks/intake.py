"""The steps every sender's view shares: read the body, decode JSON, store in the inbox.

Storing happens in one transaction before the view answers 2xx, so an acknowledged event is
durable. Duplicates are a normal outcome (the inbox's unique natural key), not an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
from flask import Request, Response

from plugin.ports import Event
from plugin.store import InboxEvent, Store
from plugin.store.group_commit import GroupCommit
from plugin.store.intake import Encoded
from plugin.store.models import Json, JsonText
from webhooks.door import decode
from webhooks.errors import UnsupportedMediaType

JSON_TYPE = "application/json"


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

    def body(self) -> dict[str, Any]:
        status = self.status
        return {
            "status": status,
            "events": self.new,
            "duplicates": self.duplicates,
            "ignored": self.ignored,
        }

    def response(self) -> Response:
        """The 200 answer: the body, encoded without Flask's JSON provider (per request)."""
        return Response(msgspec.json.encode(self.body()), 200, mimetype=JSON_TYPE)


def _row(event: Event, raw: Json | JsonText | None, now: datetime) -> InboxEvent:
    """The event's inbox row, its payload serialised by pydantic straight to JSON text (as
    `inbox_event` stores it, without a dict to encode again)."""
    payload = JsonText(event.model_dump_json())
    return InboxEvent(event.source, event.kind, event.natural_key, payload, now, raw)


def raw_body(request: Request) -> bytes:
    """The exact bytes sent (signatures cover them); 413 past MAX_CONTENT_LENGTH."""
    return request.get_data(cache=True)


def json_body(request: Request, body: bytes) -> Any:
    """The decoded JSON body: 415 unless it is application/json, 400 unless it parses and
    could be stored (webhooks.door)."""
    if request.mimetype != JSON_TYPE:
        given = request.mimetype or "none"
        raise UnsupportedMediaType(f"Content-Type: expected {JSON_TYPE}, got {given}")
    return decode(body)


def store_events(
    store: Store,
    intake: GroupCommit[Encoded],
    events: Sequence[Event],
    raws: Sequence[Json | JsonText | None],
    *,
    ignored: int = 0,
    delivery: Delivery | None = None,
) -> Outcome:
    """Store the events (or, when there are none, the delivery marker) in the group commit
    of the requests arriving at the same time; returns once they are committed."""
    now = store.clock()
    rows = [_row(e, raw, now) for e, raw in zip(events, raws, strict=True)]
    marker = None
    if delivery is not None and not rows:
        marker = InboxEvent(
            delivery.source, "delivery", delivery.natural_key, delivery.payload, now
        )
    encode = store.inbox_writer.encode
    added = intake.add_new([encode(row) for row in ([*rows, marker] if marker else rows)])
    duplicate_delivery = marker is not None and (marker.source, marker.natural_key) not in added
    new = sum((row.source, row.natural_key) in added for row in rows)
    duplicates = len(rows) - new
    return Outcome(new, duplicates, ignored, duplicate_delivery)
