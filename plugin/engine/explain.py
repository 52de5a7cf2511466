"""Decisions in plain words: the chain of evidence, then the verdict."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Iterable
from datetime import tzinfo
from typing import Any

from plugin.engine import decision as r
from plugin.engine.decision import Decision
from plugin.engine.facts import DAY_US, MINUTE_US, from_us
from plugin.times import shown

VERBS = {"complete": "completed", "passed": "passed", "failed": "failed", "incomplete": "reset"}


def explain(decisions: Iterable[Decision]) -> list[str]:
    return [explain_one(d) for d in decisions]


def explain_one(d: Decision) -> str:
    c = d
    zone = zoneinfo.ZoneInfo(c.skill_info.zone) if c.skill_info else None
    who = d.person or d.person_ref or "nobody"

    def when(us: int) -> str:
        return _when(us, zone)

    parts: list[str] = []
    done = c.completion
    if done is not None:
        title = c.module.title if c.module else done.module
        parts.append(f"{who} {VERBS[done.state]} '{title}' ({done.source}, {when(done.at)})")
    t = c.finished
    ticket = f"{d.ticket} '{t.summary}'" if t.summary else t.key
    if c.matched:
        ticket += f" showed skill {d.skill} ({', '.join(c.matched)}) and"
    # The snapshot at that move may be a later state (search results carry today's status).
    at_done = c.done.ticket
    status = at_done.status if at_done.status and at_done.status_category == "done" else "done"
    ticket += f" entered {status} on {when(c.done.at)}"
    if d.person and d.reason not in (r.NOT_ASSIGNEE, r.NO_ASSIGNEE):
        ticket += f" with {who} as assignee"
    parts.append(ticket)
    if done is not None and c.skill_info is not None and d.reason != r.COMPLETION_FAILED:
        gap = c.done.at - done.at
        if gap < 0:
            parts.append(f"the module was completed {_days(-gap)} after the ticket was done")
        else:
            inside = "inside" if gap <= c.skill_info.window_days * DAY_US else "outside"
            window = f"{c.skill_info.window_days}-day window"
            parts.append(f"{_days(gap)} after the module, {inside} the {window}")
    parts.append(_verdict(d, who, zone))
    return " — ".join(parts)


def _when(us: int, zone: tzinfo | None) -> str:
    return shown(from_us(us), zone)


def _days(us: int) -> str:
    days = us // DAY_US
    if days == 0:
        return "less than a day"
    return "1 day" if days == 1 else f"{days} days"


def _verdict(d: Decision, who: str, zone: tzinfo | None) -> str:
    c = d
    s = c.skill_info
    if d.awarded and s is not None:
        approval = " (needs manager approval)" if s.approval else ""
        return f"awarded '{s.reward_name}'{approval}"
    because = _WHY.get(d.reason)
    if because is None:
        return f"not awarded: {d.reason}"
    return f"not awarded: {because(d, who, zone, dict(c.detail))}"


def _reopened(d: Decision, who: str, zone: tzinfo | None, detail: dict[str, Any]) -> str:
    if d.reopen:
        return f"the ticket was reopened on {_when(d.reopen.at, zone)}"
    return "the ticket was reopened"


def _cooldown(d: Decision, who: str, zone: tzinfo | None, detail: dict[str, Any]) -> str:
    days = d.skill_info.cooldown_days if d.skill_info else 0
    return (
        f"{d.skill} was awarded to {who} for {detail.get('previous_ticket')} "
        f"less than {days} days earlier (cooldown)"
    )


def _cap(d: Decision, who: str, zone: tzinfo | None, detail: dict[str, Any]) -> str:
    cap = d.skill_info.cap if d.skill_info else 0
    return f"{who} already has {cap} awards in sprint {detail.get('sprint')}"


def _spent(d: Decision, who: str, zone: tzinfo | None, detail: dict[str, Any]) -> str:
    reward = d.skill_info.reward_name if d.skill_info else d.reward
    return f"the budget for '{reward}' is spent ({_budget(d)})"


# Why a verdict is not an award, by reason: each text is built only for its own reason (the
# decisions log explains every verdict, so building all of them each time was a cost).
_WHY: dict[str, Callable[[Decision, str, tzinfo | None, dict[str, Any]], str]] = {
    r.REOPENED: _reopened,
    r.NO_SKILL: lambda d, who, zone, detail: (
        f"the ticket no longer shows skill {d.skill}" if d.skill else "the ticket shows no skill"
    ),
    r.NO_ASSIGNEE: lambda d, who, zone, detail: "the ticket has no assignee",
    r.UNMATCHED_IDENTITY: lambda d, who, zone, detail: (
        f"the assignee {d.person_ref} is not mapped to a person"
    ),
    r.NOT_ASSIGNEE: lambda d, who, zone, detail: (
        f"{who} is not the assignee ({detail.get('assignee') or 'nobody'})"
    ),
    r.EXCLUDED_RESOLUTION: lambda d, who, zone, detail: (
        f"its resolution '{detail.get('resolution')}' is excluded"
    ),
    r.TOO_SHORT: lambda d, who, zone, detail: _too_short(d),
    r.NO_COMPLETION: lambda d, who, zone, detail: (
        f"{who} has not completed a module teaching {d.skill}"
    ),
    r.COMPLETION_FAILED: lambda d, who, zone, detail: "the module was failed, not passed",
    r.COMPLETION_WITHDRAWN: lambda d, who, zone, detail: (
        "the completion was withdrawn (marked incomplete later)"
    ),
    r.OUTSIDE_WINDOW: lambda d, who, zone, detail: "the ticket was not done inside the window",
    r.COOLDOWN: _cooldown,
    r.CAP: _cap,
    r.TICKET_MOVED: lambda d, who, zone, detail: (
        f"the ticket is now known as {detail.get('moved_to')}"
    ),
    r.BUDGET: _spent,
}


def _too_short(d: Decision) -> str:
    c = d
    minimum = c.skill_info.min_in_progress_minutes if c.skill_info else 0
    if c.in_progress_us is None:
        return f"no time in progress was recorded ({minimum} minutes required)"
    spent = c.in_progress_us // MINUTE_US
    return f"it was in progress for {spent} minutes, less than the {minimum} required"


def _budget(d: Decision) -> str:
    s = d.skill_info
    detail = dict(d.detail)
    found = []
    if s and s.per_sprint and detail.get("sprint"):
        found.append(f"{s.per_sprint} per sprint, {detail['sprint']}")
    if s and s.per_quarter:
        found.append(f"{s.per_quarter} per quarter, {detail.get('quarter')}")
    return "; ".join(found)
