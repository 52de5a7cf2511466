"""What the engine keeps per ticket, and how one candidate becomes a Decision.

A candidate is (person, skill, ticket). Only its ticket's view and, while it passes every
per-chain rule, its quota slot are stored: its verdict is recomputed when needed (a pure
function, cheaper than keeping a million of them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from plugin.engine.calendar import Calendar
from plugin.engine.decision import (
    BUDGET,
    CAP,
    COOLDOWN,
    Decision,
    Detail,
    ModuleInfo,
    SkillInfo,
)
from plugin.engine.facts import DAY_US, from_us
from plugin.engine.history import TicketHistory
from plugin.engine.quota import Key, Outcome, Slot
from plugin.engine.rules import ELIGIBLE, Pair, Verdict
from plugin.manifest.model import Manifest
from plugin.manifest.skills import Skill

CandId = tuple[str, str, str]  # (person or unresolved "system:id", skill or "", ticket id)


@dataclass(slots=True)  # never changed once built (see TicketHistory)
class TicketView(TicketHistory):
    """A ticket's history and who and what its decisions are about (one object a ticket)."""

    shown: tuple[str, ...]  # skills the ticket as finished shows
    assignee: Pair  # of the ticket as finished
    several: tuple[tuple[Pair, str], ...] | None  # the pairs, unless `assignee` x `shown`

    @property
    def pairs(self) -> tuple[tuple[Pair, str], ...]:
        """(who, skill or "") of every decision on it. Most tickets only have their
        assignee's, so those are not kept (a backfill holds hundreds of thousands)."""
        if self.several is not None:
            return self.several
        return tuple((self.assignee, skill) for skill in self.shown or ("",))


def cid_of(key: Key) -> CandId:
    """The candidate a quota slot belongs to (a slot's person is always resolved)."""
    return key[3], key[2], key[4]


def skill_info(manifest: Manifest, skill: Skill) -> SkillInfo:
    reward = manifest.reward_for(skill)
    rules = manifest.rules
    return SkillInfo(
        id=skill.id,
        name=skill.name,
        reward=reward.id,
        reward_name=reward.name,
        points=reward.points,
        approval=reward.approval,
        window_days=rules.apply_window_days,
        cooldown_days=manifest.cooldown_days(skill),
        cap=rules.max_awards_per_person_per_sprint,
        per_sprint=reward.budget.per_sprint,
        per_quarter=reward.budget.per_quarter,
        min_in_progress_minutes=rules.min_in_progress_minutes,
        excluded_resolutions=rules.excluded_resolutions,
        done_category=rules.done_status_category,
        zone=manifest.organisation.timezone,
    )


def slot_of(
    calendar: Calendar, skill: SkillInfo | None, person: str | None, view: TicketView, ticket: str
) -> Slot | None:
    """The candidate's place in the quotas (call it once the verdict is ELIGIBLE)."""
    if skill is None or person is None:
        return None
    t2 = view.t2
    return Slot(
        key=(t2, view.first_done.ticket.key, skill.id, person, ticket),
        reward=skill.reward,
        sprint=calendar.sprint(t2),
        quarter=calendar.quarter(t2),
        cooldown_us=_days_us(skill.cooldown_days),
        cap=skill.cap,
        per_sprint=skill.per_sprint,
        per_quarter=skill.per_quarter,
    )


@cache  # one int per length: a backfill has a hundred thousand slots
def _days_us(days: int) -> int:
    return days * DAY_US


def _quota_detail(outcome: Outcome, slot: Slot) -> Detail:
    reason, previous = outcome
    if reason == COOLDOWN and previous is not None:
        at = from_us(previous[0]).isoformat()
        return (("previous_ticket", previous[1]), ("previous_done", at))
    if reason == CAP:
        return (("sprint", slot.sprint),)
    if reason == BUDGET:
        return (("sprint", slot.sprint), ("quarter", slot.quarter))
    return ()


def decision_of(
    view: TicketHistory,
    pair: Pair,
    skill: SkillInfo | None,
    verdict: Verdict,
    slot: Slot | None,
    matched: tuple[str, ...],
    calendar: Calendar,
    modules: Mapping[str, ModuleInfo],
    outcome: Outcome | None = None,
) -> Decision:
    """`outcome` replaces the slot's current one (to rebuild an earlier decision)."""
    reason, detail = verdict.reason, verdict.detail
    if reason == ELIGIBLE and slot is not None:
        used = outcome or slot.outcome
        reason, detail = used[0], _quota_detail(used, slot)
    done = verdict.completion
    return Decision(
        reason=reason,
        person=pair.person,
        person_ref=pair.ref,
        sprint=calendar.sprint(view.t2),
        skill_info=skill,
        done=view.first_done,
        finished=view.latest_done.ticket,
        completion=done,
        module=modules.get(done.module) if done else None,
        matched=matched,
        reopen=view.left_done,
        in_progress_us=view.in_progress_us,
        detail=detail,
    )


def order(d: Decision) -> tuple[int, str, str, str]:
    """The canonical order of decisions: by t2, ticket key, skill, person."""
    skill = d.skill_info.id if d.skill_info else ""
    return d.done.at, d.done.ticket.key, skill, d.person or d.person_ref or ""


def _person(d: Decision) -> str:
    return d.person or d.person_ref or ""


def _skill(d: Decision) -> str:
    return d.skill_info.id if d.skill_info else ""


def _ticket(d: Decision) -> str:
    return d.done.ticket.key


def _t2(d: Decision) -> int:
    return d.done.at


def sort_all(found: list[Decision]) -> None:
    """Sort in the canonical order (see `order`), in place, one part of the key at a time
    (sorting is stable): a key tuple for each of a million decisions would be a peak."""
    for part in (_person, _skill, _ticket, _t2):
        found.sort(key=part)
