"""Decisions in plain words: the chain of evidence, then the verdict."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import tzinfo

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
    detail = dict(c.detail)
    why = {
        r.REOPENED: f"the ticket was reopened on {_when(c.reopen.at, zone)}"
        if c.reopen
        else "the ticket was reopened",
        r.NO_SKILL: f"the ticket no longer shows skill {d.skill}"
        if d.skill
        else "the ticket shows no skill",
        r.NO_ASSIGNEE: "the ticket has no assignee",
        r.UNMATCHED_IDENTITY: f"the assignee {d.person_ref} is not mapped to a person",
        r.NOT_ASSIGNEE: f"{who} is not the assignee ({detail.get('assignee') or 'nobody'})",
        r.EXCLUDED_RESOLUTION: f"its resolution '{detail.get('resolution')}' is excluded",
        r.TOO_SHORT: _too_short(d),
        r.NO_COMPLETION: f"{who} has not completed a module teaching {d.skill}",
        r.COMPLETION_FAILED: "the module was failed, not passed",
        r.COMPLETION_WITHDRAWN: "the completion was withdrawn (marked incomplete later)",
        r.OUTSIDE_WINDOW: "the ticket was not done inside the window",
        r.COOLDOWN: f"{d.skill} was awarded to {who} for {detail.get('previous_ticket')} "
        f"less than {s.cooldown_days if s else 0} days earlier (cooldown)",
        r.CAP: f"{who} already has {s.cap if s else 0} awards in sprint {detail.get('sprint')}",
        r.TICKET_MOVED: f"the ticket is now known as {detail.get('moved_to')}",
        r.BUDGET: f"the budget for '{s.reward_name if s else d.reward}' is spent ({_budget(d)})",
    }
    return f"not awarded: {why.get(d.reason, d.reason)}"


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
