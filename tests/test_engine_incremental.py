"""Engine.add reports exactly the decisions a ledger must act on."""

from __future__ import annotations

from plugin.engine import CompletionFact, Decision, Engine, Fact, Ref
from tests.test_engine_support import (
    ALICE_MOODLE,
    BOB_JIRA,
    BOB_MOODLE,
    at,
    completion,
    make_manifest,
    move,
    ticket,
    worked,
)

CAROL_JIRA = Ref("jira", "acc-carol", "carol@example.com")
CAROL_XAPI = Ref("xapi", "mbox:mailto:carol@coach.example")


def feed(engine: Engine, events: list[Fact]) -> list[Decision]:
    return [d for e in events for d in engine.add(e)]


def seen(found: list[Decision]) -> list[tuple[str, str]]:
    return [(f"{d.person}:{d.ticket}", d.reason) for d in found]


def test_duplicates_change_nothing() -> None:
    engine = Engine(make_manifest())
    learnt = completion(ALICE_MOODLE, at())
    assert engine.add(learnt) == []
    assert seen(feed(engine, worked(ticket(), at(1), at(2)))) == [("alice:PAY-1", "awarded")]
    for event in [learnt, *worked(ticket(), at(1), at(2))]:
        assert engine.add(event) == []


def test_reopen_revokes_and_done_again_restores() -> None:
    engine = Engine(make_manifest())
    feed(engine, [completion(ALICE_MOODLE, at()), *worked(ticket(), at(1), at(2))])
    back = engine.add(move(ticket(), "done", "indeterminate", at(3)))
    assert seen(back) == [("alice:PAY-1", "reopened")]
    assert engine.awards() == []
    again = engine.add(move(ticket(), "indeterminate", "done", at(4)))
    assert seen(again) == [("alice:PAY-1", "awarded")]
    assert again[0].t2 == back[0].t2  # still the first time it was done


def test_a_reset_completion_revokes() -> None:
    engine = Engine(make_manifest())
    feed(engine, [completion(ALICE_MOODLE, at()), *worked(ticket(), at(1), at(2))])
    reset = engine.add(completion(ALICE_MOODLE, at(5), state="incomplete"))
    assert seen(reset) == [("alice:PAY-1", "completion_withdrawn")]


def test_a_late_completion_awards() -> None:
    engine = Engine(make_manifest())
    assert seen(feed(engine, worked(ticket(), at(1), at(2)))) == [("alice:PAY-1", "no_completion")]
    assert seen([*engine.add(completion(ALICE_MOODLE, at()))]) == [("alice:PAY-1", "awarded")]


def test_an_earlier_ticket_arriving_late_takes_the_budget() -> None:
    """The paid hour allows 2 a sprint: bob's older ticket displaces carol's award."""
    engine = Engine(make_manifest())
    feed(
        engine,
        [
            completion(ALICE_MOODLE, at()),
            completion(BOB_MOODLE, at()),
            completion(CAROL_XAPI, at(), source="xapi"),
            *worked(ticket("PAY-1"), at(1), at(2)),
            *worked(ticket("PAY-3", assignee=CAROL_JIRA), at(2), at(3)),
        ],
    )
    assert {d.ticket for d in engine.awards()} == {"PAY-1", "PAY-3"}
    late = feed(engine, worked(ticket("PAY-2", assignee=BOB_JIRA), at(1), at(2, hours=1)))
    assert seen(late) == [("bob:PAY-2", "awarded"), ("carol:PAY-3", "budget")]
    assert {d.ticket for d in engine.awards()} == {"PAY-1", "PAY-2"}


def test_a_superseded_event_is_replaced_not_added() -> None:
    """Two events with one natural key: the later one (by event time) is kept."""
    engine = Engine(make_manifest())
    first = completion(ALICE_MOODLE, at(), key="statement-1")
    engine.add(first)
    feed(engine, worked(ticket(), at(1), at(2)))
    moved = CompletionFact("statement-1", "moodle", ALICE_MOODLE, "moodle:cm:11", "failed", at(1))
    assert seen(engine.add(moved)) == [("alice:PAY-1", "completion_failed")]
    assert engine.add(first) == []  # the older version never comes back


def test_a_key_change_from_an_older_event_retires_the_old_key() -> None:
    engine = Engine(make_manifest())
    feed(engine, [completion(ALICE_MOODLE, at()), *worked(ticket("PAY-7", id="7"), at(1), at(2))])
    older = move(ticket("WEB-7", id="7"), "new", "done", at(1, hours=2))
    found = engine.add(older)
    assert [(d.ticket, d.reason) for d in found] == [
        ("WEB-7", "awarded"),
        ("PAY-7", "ticket_moved"),
    ]
    assert found[1].detail == (("moved_to", "WEB-7"),)
