"""The notification budget as a property: for any stream of messages over weeks of ticks,
in any time zone and across DST changes, nobody gets more than the budget in any rolling
window, nothing is sent in their quiet hours, and every message is accounted for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.notify.budget import (
    DAY,
    DIGEST,
    NEVER_OPTIONAL,
    WEEK,
    Pending,
    Rules,
    decide,
    quiet_until,
)

ZONES = ["Europe/London", "America/New_York", "Europe/Moscow", "Asia/Kolkata", "Pacific/Auckland"]
KINDS = ["approval_needed", "awarded", "checkin_prompt", "apply_suggestion", "stalled_reminder"]
# Three weeks around the spring DST changes in Europe and the USA (8 and 29 March 2026).
START = datetime(2026, 3, 5, tzinfo=UTC)


@dataclass
class World:
    """What a store would hold: each message's fate, and what each person was sent when."""

    rules: Rules
    pending: dict[int, Pending] = field(default_factory=dict)
    fate: dict[int, str] = field(default_factory=dict)
    sent: dict[str, list[datetime]] = field(default_factory=dict)
    made: dict[int, Pending] = field(default_factory=dict)
    folded: dict[str, list[int]] = field(default_factory=dict)  # waiting for a digest
    carried: dict[int, list[int]] = field(default_factory=dict)  # digest id -> its items
    next_id: int = 1

    def add(self, person: str, kind: str, at: datetime) -> int:
        ident, self.next_id = self.next_id, self.next_id + 1
        self.pending[ident] = self.made[ident] = Pending(ident, person, kind, at)
        return ident

    def tick(self, now: datetime) -> None:
        for v in decide(list(self.pending.values()), self.sent, now, self.rules):
            item = self.pending[v.id]
            if v.outcome == "hold":
                continue
            del self.pending[v.id]
            self.fate[v.id] = v.outcome
            if v.outcome == "send":
                self.sent.setdefault(item.person, []).append(now)
            elif v.outcome == "digest":
                self.folded.setdefault(item.person, []).append(v.id)
        for person, items in list(self.folded.items()):
            if not any(p.person == person and p.kind == DIGEST for p in self.pending.values()):
                self.carried[self.add(person, DIGEST, now)] = items
                del self.folded[person]


messages = st.lists(
    st.tuples(
        st.integers(0, 5),  # person
        st.sampled_from(KINDS),
        st.integers(0, 21 * 24 * 60),  # minute of arrival
    ),
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(
    stream=messages,
    zones=st.lists(st.sampled_from(ZONES), min_size=6, max_size=6),
    per_day=st.integers(1, 3),
    per_week=st.integers(1, 8),
    quiet=st.sampled_from(
        [None, (time(19), time(8)), (time(0, 30), time(6)), (time(12), time(14))]
    ),
    step=st.integers(5, 180),
    opted=st.sets(st.sampled_from(KINDS), max_size=2),
)
def test_no_one_gets_more_than_the_budget_nothing_in_quiet_hours_nothing_lost(
    stream: list[tuple[int, str, int]],
    zones: list[str],
    per_day: int,
    per_week: int,
    quiet: tuple[time, time] | None,
    step: int,
    opted: set[str],
) -> None:
    people = [f"p{i}" for i in range(6)]
    rules = Rules(
        per_day=per_day,
        per_week=per_week,
        quiet=quiet,
        zones={p: ZoneInfo(z) for p, z in zip(people, zones, strict=True)},
        default_zone=ZoneInfo("UTC"),
        opted_out={"p0": frozenset(opted)},
    )
    world = World(rules)
    arrivals = sorted((minute, people[p], kind) for p, kind, minute in stream)
    created: list[int] = []
    now = START
    end = START + timedelta(days=28)
    while now < end:
        while arrivals and START + timedelta(minutes=arrivals[0][0]) <= now:
            _, person, kind = arrivals.pop(0)
            created.append(world.add(person, kind, now))
        world.tick(now)
        now += timedelta(minutes=step)

    for person, times in world.sent.items():
        for at in times:  # every window that ends at a send holds at most the budget
            assert sum(1 for t in times if at - DAY < t <= at) <= per_day
            assert sum(1 for t in times if at - WEEK < t <= at) <= per_week
            assert quiet_until(rules, person, at) is None, (person, at)
    for ident in created:  # sent, digested into a digest, dropped, or still waiting
        fate = world.fate.get(ident)
        assert fate in ("send", "digest", "drop") or ident in world.pending
        if fate == "digest":
            carriers = [d for d, items in world.carried.items() if ident in items]
            waiting = any(ident in items for items in world.folded.values())
            assert len(carriers) + waiting == 1  # in exactly one digest, sent or to come
        if fate == "drop":
            item = world.made[ident]
            assert item.person == "p0" and item.kind in opted - NEVER_OPTIONAL
    for ident, fate in world.fate.items():
        item = world.made[ident]
        # Opted-out kinds never reach p0, except what a manager cannot opt out of.
        assert not (fate == "send" and item.person == "p0" and item.kind in opted - NEVER_OPTIONAL)


def test_quiet_hours_follow_the_persons_zone_across_dst() -> None:
    rules = Rules(2, 5, (time(19), time(8)), {"a": ZoneInfo("Europe/London")}, ZoneInfo("UTC"), {})
    # 29 March 2026: London moves to BST at 01:00 UTC. 07:30 UTC is 08:30 BST: awake.
    assert quiet_until(rules, "a", datetime(2026, 3, 29, 7, 30, tzinfo=UTC)) is None
    # The day before, 07:30 UTC is 07:30 GMT: still quiet, until 08:00 GMT.
    until = quiet_until(rules, "a", datetime(2026, 3, 28, 7, 30, tzinfo=UTC))
    assert until == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)
    # 18:30 UTC on 29 March is 19:30 BST: quiet until 08:00 BST = 07:00 UTC next day.
    until = quiet_until(rules, "a", datetime(2026, 3, 29, 18, 30, tzinfo=UTC))
    assert until == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_approvals_go_before_reminders_and_the_rest_is_digested() -> None:
    rules = Rules(1, 3, None, {}, ZoneInfo("UTC"), {})
    now = datetime(2026, 3, 5, 10, tzinfo=UTC)
    pending = [
        Pending(1, "a", "stalled_reminder", now - timedelta(hours=3)),
        Pending(2, "a", "approval_needed", now),
    ]
    verdicts = {v.id: v for v in decide(pending, {}, now, rules)}
    assert verdicts[2].outcome == "send"
    assert verdicts[1].outcome == "digest"
    assert verdicts[1].reason == "over the budget: 1 of 1 in the last 24 hours"


def test_a_digest_that_does_not_fit_waits_and_an_opt_out_drops() -> None:
    rules = Rules(1, 3, None, {}, ZoneInfo("UTC"), {"a": frozenset({"apply_suggestion"})})
    now = datetime(2026, 3, 5, 10, tzinfo=UTC)
    sent = {"a": [now - timedelta(hours=1)]}
    pending = [Pending(1, "a", DIGEST, now), Pending(2, "a", "apply_suggestion", now)]
    verdicts = {v.id: v for v in decide(pending, sent, now, rules)}
    assert (verdicts[1].outcome, verdicts[1].reason) == (
        "hold",
        "the digest waits for room in the budget",
    )
    assert (verdicts[2].outcome, verdicts[2].reason) == ("drop", "opted out of apply_suggestion")
