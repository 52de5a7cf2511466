"""The report's figures, computed from the activity, the ledger and the scope.

Learning counts when it happened in the period; an application is a done ticket showing the
skill, done by the person after their first completion of it, within the apply window and
the period. Awards count by the day their ticket was done, as the budgets do.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from plugin.engine.facts import DAY_US, from_us, to_us
from plugin.manifest import Manifest
from plugin.report import stats
from plugin.report.facts import Activity, Learning, Work
from plugin.report.scope import Scope
from plugin.store import Award
from plugin.store.ledger import COUNTED_STATES
from plugin.store.notices import CheckIn

MIN_PEOPLE = 10  # fewer people than this behind a figure: labelled a small sample
MIN_TICKETS = 30
BUG_TYPES = frozenset(("bug", "defect", "ошибка", "баг"))
STAGES = ("invited", "started", "completed", "applied", "awarded")


@dataclass(frozen=True)
class Stage:
    name: str
    people: int
    of_previous: float | None
    of_first: float | None


@dataclass(frozen=True)
class Funnel:
    skill: str
    stages: tuple[Stage, ...]
    awards_by_state: dict[str, int]


@dataclass(frozen=True)
class Row:
    """One skill's funnel counts for one team or sprint."""

    by: str  # "team" | "sprint"
    id: str
    skill: str
    invited: int
    completed: int
    applied: int
    awarded: int


@dataclass(frozen=True)
class Delay:
    skill: str
    people: int
    days: tuple[float, ...]
    median: float | None
    p75: float | None
    p90: float | None


@dataclass(frozen=True)
class Side:
    people: int
    tickets: int
    cycle_days: stats.Estimate  # median over people of their median cycle time
    reopen_rate: stats.Estimate
    bug_share: stats.Estimate


@dataclass(frozen=True)
class Group:
    name: str  # "completed" | "comparison"
    people: int
    before: Side
    after: Side
    paired: int  # people with timed tickets on both sides
    change: stats.Estimate  # typical relative change of a person's cycle time


@dataclass(frozen=True)
class Comparison:
    skill: str
    weeks: int
    completed: Group
    comparison: Group | None
    difference: stats.Estimate  # completers' change minus the comparison's, relative
    small_sample: bool


@dataclass(frozen=True)
class RewardUse:
    reward: str
    sprint: str
    budget: int | None
    used: int
    by_day: tuple[tuple[date, int], ...]  # cumulative use per day of the sprint


@dataclass(frozen=True)
class Waiting:
    count: int
    median_days: float | None
    oldest_days: float | None


@dataclass(frozen=True)
class ModuleUse:
    skill: str
    module: str
    title: str
    minutes: int
    started: int
    completed: int
    median_days_to_complete: float | None


@dataclass(frozen=True)
class Report:
    scope: Scope
    generated: datetime
    people: int
    funnels: tuple[Funnel, ...]
    breakdown: tuple[Row, ...]
    delays: tuple[Delay, ...]
    comparisons: tuple[Comparison, ...]
    rewards: tuple[RewardUse, ...]
    waiting: Waiting
    modules: tuple[ModuleUse, ...]
    notes: tuple[str, ...] = field(default=())  # why parts are empty
    checkins: tuple[int, int] = (0, 0)  # awards with a check-in recorded, asked for
    skill_names: dict[str, str] = field(default_factory=dict)
    reward_names: dict[str, str] = field(default_factory=dict)


def _within(at: int | None, start: int | None, end: int | None) -> bool:
    return at is not None and (start is None or at >= start) and (end is None or at < end)


@dataclass
class _Index:
    """The activity, per person and skill, limited to the scope's people."""

    first: dict[tuple[str, str], int]  # first completion of any of the skill's modules
    live: set[tuple[str, str]]  # learning that was under way in the period
    work: dict[tuple[str, str], list[Work]]


def _index(activity: Activity, scope: Scope, start: int | None, end: int | None) -> _Index:
    index = _Index({}, set(), defaultdict(list))
    for entry in activity.learning.values():
        if entry.person not in scope.people or entry.skill not in scope.skills:
            continue
        pair = (entry.person, entry.skill)
        if entry.completed is not None:
            index.first[pair] = min(index.first.get(pair, entry.completed), entry.completed)
        if (end is None or entry.started < end) and (
            entry.completed is None or start is None or entry.completed >= start
        ):
            index.live.add(pair)
    for work in activity.work:
        if work.person in scope.people:
            for skill in work.skills:
                index.work[work.person, skill].append(work)
    return index


def _applied(index: _Index, pair: tuple[str, str], window: int, end: int | None) -> Work | None:
    first = index.first[pair]
    done = [
        w
        for w in index.work.get(pair, ())
        if w.done is not None
        and first <= w.done <= first + window
        and (end is None or w.done < end)
    ]
    return min(done, key=lambda w: w.done or 0, default=None)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _funnel_counts(
    index: _Index,
    people: Iterable[str],
    skill: str,
    awarded: set[tuple[str, str]],
    span: tuple[int | None, int | None, int],
) -> tuple[int, int, int, int, int]:
    start, end, window = span
    invited = started = completed = applied = got = 0
    for person in people:
        pair = (person, skill)
        invited += 1
        started += pair in index.live
        if pair in index.first and _within(index.first[pair], start, end):
            completed += 1
            applied += _applied(index, pair, window, end) is not None
        got += pair in awarded
    return invited, started, completed, applied, got


def _stages(counts: Sequence[int]) -> tuple[Stage, ...]:
    out = []
    for i, (name, n) in enumerate(zip(STAGES, counts, strict=True)):
        previous = counts[i - 1] if i else None
        out.append(
            Stage(
                name, n, _rate(n, previous) if previous is not None else None, _rate(n, counts[0])
            )
        )
    return tuple(out)


def _side(works: dict[str, list[Work]]) -> Side:
    cycles, reopened, bugs, totals = [], [], [], []
    for items in works.values():
        timed = [w.cycle / DAY_US for w in items if w.cycle is not None]
        if timed:
            cycles.append(statistics.median(timed))
        reopened.append(sum(w.reopened for w in items))
        bugs.append(sum((w.issue_type or "").casefold() in BUG_TYPES for w in items))
        totals.append(len(items))
    return Side(
        people=len(works),
        tickets=sum(totals),
        cycle_days=stats.median(cycles),
        reopen_rate=stats.rate(reopened, totals),
        bug_share=stats.rate(bugs, totals),
    )


def _group(
    name: str, splits: dict[str, int], index: _Index, skill: str, span: int
) -> tuple[Group, list[float]]:
    before: dict[str, list[Work]] = {}
    after: dict[str, list[Work]] = {}
    logs: list[float] = []
    for person, split in splits.items():
        done = [w for w in index.work.get((person, skill), ()) if w.done is not None]
        b = [w for w in done if split - span <= (w.done or 0) < split]
        a = [w for w in done if split <= (w.done or 0) < split + span]
        if b:
            before[person] = b
        if a:
            after[person] = a
        tb = [w.cycle for w in b if w.cycle]
        ta = [w.cycle for w in a if w.cycle]
        if tb and ta:
            logs.append(math.log(statistics.median(ta)) - math.log(statistics.median(tb)))
    group = Group(name, len(splits), _side(before), _side(after), len(logs), stats.change(logs))
    return group, logs


def _comparison(
    index: _Index, scope: Scope, skill: str, start: int | None, end: int | None
) -> Comparison | None:
    span = scope.weeks * 7 * DAY_US
    splits = {
        person: at
        for (person, s), at in index.first.items()
        if s == skill and _within(at, start, end)
    }
    if not splits:
        return None
    done, logs = _group("completed", splits, index, skill, span)
    ordered = sorted(splits.values())
    pseudo = ordered[len(ordered) // 2]  # the others are split at the completers' median date
    others = {
        person: pseudo
        for (person, s) in index.work
        if s == skill and (person, skill) not in index.first
    }
    other: Group | None = None
    difference = stats.NONE
    if others:
        other, other_logs = _group("comparison", others, index, skill, span)
        difference = stats.difference(logs, other_logs)
    small = (
        any(
            g.paired < MIN_PEOPLE or g.before.tickets + g.after.tickets < MIN_TICKETS
            for g in (done, other)
            if g is not None
        )
        or other is None
    )
    return Comparison(skill, scope.weeks, done, other, difference, small)


def _rewards(manifest: Manifest, awards: Sequence[Award], scope: Scope) -> tuple[RewardUse, ...]:
    sprints = (
        [scope.sprint]
        if scope.sprint
        else [
            s
            for s in manifest.sprints
            if (scope.start is None or s.end > scope.start)
            and (scope.end is None or s.start < scope.end)
        ]
    )
    zone = manifest.organisation.zone
    out = []
    for sprint in sprints:
        used = [a for a in awards if a.sprint_id == sprint.id and a.state in COUNTED_STATES]
        for reward in manifest.rewards:
            mine = [a for a in used if a.reward_id == reward.id]
            if not mine and reward.budget.per_sprint is None:
                continue
            per_day = Counter(a.ticket_done_at.astimezone(zone).date() for a in mine)
            total, curve = 0, []
            for n in range(sprint.length_days):
                day = sprint.start + timedelta(days=n)
                total += per_day.get(day, 0)
                curve.append((day, total))
            out.append(
                RewardUse(reward.id, sprint.id, reward.budget.per_sprint, len(mine), tuple(curve))
            )
    return tuple(out)


def _checkins(checkins: Sequence[CheckIn], awards: set[int]) -> tuple[int, int]:
    asked = {c.award_id for c in checkins if c.award_id in awards}
    done = {c.award_id for c in checkins if c.award_id in asked and c.done_at is not None}
    return len(done), len(asked)


def _waiting(awards: Sequence[Award], now: datetime) -> Waiting:
    ages = sorted(
        max(0.0, (now - a.created_at).total_seconds() / 86400)
        for a in awards
        if a.state == "pending_approval"
    )
    if not ages:
        return Waiting(0, None, None)
    return Waiting(len(ages), stats.quantiles(ages, [0.5])[0], ages[-1])


def _modules(
    activity: Activity, manifest: Manifest, scope: Scope, start: int | None, end: int | None
) -> tuple[ModuleUse, ...]:
    per: dict[str, list[Learning]] = defaultdict(list)
    for entry in activity.learning.values():
        if entry.person in scope.people and (end is None or entry.started < end):
            per[entry.module].append(entry)
    out = []
    for skill in manifest.skills:
        if skill.id not in scope.skills:
            continue
        for module in skill.modules:
            entries = per.get(module.id, [])
            done = [e for e in entries if _within(e.completed, start, end)]
            days = [((e.completed or 0) - e.started) / DAY_US for e in done]
            out.append(
                ModuleUse(
                    skill.id,
                    module.id,
                    module.title,
                    module.minutes,
                    len(
                        [
                            e
                            for e in entries
                            if e.completed is None or start is None or e.completed >= start
                        ]
                    ),
                    len(done),
                    stats.quantiles(days, [0.5])[0],
                )
            )
    return tuple(out)


def build(
    activity: Activity,
    awards: Sequence[Award],
    manifest: Manifest,
    scope: Scope,
    now: datetime,
    checkins: Sequence[CheckIn] = (),
) -> Report:
    start, end = scope.bounds(manifest)
    window = manifest.rules.apply_window_days * DAY_US
    index = _index(activity, scope, start, end)
    mine = [
        a
        for a in awards
        if a.person_id in scope.people
        and a.skill_id in scope.skills
        and _within(to_us(a.ticket_done_at), start, end)
    ]
    awarded = {(a.person_id, a.skill_id) for a in mine if a.state in COUNTED_STATES}
    span = (start, end, window)
    funnels, rows, delays, comparisons = [], [], [], []
    for skill in scope.skills:
        counts = _funnel_counts(index, sorted(scope.people), skill, awarded, span)
        states = Counter(a.state for a in mine if a.skill_id == skill)
        funnels.append(Funnel(skill, _stages(counts), dict(sorted(states.items()))))
        rows += _breakdown(manifest, scope, index, skill, awarded, span)
        days = []
        for pair, first in index.first.items():
            if pair[1] == skill and _within(first, start, end):
                found = _applied(index, pair, window, end)
                if found is not None and found.done is not None:
                    days.append((found.done - first) / DAY_US)
        q = stats.quantiles(days, [0.5, 0.75, 0.9])
        delays.append(Delay(skill, len(days), tuple(sorted(days)), q[0], q[1], q[2]))
        found_comparison = _comparison(index, scope, skill, start, end)
        if found_comparison is not None:
            comparisons.append(found_comparison)
    notes = []
    if not any(f.stages[1].people for f in funnels) and not activity.work:
        notes.append("no learning or ticket activity in this period and scope")
    return Report(
        scope=scope,
        generated=now,
        people=len(scope.people),
        funnels=tuple(funnels),
        breakdown=tuple(rows),
        delays=tuple(delays),
        comparisons=tuple(comparisons),
        rewards=_rewards(manifest, awards, scope),
        waiting=_waiting([a for a in awards if a.person_id in scope.people], now),
        checkins=_checkins(checkins, {a.id for a in mine}),
        modules=_modules(activity, manifest, scope, start, end),
        notes=tuple(notes),
        skill_names={s.id: s.name for s in manifest.skills},
        reward_names={r.id: r.name for r in manifest.rewards},
    )


def _breakdown(
    manifest: Manifest,
    scope: Scope,
    index: _Index,
    skill: str,
    awarded: set[tuple[str, str]],
    span: tuple[int | None, int | None, int],
) -> list[Row]:
    rows = []
    groups: list[tuple[str, str, frozenset[str]]] = [
        ("team", t.id, frozenset(t.members) & scope.people) for t in manifest.teams
    ]
    for sprint in manifest.sprints:
        begin = to_us(
            datetime.combine(sprint.start, datetime.min.time(), manifest.organisation.zone)
        )
        finish = to_us(
            datetime.combine(sprint.end, datetime.min.time(), manifest.organisation.zone)
        )
        if (span[1] is None or begin < span[1]) and (span[0] is None or finish > span[0]):
            groups.append(("sprint", sprint.id, manifest.sprint_people(sprint) & scope.people))
    for by, ident, people in groups:
        if not people:
            continue
        invited, _, completed, applied, got = _funnel_counts(
            index, sorted(people), skill, awarded, span
        )
        rows.append(Row(by, ident, skill, invited, completed, applied, got))
    return rows


def day_of(us: int, manifest: Manifest) -> date:
    return from_us(us).astimezone(manifest.organisation.zone).date()
