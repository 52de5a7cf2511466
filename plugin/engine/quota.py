"""Cooldown, per-sprint cap and reward budgets: the rules that depend on other awards.

Candidates that passed every per-chain rule are judged in one canonical order, by
Key = (t2, ticket key, skill, person, ticket id): a candidate's outcome depends only on the awards
before it in that order, so the result is a pure function of the set of candidates.

`load` judges everything in order. `update` is incremental: it re-judges changed candidates
from a heap in key order and, when one gains or loses its award, queues the later candidates
that award can affect (the person's, and the reward's in that sprint and quarter), so only
what changed is looked at again.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass

from plugin.engine.decision import AWARDED, BUDGET, CAP, COOLDOWN

Key = tuple[int, str, str, str, str]  # (t2, ticket key, skill, person, ticket id)
Group = tuple[str, str, str]  # (kind, a, b)
Item = tuple[Key, int, Group]  # kind 0: judge the slot; 1: offer a freed budget place
NO_GROUP: Group = ("", "", "")
Outcome = tuple[str, Key | None]  # (reason, the earlier award that caused a cooldown)
# Shared: a backfill judges hundreds of thousands of slots.
NOT_JUDGED: Outcome = ("", None)
AWARD: Outcome = (AWARDED, None)
OVER_CAP: Outcome = (CAP, None)
OVER_BUDGET: Outcome = (BUDGET, None)


@dataclass(slots=True)
class Slot:
    """One eligible candidate as the quotas see it."""

    key: Key
    reward: str
    sprint: str | None
    quarter: str
    cooldown_us: int
    cap: int
    per_sprint: int | None
    per_quarter: int | None
    outcome: Outcome = NOT_JUDGED

    def budgets(self) -> list[tuple[Group, int]]:
        found: list[tuple[Group, int]] = []
        if self.per_sprint and self.sprint is not None:
            found.append((("rs", self.reward, self.sprint), self.per_sprint))
        if self.per_quarter:
            found.append((("rq", self.reward, self.quarter), self.per_quarter))
        return found


class Quotas:
    """Cooldown and cap read the person's own slots (a person has few); the budgets, shared
    by many people, keep sorted lists of their awards."""

    def __init__(self) -> None:
        self.slots: dict[Key, Slot] = {}
        self._awarded: dict[Group, list[Key]] = {}  # of a budget group, sorted
        self._members: dict[Group, list[Key]] = {}  # every slot of a budget group, sorted
        self._people: dict[str, list[Key]] = {}  # every slot of a person, sorted
        self._limits: dict[Group, int] = {}  # a budget group's size (one reward, one limit)

    def _before(self, group: Group, key: Key) -> int:
        found = self._awarded.get(group)
        return bisect_left(found, key) if found else 0

    def judge(self, s: Slot) -> Outcome:
        t2, _, skill, person, _ = s.key
        mine = self._people.get(person, ())
        slots = self.slots
        cooldown, sprint, cap = s.cooldown_us, s.sprint, s.cap
        held = 0  # the person's awards in this sprint before this slot
        for i in range(bisect_left(mine, s.key) - 1, -1, -1):
            key = mine[i]
            other = slots[key]
            if other.outcome[0] != AWARDED:
                continue
            if cooldown and key[2] == skill:
                if t2 - key[0] < cooldown:
                    return COOLDOWN, key
                cooldown = 0  # only the latest earlier award of the skill counts
            if sprint is not None and other.sprint == sprint:
                held += 1
        if sprint is not None and held >= cap:
            return OVER_CAP
        for group, limit in s.budgets():
            if self._before(group, s.key) >= limit:
                return OVER_BUDGET
        return AWARD

    def _join(self, s: Slot) -> None:
        self.slots[s.key] = s
        insort(self._people.setdefault(s.key[3], []), s.key)
        for group, limit in s.budgets():
            insort(self._members.setdefault(group, []), s.key)
            self._limits[group] = limit

    def _set_awarded(self, s: Slot, awarded: bool) -> None:
        for group, _ in s.budgets():
            found = self._awarded.setdefault(group, [])
            if awarded:
                insort(found, s.key)
            else:
                del found[bisect_left(found, s.key)]

    def load(self, slots: Iterable[Slot]) -> None:
        """Judge a batch into an empty Quotas, in key order."""
        for s in sorted(slots, key=lambda s: s.key):
            self.slots[s.key] = s
            self._people.setdefault(s.key[3], []).append(s.key)
            for group, limit in s.budgets():
                self._members.setdefault(group, []).append(s.key)
                self._limits[group] = limit
            s.outcome = self.judge(s)
            if s.outcome[0] == AWARDED:
                for group, _ in s.budgets():
                    self._awarded.setdefault(group, []).append(s.key)

    def update(self, removed: Iterable[Key], added: Iterable[Slot]) -> dict[Key, Outcome]:
        """Apply a change; returns the earlier outcome of every slot whose outcome changed
        (("", None) for a slot added)."""
        queue: list[Item] = []
        changed: dict[Key, Outcome] = {}
        for key in removed:
            s = self.slots.pop(key)
            people = self._people[key[3]]
            del people[bisect_left(people, key)]
            for group, _ in s.budgets():
                members = self._members[group]
                del members[bisect_left(members, key)]
            if s.outcome[0] == AWARDED:
                self._set_awarded(s, False)
                self._queue_after(queue, s, gained=False)
        for s in added:
            self._join(s)
            changed[s.key] = s.outcome
            heapq.heappush(queue, (s.key, 0, NO_GROUP))
        done: set[Item] = set()
        while queue:
            item = heapq.heappop(queue)
            if item in done:
                continue
            done.add(item)
            key, kind, group = item
            if kind:
                self._next_in_budget(queue, key, group)
                continue
            found = self.slots.get(key)
            if found is None:
                continue
            s = found
            outcome = self.judge(s)
            if outcome == s.outcome:
                continue
            changed.setdefault(key, s.outcome)
            was, s.outcome = s.outcome[0] == AWARDED, outcome
            if was != (outcome[0] == AWARDED):
                self._set_awarded(s, not was)
                self._queue_after(queue, s, gained=not was)
        return {k: old for k, old in changed.items() if k in self.slots}

    def _queue_after(self, queue: list[Item], s: Slot, gained: bool) -> None:
        people = self._people.get(s.key[3], [])
        for key in people[bisect_right(people, s.key) :]:
            heapq.heappush(queue, (key, 0, NO_GROUP))
        for group, _ in s.budgets():
            if gained:  # later awards of the group may lose theirs
                found = self._awarded.get(group, [])
                for key in found[bisect_right(found, s.key) :]:
                    heapq.heappush(queue, (key, 0, NO_GROUP))
            else:  # a place is free: offer it along the group, in order
                heapq.heappush(queue, (s.key, 1, group))

    def _next_in_budget(self, queue: list[Item], after: Key, group: Group) -> None:
        """Offer the freed place to the next slot refused by a budget, if the group still
        has room once everything up to `after` is settled (the heap guarantees that)."""
        if bisect_right(self._awarded.get(group, []), after) >= self._limits[group]:
            return
        members = self._members.get(group, [])
        for key in members[bisect_right(members, after) :]:
            if self.slots[key].outcome[0] == BUDGET:
                heapq.heappush(queue, (key, 0, NO_GROUP))
                heapq.heappush(queue, (key, 1, group))  # after it: is there still room?
                return
