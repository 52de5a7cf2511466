"""The per-chain rules: may this person get this skill's reward for this ticket at all?

A pure function of the ticket's history, the person's completions and the skill's rules.
What it cannot see (cooldown, cap, budget) depends on other awards: see quota.py. Checks run
in a fixed order and the first that fails names the reason, ticket facts first, so a
ticket's own problem is reported the same way whatever the person has learned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from plugin.engine import decision as r
from plugin.engine.decision import Detail, SkillInfo
from plugin.engine.facts import DAY_US, MINUTE_US, CompletionFact
from plugin.engine.history import Completions, TicketHistory

ELIGIBLE = ""  # passed every per-chain rule; the quotas decide


@dataclass(slots=True)  # never changed once built; plain slots are 10x cheaper to build
class Verdict:
    reason: str  # ELIGIBLE or a reason code
    completion: CompletionFact | None = None
    detail: Detail = ()


@dataclass(frozen=True, slots=True)
class Pair:
    """Who a decision is about: a resolved person id, or an assignee nobody claims yet."""

    person: str | None
    ref: str | None  # "system:id"; None when the ticket had no assignee
    key: str = field(init=False, compare=False)  # person, else ref, else ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", self.person or self.ref or "")


# Verdicts without facts, shared (a backfill judges a million candidates).
NO_SKILL = Verdict(r.NO_SKILL)
REOPENED = Verdict(r.REOPENED)
NO_ASSIGNEE = Verdict(r.NO_ASSIGNEE)
TOO_SHORT = Verdict(r.TOO_SHORT)
NO_COMPLETION = Verdict(r.NO_COMPLETION)


def judge(
    skill: SkillInfo | None,
    pair: Pair,
    history: TicketHistory,
    assignee: Pair,
    shown: bool,
    learned: Callable[[], Completions | None],
) -> Verdict:
    """`assignee` and `shown` describe the ticket as finished (its latest entry into done);
    `learned` gives the person's completions of the skill, asked only when needed."""
    if skill is None:
        return NO_SKILL
    if history.left_done is not None:
        return REOPENED
    if not shown:
        return NO_SKILL
    if assignee.ref is None:
        return NO_ASSIGNEE
    if pair.key != assignee.key:
        return Verdict(r.NOT_ASSIGNEE, detail=(("assignee", assignee.key),))
    if pair.person is None:
        return Verdict(r.UNMATCHED_IDENTITY, detail=(("assignee", pair.ref),))
    ticket = history.latest_done.ticket
    if ticket.resolution and ticket.resolution.casefold() in skill.excluded:
        return _excluded(ticket.resolution)
    minimum = skill.min_in_progress_minutes
    spent = history.in_progress_us
    if minimum and (spent is None or spent < minimum * MINUTE_US):
        return TOO_SHORT
    return _completion(skill, history.t2, learned())


@cache  # one verdict per resolution: decisions keep their detail
def _excluded(resolution: str) -> Verdict:
    return Verdict(r.EXCLUDED_RESOLUTION, detail=(("resolution", resolution),))


def _completion(skill: SkillInfo, t2: int, learned: Completions | None) -> Verdict:
    """The latest counting completion at or before t2 must be inside the window."""
    if learned is None:
        return NO_COMPLETION
    window = skill.window_days * DAY_US
    after, best = learned.latest_valid(t2)
    if best is not None and t2 - best.at <= window:
        return Verdict(ELIGIBLE, best)
    withdrawn = learned.latest_withdrawn(t2)
    if withdrawn is not None and t2 - withdrawn.at <= window:
        return Verdict(r.COMPLETION_WITHDRAWN, withdrawn)
    if best is not None:
        return Verdict(r.OUTSIDE_WINDOW, best, (("when", "done_too_late"),))
    if after < len(learned.valid):
        return Verdict(r.OUTSIDE_WINDOW, learned.valid[after], (("when", "completed_after"),))
    if learned.withdrawn:
        return Verdict(r.COMPLETION_WITHDRAWN, withdrawn or learned.withdrawn[0])
    if learned.failed is not None:
        return Verdict(r.COMPLETION_FAILED, learned.failed)
    return NO_COMPLETION
