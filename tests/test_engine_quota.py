"""Cooldown, cap and budget boundaries, and the incremental quotas against a fresh batch."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.engine import Decision, Fact, Ref, evaluate_all
from plugin.engine.calendar import Calendar
from plugin.engine.facts import DAY_US
from plugin.engine.quota import Key, Quotas, Slot
from plugin.manifest.model import Manifest
from tests.test_engine_support import (
    ALICE_MOODLE,
    BOB_JIRA,
    BOB_MOODLE,
    at,
    completion,
    make_manifest,
    manifest_data,
    ticket,
    worked,
)

CAROL_JIRA = Ref("jira", "acc-carol", "carol@example.com")
CAROL_XAPI = Ref("xapi", "mbox:mailto:carol@coach.example")
HOUR = 3_600_000_000


def job(
    number: int, done: int, labels: tuple[str, ...] = ("skill-flags",), **extra: Any
) -> list[Fact]:
    snap = ticket(f"PAY-{number}", labels=labels, **extra)
    return worked(snap, done - HOUR, done)


def reasons(events: list[Fact], **rules: Any) -> dict[str, str]:
    """Ticket key -> reason, for decisions that name a skill."""
    found: list[Decision] = evaluate_all(make_manifest(**rules), events)
    return {f"{d.person}:{d.ticket}": d.reason for d in found if d.skill}


FLAGS = completion(ALICE_MOODLE, at(), module="moodle:cm:21")
SQL = completion(ALICE_MOODLE, at(), module="moodle:cm:11")

COOLDOWN = [  # flags has a 3-day cooldown
    ("inside", at(2) + 3 * DAY_US - 1, "cooldown"),
    ("exactly-three-days-later", at(2) + 3 * DAY_US, "awarded"),
    ("same-time-later-key", at(2), "cooldown"),
]


@pytest.mark.parametrize(
    ("second", "reason"), [c[1:] for c in COOLDOWN], ids=[c[0] for c in COOLDOWN]
)
def test_cooldown_boundary(second: int, reason: str) -> None:
    found = reasons([FLAGS, *job(1, at(2)), *job(2, second)])
    assert found == {"alice:PAY-1": "awarded", "alice:PAY-2": reason}


def test_cooldown_is_per_skill() -> None:
    found = reasons([FLAGS, SQL, *job(1, at(2)), *job(2, at(2, hours=1), labels=("skill-sql",))])
    assert found == {"alice:PAY-1": "awarded", "alice:PAY-2": "awarded"}


def test_a_refused_award_does_not_start_a_cooldown() -> None:
    # PAY-2 is refused by the cooldown of PAY-1, so PAY-3 is measured from PAY-1 only.
    events = [FLAGS, *job(1, at(2)), *job(2, at(4)), *job(3, at(5))]
    assert reasons(events) == {
        "alice:PAY-1": "awarded",
        "alice:PAY-2": "cooldown",
        "alice:PAY-3": "awarded",
    }


MIDNIGHT = at(7, hours=-9)  # sprint s2 starts on Monday 2026-11-09 (UTC); T0 is 09:00
CAP = [  # a cap of 1
    ("same-sprint", at(3), "cap"),
    ("next-sprint", at(8), "awarded"),
    ("last-microsecond-of-the-sprint", MIDNIGHT - 1, "cap"),
    ("first-microsecond-of-the-next", MIDNIGHT, "awarded"),
]


@pytest.mark.parametrize(("second", "reason"), [c[1:] for c in CAP], ids=[c[0] for c in CAP])
def test_cap_per_sprint_counts_every_skill(second: int, reason: str) -> None:
    events = [FLAGS, SQL, *job(1, at(2), labels=("skill-sql",)), *job(2, second)]
    found = reasons(events, max_awards_per_person_per_sprint=1)
    assert found == {"alice:PAY-1": "awarded", "alice:PAY-2": reason}


def test_no_sprint_no_cap() -> None:
    early = completion(ALICE_MOODLE, at(-20), module="moodle:cm:21")
    events = [
        early,
        completion(ALICE_MOODLE, at(-20)),
        *job(1, at(-5), labels=("skill-sql",)),
        *job(2, at(-4)),
    ]
    found = reasons(events, max_awards_per_person_per_sprint=1)
    assert found == {"alice:PAY-1": "awarded", "alice:PAY-2": "awarded"}


def test_the_earlier_ticket_wins_the_cap_whatever_the_order() -> None:
    events = [FLAGS, SQL, *job(2, at(3)), *job(1, at(2), labels=("skill-sql",))]
    for log in (events, events[::-1]):
        assert reasons(log, max_awards_per_person_per_sprint=1) == {
            "alice:PAY-1": "awarded",
            "alice:PAY-2": "cap",
        }


def three_learners(done: list[int]) -> list[Fact]:
    """alice, bob and carol each apply SQL indexing (the paid hour: 2 a sprint, 3 a quarter)."""
    people = [(ALICE_MOODLE, None), (BOB_MOODLE, BOB_JIRA), (CAROL_XAPI, CAROL_JIRA)]
    events: list[Fact] = []
    for n, when in enumerate(done):
        learner, assignee = people[n % 3]
        events.append(completion(learner, when - DAY_US))
        extra = {"assignee": assignee} if assignee else {}
        events += job(n + 1, when, labels=("skill-sql",), **extra)
    return events


BUDGET = [
    ("per-sprint", [at(1), at(2), at(3)], ["awarded", "awarded", "budget"]),
    ("next-sprint", [at(1), at(2), at(8)], ["awarded", "awarded", "awarded"]),
    ("per-quarter", [at(1), at(2), at(8), at(9)], ["awarded", "awarded", "awarded", "budget"]),
    ("next-quarter", [at(1), at(2), at(8), at(62)], ["awarded", "awarded", "awarded", "awarded"]),
]


@pytest.mark.parametrize(("done", "expected"), [b[1:] for b in BUDGET], ids=[b[0] for b in BUDGET])
def test_reward_budgets(done: list[int], expected: list[str]) -> None:
    found = evaluate_all(make_manifest(), three_learners(done))
    by_ticket = {d.ticket: d.reason for d in found if d.skill}
    assert [by_ticket[f"PAY-{n + 1}"] for n in range(len(done))] == expected


# The incremental quotas must always agree with judging the final set from scratch.
def slot(t2: int, ticket: int, skill: str, person: str) -> Slot:
    budget = skill == "a"
    return Slot(
        key=(t2 * DAY_US, f"T{ticket}", skill, person, str(ticket)),
        reward="r-" + skill,
        sprint=f"s{t2 // 7}" if t2 < 14 else None,
        quarter="q1" if t2 < 10 else "q2",
        cooldown_us=3 * DAY_US if skill == "b" else 0,
        cap=2,
        per_sprint=1 if budget else None,
        per_quarter=2 if budget else None,
    )


slots = st.builds(
    slot, st.integers(0, 20), st.integers(1, 6), st.sampled_from("ab"), st.sampled_from("pqr")
)


def outcomes(q: Quotas) -> dict[Key, tuple[str, Key | None]]:
    return {k: s.outcome for k, s in q.slots.items()}


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(st.lists(slots, min_size=1, max_size=3), min_size=1, max_size=25))
def test_incremental_quotas_match_a_fresh_batch(steps: list[list[Slot]]) -> None:
    live = Quotas()
    for step in steps:
        before = outcomes(live)
        unique = {s.key: s for s in step}  # toggle each: remove it if held, else add it
        removed = [k for k in unique if k in live.slots]
        added = {k: s for k, s in unique.items() if k not in live.slots}
        changed = live.update(removed, list(added.values()))
        fresh = Quotas()
        fresh.load(slot_copy(s) for s in live.slots.values())
        assert outcomes(live) == outcomes(fresh)
        after = outcomes(live)
        moved = {k for k in after if before.get(k, ("", None)) != after[k]}
        assert set(changed) == moved  # what update() reports is exactly what changed


def slot_copy(s: Slot) -> Slot:
    return Slot(
        s.key, s.reward, s.sprint, s.quarter, s.cooldown_us, s.cap, s.per_sprint, s.per_quarter
    )


ZONES = [  # sprint s2 starts on 2026-11-09 local time; T0 is 2026-11-02 09:00 UTC
    ("UTC", at(7, hours=-9) - 1, "s1", "2026-Q4"),
    ("UTC", at(7, hours=-9), "s2", "2026-Q4"),
    ("Pacific/Auckland", at(6, hours=2), "s2", "2026-Q4"),  # 11-08 11:00 UTC, 11-09 local
    ("America/Los_Angeles", at(6, hours=22), "s1", "2026-Q4"),  # 11-09 07:00 UTC, 11-08 local
    ("Pacific/Auckland", at(59, hours=2), None, "2027-Q1"),  # 12-31 11:00 UTC, 01-01 local
]


@pytest.mark.parametrize(
    ("zone", "when", "sprint", "quarter"), ZONES, ids=[f"{z[0]}-{z[2]}-{z[3]}" for z in ZONES]
)
def test_sprints_and_quarters_follow_the_organisation_zone(
    zone: str, when: int, sprint: str | None, quarter: str
) -> None:
    data = manifest_data()
    data["organisation"]["timezone"] = zone
    calendar = Calendar(Manifest.model_validate(data))
    assert (calendar.sprint(when), calendar.quarter(when)) == (sprint, quarter)
