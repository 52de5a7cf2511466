"""What planning works on and produces: an award's change, and the effects it causes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, get_args

from plugin.store.models import Award, AwardState, OutboxItem

ChangeEvent = Literal[
    "awarded", "approved", "rejected", "fulfilled", "revoked", "revocation_flagged"
]
CHANGE_EVENTS: tuple[str, ...] = get_args(ChangeEvent)
Target = Literal["jira", "lrs"]
Deployment = Literal["cloud", "datacenter"]

# Actions, per target. Each fits the outbox's 32-character action column.
COMMENT = "comment"  # jira: a comment on the ticket
LABEL = "label"  # jira: the label skill-applied:<skill id>
UNLABEL = "unlabel"  # jira: take that label off again (a revocation)
APPLIED = "applied"  # lrs: person performed the skill
EARNED = "earned"  # lrs: person earned the reward
VOIDED = "voided"  # lrs: void the "earned" statement of a revoked reward

# Every comment ends with this line followed by its idempotency key, so a sender can find
# a comment it posted but did not get to record (see connectors.delivery).
REF_PREFIX = "skillrelay ref "


@dataclass(frozen=True)
class AwardChange:
    """An award and what just happened to it.

    `award` is the award after the event. `previous` is the state it left, when the caller
    knows it (a revoke voids the "earned" statement only if the reward had been granted;
    unknown means "void it to be safe": voiding an id the LRS never stored is harmless).
    """

    award: Award
    event: ChangeEvent
    actor: str
    note: str | None
    at: datetime
    previous: AwardState | None = None
    cycle: int = 0  # how many times the award came back after a revocation
    # Other live awards of the same skill on the same ticket, read from the ledger in the
    # transaction that moved this one: a revocation leaves the label on for them.
    label_kept_by: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.event not in CHANGE_EVENTS:
            raise ValueError(
                f"unknown award event {self.event!r}; expected one of {', '.join(CHANGE_EVENTS)}"
            )
        if self.at.tzinfo is None:
            raise ValueError("AwardChange.at must be timezone-aware")
        if self.cycle < 0:
            raise ValueError(f"AwardChange.cycle counts returns, it cannot be {self.cycle}")


@dataclass(frozen=True)
class Effect:
    """One write to another system, queued in the outbox under `idempotency_key`."""

    idempotency_key: str
    target: str
    action: str
    payload: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_item(cls, item: OutboxItem) -> Effect:
        return cls(item.idempotency_key, item.target, item.action, dict(item.payload))

    @property
    def ref_line(self) -> str:
        """The last line of a comment this effect posts."""
        return REF_PREFIX + self.idempotency_key


def effect_key(award_id: int, event: str, target: str, action: str, cycle: int = 0) -> str:
    """Deterministic per award, event and target; `cycle` counts reinstatements, so the
    effects of an award revoked and then earned again are new effects, not repeats."""
    suffix = f"#{cycle}" if cycle else ""
    return f"{award_id}:{event}{suffix}:{target}:{action}"


class EffectSender(Protocol):
    """Delivers effects to one target. Raises plugin.errors.RetriableError to be retried
    later, FatalError / AuthError (or anything else) to dead-letter the effect. Sending the
    same effect twice must change the target once (the outbox delivers at least once)."""

    def send(self, effect: Effect) -> None: ...
