"""explain(): the chain of evidence and the decision, in plain words."""

from __future__ import annotations

from typing import Any

import pytest

from plugin.engine import Fact, Ref, evaluate_all, explain
from plugin.manifest.model import Manifest
from tests.test_engine_support import (
    ALICE_MOODLE,
    NOBODY,
    at,
    completion,
    make_manifest,
    manifest_data,
    move,
    ticket,
    worked,
)

LEARNT = completion(ALICE_MOODLE, at(1, hours=1))
FLAGS = completion(ALICE_MOODLE, at(1), module="moodle:cm:21")
BOB = Ref("jira", "b", "bob@example.com")
WORK = worked(ticket(summary="Speed up ledger query"), at(2), at(3, hours=7, minutes=20))


def explained(events: list[Fact], **rules: Any) -> list[str]:
    return explain(d for d in evaluate_all(make_manifest(**rules), events) if d.skill)


def test_an_award_reads_as_a_chain() -> None:
    assert explained([LEARNT, *WORK]) == [
        "alice completed 'Reading a query plan' (moodle, 2026-11-03 10:00 +00:00) — "
        "PAY-1 'Speed up ledger query' showed skill sql (label skill-sql) and entered Done "
        "on 2026-11-05 16:20 +00:00 with alice as assignee — 2 days after the module, inside the "
        "30-day window — awarded 'A paid hour to apply it' (needs manager approval)"
    ]


def test_times_are_in_the_organisation_zone() -> None:
    data_zone = make_manifest()
    assert data_zone.organisation.timezone == "UTC"

    data = manifest_data()
    data["organisation"]["timezone"] = "America/New_York"
    [line] = explain(d for d in evaluate_all(Manifest.model_validate(data), [LEARNT, *WORK]))
    assert "(moodle, 2026-11-03 05:00 -05:00)" in line
    assert "on 2026-11-05 11:20 -05:00" in line


PHRASES = [
    ("no-completion", [*WORK], {}, "not awarded: alice has not completed a module teaching sql"),
    (
        "failed",
        [completion(state="failed"), *WORK],
        {},
        "alice failed 'Reading a query plan' (moodle, 2026-11-02 09:00 +00:00) — ",
    ),
    (
        "withdrawn",
        [LEARNT, completion(state="incomplete", when=at(4)), *WORK],
        {},
        "not awarded: the completion was withdrawn (marked incomplete later)",
    ),
    (
        "late",
        [completion(when=at(-40)), *WORK],
        {},
        "— 43 days after the module, outside the 30-day window — not awarded:",
    ),
    (
        "completed-after",
        [completion(when=at(6)), *WORK],
        {},
        "the module was completed 2 days after the ticket was done",
    ),
    (
        "excluded",
        [LEARNT, *worked(ticket(resolution="Duplicate"), at(2), at(3))],
        {},
        "not awarded: its resolution 'Duplicate' is excluded",
    ),
    (
        "too-short",
        [LEARNT, *worked(ticket(), at(2), at(2, minutes=5))],
        {"min_in_progress_minutes": 30},
        "not awarded: it was in progress for 5 minutes, less than the 30 required",
    ),
    (
        "never-in-progress",
        [LEARNT, move(ticket(), "new", "done", at(3))],
        {"min_in_progress_minutes": 30},
        "not awarded: no time in progress was recorded (30 minutes required)",
    ),
    (
        "unmatched",
        [LEARNT, *worked(ticket(assignee=NOBODY), at(2), at(3))],
        {},
        "not awarded: the assignee jira:acc-stranger is not mapped to a person",
    ),
    (
        "no-assignee",
        [LEARNT, *worked(ticket(assignee=None), at(2), at(3))],
        {},
        "not awarded: the ticket has no assignee",
    ),
    (
        "reopened",
        [LEARNT, *WORK, move(ticket(), "done", "indeterminate", at(4))],
        {},
        "not awarded: the ticket was reopened on 2026-11-06 09:00 +00:00",
    ),
    (
        "cap",
        [
            LEARNT,
            *WORK,
            completion(ALICE_MOODLE, at(1), module="moodle:cm:21"),
            *worked(ticket("PAY-2", labels=("skill-flags",)), at(4), at(5)),
        ],
        {"max_awards_per_person_per_sprint": 1},
        "not awarded: alice already has 1 awards in sprint s1",
    ),
    (
        "cooldown",
        [
            FLAGS,
            *worked(ticket("PAY-2", labels=("skill-flags",)), at(2), at(3)),
            *worked(ticket("PAY-3", labels=("skill-flags",)), at(3), at(4)),
        ],
        {},
        "not awarded: flags was awarded to alice for PAY-2 less than 3 days earlier (cooldown)",
    ),
    (
        "budget",
        [
            LEARNT,
            *(e for n in (2, 3, 4) for e in worked(ticket(f"PAY-{n}"), at(n), at(n, hours=1))),
        ],
        {},
        "not awarded: the budget for 'A paid hour to apply it' is spent "
        "(2 per sprint, s1; 3 per quarter, 2026-Q4)",
    ),
    (
        "no-longer-shows-the-skill",
        [
            LEARNT,
            *WORK,
            move(ticket(), "done", "indeterminate", at(4)),
            move(ticket(labels=()), "indeterminate", "done", at(5)),
        ],
        {},
        "not awarded: the ticket no longer shows skill sql",
    ),
    (
        "not-assignee",
        [
            LEARNT,
            *WORK,
            move(ticket(), "done", "indeterminate", at(4)),
            move(
                ticket(assignee=Ref("jira", "b", "bob@example.com")), "indeterminate", "done", at(5)
            ),
        ],
        {},
        "not awarded: alice is not the assignee (bob)",
    ),
]


@pytest.mark.parametrize(
    ("events", "rules", "phrase"), [p[1:] for p in PHRASES], ids=[p[0] for p in PHRASES]
)
def test_reasons_in_plain_words(events: list[Fact], rules: dict[str, Any], phrase: str) -> None:
    lines = explained(events, **rules)
    assert any(phrase in line for line in lines), lines
