"""Each per-chain rule and its reason code, window boundaries, reopen and withdrawal."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from plugin.engine import Decision, Fact, Ref, SkillMatcher, TicketFact, evaluate_all
from tests.test_engine_support import (
    ALICE_MOODLE,
    MOODLE_URL,
    NOBODY,
    T0,
    at,
    completion,
    make_manifest,
    move,
    ticket,
    worked,
)

ALICE = ("alice", "sql", "PAY-1")
IRI = f"{MOODLE_URL}/mod/page/view.php?id=11"  # the xAPI key of module sql-plans
LEARNT = completion(ALICE_MOODLE, at())


def work(
    snap: TicketFact | None = None, start: int | None = None, done: int | None = None
) -> list[Fact]:
    return [
        *worked(
            snap or ticket(), at(1) if start is None else start, at(2) if done is None else done
        )
    ]


def reopened(then: list[Fact]) -> list[Fact]:
    return [LEARNT, *work(), move(ticket(), "done", "indeterminate", at(3)), *then]


def decide(events: list[Fact], **rules: Any) -> dict[tuple[str, str, str], Decision]:
    return {d.key: d for d in evaluate_all(make_manifest(**rules), events)}


CASES: list[tuple[str, list[Fact], dict[str, Any], tuple[str, str, str], str]] = [
    ("awarded", [LEARNT, *work()], {}, ALICE, "awarded"),
    ("passed-counts", [completion(state="passed"), *work()], {}, ALICE, "awarded"),
    (
        "logstore-statement-counts",
        [completion(Ref("xapi", f"account:{MOODLE_URL}|1"), module=IRI, source="xapi"), *work()],
        {},
        ALICE,
        "awarded",
    ),
    ("no-completion", work(), {}, ALICE, "no_completion"),
    (
        "other-skills-module",
        [completion(module="moodle:cm:21"), *work()],
        {},
        ALICE,
        "no_completion",
    ),
    ("failed", [completion(state="failed"), *work()], {}, ALICE, "completion_failed"),
    (
        "withdrawn-before-done",
        [LEARNT, completion(state="incomplete", when=at(0.5)), *work()],
        {},
        ALICE,
        "completion_withdrawn",
    ),
    (
        "withdrawn-after-done",
        [LEARNT, completion(state="incomplete", when=at(5)), *work()],
        {},
        ALICE,
        "completion_withdrawn",
    ),
    (
        "withdrawn-through-the-other-key",
        [
            completion(Ref("xapi", f"account:{MOODLE_URL}|1"), module=IRI, source="xapi"),
            completion(state="incomplete", when=at(0.5)),
            *work(),
        ],
        {},
        ALICE,
        "completion_withdrawn",
    ),
    (
        "another-module-reset",
        [LEARNT, completion(state="incomplete", module="moodle:cm:12", when=at(0.5)), *work()],
        {},
        ALICE,
        "awarded",
    ),
    (
        "completed-again-after-reset",
        [LEARNT, completion(state="incomplete", when=at(0.5)), completion(when=at(0.7)), *work()],
        {},
        ALICE,
        "awarded",
    ),
    (
        "a-failure-does-not-withdraw",
        [LEARNT, completion(state="failed", when=at(0.5)), *work()],
        {},
        ALICE,
        "awarded",
    ),
    ("completed-after-done", [completion(when=at(3)), *work()], {}, ALICE, "outside_window"),
    ("done-too-late", [LEARNT, *work(start=at(20), done=at(31))], {}, ALICE, "outside_window"),
    (
        "excluded-resolution-any-case",
        [LEARNT, *work(ticket(resolution="won't do"))],
        {},
        ALICE,
        "excluded_resolution",
    ),
    (
        "duplicate",
        [LEARNT, *work(ticket(resolution="Duplicate"))],
        {},
        ALICE,
        "excluded_resolution",
    ),
    (
        "no-assignee",
        [LEARNT, *work(ticket(assignee=None))],
        {},
        ("", "sql", "PAY-1"),
        "no_assignee",
    ),
    (
        "unmatched-assignee",
        [LEARNT, *work(ticket(assignee=NOBODY))],
        {},
        ("jira:acc-stranger", "sql", "PAY-1"),
        "unmatched_identity",
    ),
    (
        "too-short",
        [LEARNT, *work(done=at(1, minutes=29))],
        {"min_in_progress_minutes": 30},
        ALICE,
        "too_short",
    ),
    (
        "just-long-enough",
        [LEARNT, *work(done=at(1, minutes=30))],
        {"min_in_progress_minutes": 30},
        ALICE,
        "awarded",
    ),
    (
        "never-in-progress",
        [LEARNT, move(ticket(), "new", "done", at(2))],
        {"min_in_progress_minutes": 30},
        ALICE,
        "too_short",
    ),
    (
        "never-in-progress-no-minimum",
        [LEARNT, move(ticket(), "new", "done", at(2))],
        {},
        ALICE,
        "awarded",
    ),
    (
        "in-progress-twice-adds-up",
        [
            LEARNT,
            move(ticket(), "new", "indeterminate", at(1)),
            move(ticket(), "indeterminate", "new", at(1, minutes=20)),
            move(ticket(), "new", "indeterminate", at(1, hours=1)),
            move(ticket(), "indeterminate", "done", at(1, hours=1, minutes=10)),
        ],
        {"min_in_progress_minutes": 30},
        ALICE,
        "awarded",
    ),
    ("reopened", reopened([]), {}, ALICE, "reopened"),
    (
        "done-again-after-reopen",
        reopened([move(ticket(), "indeterminate", "done", at(4))]),
        {},
        ALICE,
        "awarded",
    ),
    (
        "label-removed-when-done-again",
        reopened([move(ticket(labels=()), "indeterminate", "done", at(4))]),
        {},
        ALICE,
        "no_skill",
    ),
    (
        "wont-do-when-done-again",
        reopened([move(ticket(resolution="Won't Do"), "indeterminate", "done", at(4))]),
        {},
        ALICE,
        "excluded_resolution",
    ),
    (
        "someone-else-finished-it",
        reopened(
            [
                move(
                    ticket(assignee=Ref("jira", "x", "bob@example.com")),
                    "indeterminate",
                    "done",
                    at(4),
                )
            ]
        ),
        {},
        ALICE,
        "not_assignee",
    ),
]


@pytest.mark.parametrize(
    ("events", "rules", "key", "reason"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_rule(
    events: list[Fact], rules: dict[str, Any], key: tuple[str, str, str], reason: str
) -> None:
    table = decide(events, **rules)
    assert table[key].reason == reason
    json.dumps([d.evidence for d in table.values()])  # evidence is JSON-ready


WINDOW = [
    ("t2-equals-t1", at(2), at(2), "awarded"),
    ("t2-is-t1-plus-window", at(0), at(30), "awarded"),
    ("one-second-over", at(0), at(30, seconds=1), "outside_window"),
    ("completed-one-second-after", at(2, seconds=1), at(2), "outside_window"),
]


@pytest.mark.parametrize(
    ("learnt", "done", "reason"), [w[1:] for w in WINDOW], ids=[w[0] for w in WINDOW]
)
def test_window_boundaries(learnt: int, done: int, reason: str) -> None:
    table = decide([completion(when=learnt), *work(start=done - 3_600_000_000, done=done)])
    assert table[ALICE].reason == reason


def test_the_decision_carries_the_chain() -> None:
    d = decide([LEARNT, *work()])[ALICE]
    assert (d.person, d.skill, d.ticket, d.reward, d.points, d.approval, d.sprint) == (
        "alice",
        "sql",
        "PAY-1",
        "hour",
        20,
        True,
        "s1",
    )
    assert (d.t1, d.t2) == (T0, T0 + timedelta(days=2))
    assert d.completion_key == LEARNT.key
    assert d.transition_key == "jira:1:" + str(at(2)) + ":done"
    evidence = d.evidence
    assert evidence["completion"]["title"] == "Reading a query plan"
    assert evidence["ticket"]["matched"] == ["label skill-sql"]
    assert evidence["rules"]["apply_window_days"] == 30


def test_reopen_keeps_the_first_done_time() -> None:
    events = reopened([move(ticket(), "indeterminate", "done", at(9))])
    d = decide(events)[ALICE]
    assert d.reason == "awarded"
    assert d.transition_key == "jira:1:" + str(at(2)) + ":done"


def test_a_ticket_that_shows_no_skill_gets_one_decision() -> None:
    [d] = decide([LEARNT, *work(ticket(labels=("misc",)))]).values()
    assert (d.key, d.reason, d.reward) == (("alice", "", "PAY-1"), "no_skill", None)


def test_a_ticket_never_done_has_no_decision() -> None:
    assert decide([LEARNT, move(ticket(), "new", "indeterminate", at(1))]) == {}


MATCHES = [
    ("label", {"labels": ("skill-sql",)}, {"sql": ("label skill-sql",)}),
    ("label-any-case", {"labels": ("SKILL-SQL",)}, {"sql": ("label SKILL-SQL",)}),
    ("component", {"components": ("Ledger DB",)}, {"sql": ("component Ledger DB",)}),
    (
        "custom-field-text",
        {"fields": {"customfield_10050": "SQL indexing"}},
        {"sql": ("customfield_10050 = SQL indexing",)},
    ),
    (
        "custom-field-list",
        {"fields": {"customfield_10050": ["Other", "sql indexing"]}},
        {"sql": ("customfield_10050 = sql indexing",)},
    ),
    (
        "label-and-jql",
        {"labels": ("skill-flags",)},
        {"flags": ("label skill-flags", "jql project in (PAY, RISK)")},
    ),
    ("jql-narrows", {"labels": ("skill-flags",), "project": "WEB"}, {}),
    (
        "jql-alone",
        {"labels": (), "fields": {"issuetype": "Post-incident review"}},
        {"pm": ('jql issuetype = "Post-incident review"',)},
    ),
    ("nothing", {"labels": ("misc",)}, {}),
    (
        "two-skills",
        {"labels": ("skill-sql", "skill-flags")},
        {"sql": ("label skill-sql",), "flags": ("label skill-flags", "jql project in (PAY, RISK)")},
    ),
]


@pytest.mark.parametrize(
    ("changes", "shown"), [m[1:] for m in MATCHES], ids=[m[0] for m in MATCHES]
)
def test_skill_matchers(changes: dict[str, Any], shown: dict[str, tuple[str, ...]]) -> None:
    matcher = SkillMatcher(make_manifest())
    snap = TicketFact(**{"id": "1", "key": "PAY-1", "project": "PAY", "labels": (), **changes})
    assert matcher.shown(snap) == shown
    assert set(matcher.skills(snap)) == set(shown)
