"""A decision: awarded, or the reason why not, with the chain of evidence behind it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from plugin.engine.evidence import evidence_of
from plugin.engine.facts import CompletionFact, TicketFact, TransitionFact, from_us

AWARDED = "awarded"
# Why not, roughly in the order the engine checks.
REOPENED = "reopened"
NO_SKILL = "no_skill"
NO_ASSIGNEE = "no_assignee"
UNMATCHED_IDENTITY = "unmatched_identity"
NOT_ASSIGNEE = "not_assignee"
EXCLUDED_RESOLUTION = "excluded_resolution"
TOO_SHORT = "too_short"
NO_COMPLETION = "no_completion"
COMPLETION_FAILED = "completion_failed"
COMPLETION_WITHDRAWN = "completion_withdrawn"
OUTSIDE_WINDOW = "outside_window"
COOLDOWN = "cooldown"
CAP = "cap"
BUDGET = "budget"
TICKET_MOVED = "ticket_moved"  # reported once for the old key when a ticket's key changes
REASONS = (
    AWARDED,
    REOPENED,
    NO_SKILL,
    NO_ASSIGNEE,
    UNMATCHED_IDENTITY,
    NOT_ASSIGNEE,
    EXCLUDED_RESOLUTION,
    TOO_SHORT,
    NO_COMPLETION,
    COMPLETION_FAILED,
    COMPLETION_WITHDRAWN,
    OUTSIDE_WINDOW,
    COOLDOWN,
    CAP,
    BUDGET,
    TICKET_MOVED,
)
Detail = tuple[tuple[str, str | int | None], ...]


@cache
def _folded(values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(v.casefold() for v in values)


@dataclass(frozen=True, slots=True)
class SkillInfo:
    """The manifest values decisions about one skill use (shared by all of them)."""

    id: str
    name: str
    reward: str
    reward_name: str
    points: int
    approval: bool
    window_days: int
    cooldown_days: int
    cap: int
    per_sprint: int | None
    per_quarter: int | None
    min_in_progress_minutes: int
    excluded_resolutions: tuple[str, ...]
    done_category: str
    zone: str

    @property
    def excluded(self) -> frozenset[str]:
        return _folded(self.excluded_resolutions)


@dataclass(frozen=True, slots=True)
class ModuleInfo:
    id: str
    title: str


@dataclass(frozen=True, slots=True)
class Decision:
    """One verdict with the facts it rests on (shared with the engine's state, not copied:
    a backfill makes a million of these). `evidence` renders them as JSON-ready data."""

    reason: str  # AWARDED or one of REASONS
    person: str | None  # manifest person id; None when unassigned or not resolved
    person_ref: str | None  # the assignee as "system:id" (how Jira names them)
    sprint: str | None  # the sprint containing t2
    skill_info: SkillInfo | None  # None: the ticket shows no skill
    done: TransitionFact  # the ticket's first entry into done (t2)
    finished: TicketFact  # the ticket as finished: its latest entry into done
    completion: CompletionFact | None = None  # the completion the decision used (t1)
    module: ModuleInfo | None = None
    matched: tuple[str, ...] = ()  # how the ticket shows the skill
    reopen: TransitionFact | None = None  # set while the ticket is out of done again
    in_progress_us: int | None = None  # time in progress before t2 (None: unknown)
    detail: Detail = ()  # what the reason needs to be explained

    @property
    def ticket(self) -> str:
        """The ticket's key when it first entered done (the ledger's key)."""
        return self.done.ticket.key

    @property
    def skill(self) -> str | None:
        return self.skill_info.id if self.skill_info else None

    @property
    def reward(self) -> str | None:
        return self.skill_info.reward if self.skill_info else None

    @property
    def points(self) -> int:
        return self.skill_info.points if self.skill_info else 0

    @property
    def approval(self) -> bool:
        """The reward waits for a manager's approval."""
        return self.skill_info.approval if self.skill_info else False

    @property
    def t1(self) -> datetime | None:
        return from_us(self.completion.at) if self.completion else None

    @property
    def t2(self) -> datetime:
        return from_us(self.done.at)

    @property
    def completion_key(self) -> str | None:
        return self.completion.key if self.completion else None

    @property
    def transition_key(self) -> str:
        return self.done.key

    @property
    def awarded(self) -> bool:
        return self.reason == AWARDED

    @property
    def key(self) -> tuple[str, str, str]:
        """(person or their unresolved ref, skill, ticket): one decision per key."""
        return (self.person or self.person_ref or "", self.skill or "", self.ticket)

    @property
    def evidence(self) -> dict[str, Any]:
        """The chain as JSON-ready data, for the ledger and the decisions table."""
        return evidence_of(self)
