"""What the repositories return: plain frozen dataclasses, never database rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from plugin.errors import SkillrelayError

InboxStatus = Literal["new", "processed", "failed", "deferred"]
AwardState = Literal[
    "pending_approval", "approved", "fulfilled", "rejected", "revoked", "revocation_flagged"
]
OutboxStatus = Literal["pending", "in_flight", "done", "dead"]
Json = dict[str, Any]


class JsonText(str):
    """A JSON object's text exactly as a sender sent it (the bytes a signature covered):
    the inbox stores it as it is, without decoding and encoding it again, and reads it back
    as the object. The receiver has checked that it is valid, storable JSON."""


class InvalidTransition(SkillrelayError):
    """An award cannot move from its current state to the one asked for."""

    exit_code = 2


class UnknownAward(SkillrelayError):
    exit_code = 2


@dataclass(frozen=True)
class InboxEvent:
    """One event to store in the inbox (what add/add_many take).

    payload and raw must be JSON-ready (e.g. a pydantic model_dump(mode="json")), or JSON
    text already (JsonText: raw as received, a payload serialised by pydantic).
    """

    source: str
    kind: str
    natural_key: str
    payload: Json | JsonText
    received_at: datetime
    raw: Json | JsonText | None = None


@dataclass(frozen=True)
class InboxItem:
    id: int
    source: str
    kind: str
    natural_key: str
    payload: Json
    raw: Json | None
    received_at: datetime
    status: InboxStatus
    attempts: int
    processed_at: datetime | None
    error: str | None


@dataclass(frozen=True, slots=True)
class ClaimedItem:
    """An inbox item leased to a worker (Inbox.claim): its payload as the stored JSON text,
    which the pipeline validates straight into an event (decoding it to a dict first cost
    about as much again), and without what was delivered (raw)."""

    id: int
    source: str
    kind: str
    natural_key: str
    payload: str  # JSON
    received_at: datetime
    status: InboxStatus
    attempts: int


@dataclass(frozen=True)
class Decision:
    id: int
    inbox_id: int | None
    person_id: str | None
    skill_id: str | None
    ticket_key: str | None
    outcome: str
    detail: Json | None
    decided_at: datetime


@dataclass(frozen=True)
class NewAward:
    """An award the engine decided on; the store adds its id and timestamps."""

    person_id: str
    skill_id: str
    ticket_key: str
    reward_id: str
    points: int
    state: AwardState
    ticket_done_at: datetime
    sprint_id: str | None = None
    completion_key: str | None = None
    evidence: Json = field(default_factory=dict)


@dataclass(frozen=True)
class Award:
    id: int
    person_id: str
    skill_id: str
    ticket_key: str
    reward_id: str
    sprint_id: str | None
    points: int
    state: AwardState
    completion_key: str | None
    ticket_done_at: datetime
    created_at: datetime
    updated_at: datetime
    evidence: Json | None


@dataclass(frozen=True)
class AwardEvent:
    id: int
    award_id: int
    from_state: AwardState | None
    to_state: AwardState
    actor: str
    note: str | None
    at: datetime


@dataclass(frozen=True)
class OutboxItem:
    id: int
    idempotency_key: str
    target: str
    action: str
    payload: Json
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    claimed_by: str | None
    claimed_until: datetime | None


@dataclass(frozen=True)
class Backlog:
    """Outbox work not yet done, for health checks and metrics."""

    pending: int
    in_flight: int
    dead: int
    oldest_due: datetime | None


@dataclass(frozen=True)
class Identity:
    system: str
    external_id: str
    person_id: str | None
    email: str | None
    display_name: str | None
    first_seen: datetime
    last_seen: datetime
    mapped_at: datetime | None = None
