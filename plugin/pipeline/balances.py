"""Points per person and budget use per reward, read from the ledger.

Periods are local to the organisation, like the engine's: a sprint runs from its first
day's midnight to the midnight after its last day, a quarter is a calendar quarter, and an
award counts in the period its ticket was first done in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from plugin.errors import ConfigError
from plugin.manifest import Manifest, Sprint
from plugin.store import Store


@dataclass(frozen=True)
class BudgetUse:
    reward_id: str
    reward_name: str
    period: str  # "sprint 2026-11-a" or "quarter 2026-Q4"
    used: int  # awards not rejected or revoked
    limit: int


def midnight(zone: ZoneInfo, day: date) -> datetime:
    """The start of a local day, in UTC."""
    return datetime.combine(day, time(), zone).astimezone(UTC)


def today_in(manifest: Manifest, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(manifest.organisation.zone).date()


def quarter(day: date) -> tuple[str, date, date]:
    """(label, first day, first day of the next quarter)."""
    first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    following = date(first.year + (first.month == 10), (first.month + 2) % 12 + 1, 1)
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}", first, following


def find_sprint(manifest: Manifest, sprint_id: str) -> Sprint:
    for sprint in manifest.sprints:
        if sprint.id == sprint_id:
            return sprint
    valid = ", ".join(s.id for s in manifest.sprints) or "none: the manifest has no sprints"
    raise ConfigError(f"unknown sprint {sprint_id!r}; valid ids: {valid}")


def current_sprint(manifest: Manifest, today: date) -> Sprint | None:
    """The sprint containing today, else the latest that has started, else the next one."""
    found = manifest.sprint_on(today)
    if found is not None:
        return found
    started = [s for s in manifest.sprints if s.start <= today]
    if started:
        return max(started, key=lambda s: s.start)
    return min(manifest.sprints, key=lambda s: s.start, default=None)


def points(store: Store, sprint_id: str | None = None) -> list[tuple[str, int]]:
    """(person, points) earned, most first: approved, fulfilled or flagged awards."""
    found = store.awards.points_by_person(sprint_id)
    return sorted(found.items(), key=lambda pair: (-pair[1], pair[0]))


def budget_use(
    store: Store, manifest: Manifest, sprint: Sprint | None, day: date
) -> list[BudgetUse]:
    """Each budgeted reward's use in `sprint` and in the quarter containing `day`."""
    zone = manifest.organisation.zone
    label, first, following = quarter(day)
    found: list[BudgetUse] = []
    for reward in manifest.rewards:
        budget = reward.budget
        if budget.per_sprint is not None and sprint is not None:
            used = store.awards.count_for_reward(
                reward.id, midnight(zone, sprint.start), midnight(zone, sprint.end)
            )
            found.append(
                BudgetUse(reward.id, reward.name, f"sprint {sprint.id}", used, budget.per_sprint)
            )
        if budget.per_quarter is not None:
            used = store.awards.count_for_reward(
                reward.id, midnight(zone, first), midnight(zone, following)
            )
            found.append(
                BudgetUse(reward.id, reward.name, f"quarter {label}", used, budget.per_quarter)
            )
    return found
