"""One notification budget per person: what may be sent now, what waits, what goes into a
digest, what is dropped and why. Pure: the caller passes the clock, the history and the
pending messages; nothing here reads a database or sends anything.

Rules, in this order, for each person:
1. opted out of the kind: dropped ("opted out");
2. inside the person's quiet hours (their own zone, DST-correct): held until they end;
3. by priority (approvals and awards before reminders), then age, each message is sent
   while both rolling windows (24 hours, 7 days) have room for it;
4. what does not fit is folded into the next digest, except a digest itself, which waits
   for room: a digest never pushes a person over the budget either.
Every message ends as sent, digested (and then sent in a digest) or dropped with a reason;
held messages are decided again on a later tick.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

DAY = timedelta(days=1)
WEEK = timedelta(days=7)

# Lower sends first when a person's budget has room for only some of what is waiting.
PRIORITY = {
    "approval_needed": 0,
    "awarded": 0,
    "revoked": 0,
    "checkin_prompt": 1,
    "checkin_overdue": 1,
    "apply_suggestion": 2,
    "sprint_invitation": 2,
    "sprint_wrapup": 3,
    "sprint_nudge": 3,
    "stalled_reminder": 4,
    "digest": 5,
}
DIGEST = "digest"
# A manager cannot opt out of what the loop waits on: an approval nobody hears of stalls it.
NEVER_OPTIONAL = frozenset({"approval_needed"})

Outcome = Literal["send", "hold", "digest", "drop"]


@dataclass(frozen=True)
class Pending:
    id: int
    person: str
    kind: str
    due_at: datetime  # when it was triggered


@dataclass(frozen=True)
class Verdict:
    id: int
    outcome: Outcome
    reason: str
    until: datetime | None = None  # for "hold": when the quiet hours end


@dataclass(frozen=True)
class Rules:
    per_day: int
    per_week: int
    quiet: tuple[time, time] | None  # local start, end; may wrap past midnight
    zones: Mapping[str, ZoneInfo]  # person -> zone
    default_zone: ZoneInfo
    opted_out: Mapping[str, frozenset[str]]  # person -> kinds

    def zone(self, person: str) -> ZoneInfo:
        return self.zones.get(person, self.default_zone)


def quiet_until(rules: Rules, person: str, now: datetime) -> datetime | None:
    """When the person's quiet hours end, if `now` is inside them; else None."""
    if rules.quiet is None:
        return None
    start, end = rules.quiet
    zone = rules.zone(person)
    local = now.astimezone(zone)
    clock = local.timetz().replace(tzinfo=None)
    inside = start <= clock < end if start < end else clock >= start or clock < end
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    # The wall-clock end in the zone; a gap (spring forward) is resolved by ZoneInfo's fold
    # rules and then normalised through UTC, so the time returned exists.
    ends = datetime.combine(day, end, zone)
    return ends.astimezone(now.tzinfo) if ends > now else now


def room(sent: Sequence[datetime], now: datetime, rules: Rules) -> bool:
    """Whether one more message now keeps both rolling windows within the budget."""
    day = sum(1 for at in sent if now - at < DAY)
    week = sum(1 for at in sent if now - at < WEEK)
    return day < rules.per_day and week < rules.per_week


def decide(
    pending: Iterable[Pending],
    sent: Mapping[str, Sequence[datetime]],
    now: datetime,
    rules: Rules,
) -> list[Verdict]:
    """A verdict for every pending message."""
    by_person: dict[str, list[Pending]] = {}
    for item in pending:
        by_person.setdefault(item.person, []).append(item)
    verdicts: list[Verdict] = []
    for person, items in by_person.items():
        verdicts += _person(person, items, list(sent.get(person, ())), now, rules)
    return verdicts


def _person(
    person: str, items: list[Pending], sent: list[datetime], now: datetime, rules: Rules
) -> list[Verdict]:
    out: list[Verdict] = []
    opted = rules.opted_out.get(person, frozenset())
    live = []
    for item in items:
        if item.kind in opted and item.kind not in NEVER_OPTIONAL:
            out.append(Verdict(item.id, "drop", f"opted out of {item.kind}"))
        else:
            live.append(item)
    until = quiet_until(rules, person, now)
    if until is not None:
        zone = rules.zone(person).key
        local = until.astimezone(rules.zone(person)).strftime("%H:%M")
        why = f"quiet hours until {local} {zone}"
        return out + [Verdict(i.id, "hold", why, until) for i in live]
    live.sort(key=lambda i: (PRIORITY.get(i.kind, 9), i.due_at, i.id))
    for item in live:
        if room(sent, now, rules):
            sent.append(now)
            out.append(Verdict(item.id, "send", "within the budget"))
        elif item.kind == DIGEST:
            out.append(Verdict(item.id, "hold", "the digest waits for room in the budget"))
        else:
            out.append(Verdict(item.id, "digest", _full(sent, now, rules)))
    return out


def _full(sent: Sequence[datetime], now: datetime, rules: Rules) -> str:
    day = sum(1 for at in sent if now - at < DAY)
    if day >= rules.per_day:
        return f"over the budget: {day} of {rules.per_day} in the last 24 hours"
    week = sum(1 for at in sent if now - at < WEEK)
    return f"over the budget: {week} of {rules.per_week} in the last 7 days"
