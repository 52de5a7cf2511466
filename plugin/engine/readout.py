"""Decisions out of the engine's state: every one, the awards, and what a change changed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from plugin.engine.calendar import Calendar
from plugin.engine.cands import cid_of, decision_of, order, sort_all
from plugin.engine.change import Change, paused_gc
from plugin.engine.decision import (
    AWARDED,
    TICKET_MOVED,
    UNMATCHED_IDENTITY,
    Decision,
    ModuleInfo,
    SkillInfo,
)
from plugin.engine.history import TicketHistory
from plugin.engine.rules import ELIGIBLE, Verdict
from plugin.engine.tickets import Tickets


def every_decision(t: Tickets) -> list[Decision]:
    with paused_gc():
        found = []
        for ticket, view in t.views.items():
            matched = t.matcher.shown(view.latest_done.ticket) if view.shown else {}
            for pair, skill in view.pairs:
                found.append(t.decide(ticket, view, pair, skill, matched.get(skill, ())))
        sort_all(found)
    return found


def awards(t: Tickets) -> list[Decision]:
    slots = t.quotas.slots.items()
    found = (t.owner(k) for k, s in slots if s.outcome[0] == AWARDED)
    return sorted((d for d in found if d is not None), key=order)


def batch_decisions(
    change: Change,
    skills: Mapping[str, SkillInfo],
    calendar: Calendar,
    modules: Mapping[str, ModuleInfo],
) -> list[Decision]:
    """The decisions of a batch once its quotas are judged: each one waiting for its quota
    outcome is replaced by its decision in place, so both never fill memory at once."""
    found: list[Any] = change.decisions or []
    change.decisions = None
    with paused_gc():
        for i, item in enumerate(found):
            if type(item) is tuple:
                first, latest, spent, pair, completion, slot, matched = item
                view = TicketHistory(first, latest, None, spent)  # eligible: not reopened
                verdict = Verdict(ELIGIBLE, completion)
                info = skills.get(slot.key[2])
                found[i] = decision_of(view, pair, info, verdict, slot, matched, calendar, modules)
        sort_all(found)
    return found


def settle(t: Tickets, change: Change) -> list[Decision]:
    """Run the quotas over the change; the decisions whose outcome it changed."""
    for key, outcome in t.quotas.update(change.removed, change.added.values()).items():
        cid = cid_of(key)
        if cid not in change.before:
            change.before[cid] = t.decision(cid, outcome)
    out: list[Decision] = []
    for cid, before in change.before.items():
        after = t.decision(cid)
        if before is not None and (after is None or after.key != before.key):
            out.append(_gone(before, after))
        if after is not None and after != before:
            out.append(after)
    return sorted(out, key=order)


def _gone(before: Decision, after: Decision | None) -> Decision:
    """The last word on a decision key that no longer exists: its assignee is someone else
    now (identities changed), or a late, older event gave the ticket another key."""
    if after is None:
        return replace(before, reason=UNMATCHED_IDENTITY)
    return replace(before, reason=TICKET_MOVED, detail=(("moved_to", after.ticket),))
