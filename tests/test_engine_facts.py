"""From the pydantic domain events to the engine's lightweight facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from plugin.domain import Completion, CompletionState, PersonRef, Ticket, TicketTransition
from plugin.engine import (
    CompletionFact,
    Engine,
    IdentityResolver,
    Ref,
    TransitionFact,
    fact_of,
    from_us,
    to_us,
)
from plugin.engine.facts import preferred
from tests.test_engine_support import make_manifest

WHEN = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "at",
    [WHEN, WHEN.replace(tzinfo=None), WHEN.astimezone(timezone(timedelta(hours=-5)))],
    ids=["utc", "naive-is-utc", "other-offset"],
)
def test_times_become_exact_microseconds(at: datetime) -> None:
    assert from_us(to_us(at)) == WHEN
    assert to_us(at + timedelta(microseconds=1)) == to_us(WHEN) + 1


def domain_events() -> tuple[Completion, TicketTransition, TicketTransition]:
    learner = PersonRef(system="moodle", id="1", email="alice@example.com", display_name="Alice")
    learnt = Completion(
        source="moodle",
        natural_key="moodle:1:11:1:1",
        person=learner,
        module="moodle:cm:11",
        state=CompletionState.COMPLETE,
        at=WHEN,
    )
    ticket = Ticket(
        id="10001",
        key="PAY-1",
        project="PAY",
        summary="Speed up ledger query",
        status="Done",
        status_category="done",
        resolution="Done",
        assignee=PersonRef(system="jira", id="acc-alice"),
        labels=("skill-sql",),
        fields={"customfield_10050": ["SQL indexing"]},
        updated=WHEN + timedelta(days=2),
    )
    started = TicketTransition(
        natural_key="jira:10001:1",
        ticket=ticket,
        from_category="new",
        to_category="indeterminate",
        at=WHEN + timedelta(days=1),
    )
    done = TicketTransition(
        natural_key="jira:10001:2",
        ticket=ticket,
        from_category="indeterminate",
        to_category="done",
        at=WHEN + timedelta(days=2),
    )
    return learnt, started, done


def test_domain_events_convert_to_facts() -> None:
    learnt, _, done = domain_events()
    c = fact_of(learnt)
    assert c == CompletionFact(
        "moodle:1:11:1:1",
        "moodle",
        Ref("moodle", "1", "alice@example.com", "Alice"),
        "moodle:cm:11",
        "complete",
        to_us(WHEN),
    )
    t = fact_of(done)
    assert isinstance(t, TransitionFact)
    assert (t.key, t.to_category, t.ticket.key, t.ticket.assignee) == (
        "jira:10001:2",
        "done",
        "PAY-1",
        Ref("jira", "acc-alice"),
    )
    assert t.ticket.fields == {"customfield_10050": ["SQL indexing"]}
    assert fact_of(c) is c


def test_the_engine_takes_domain_events() -> None:
    engine = Engine(make_manifest())
    for event in domain_events():
        engine.add(event)
    [award] = engine.awards()
    assert (award.person, award.skill, award.ticket) == ("alice", "sql", "PAY-1")
    assert award.matched == ("label skill-sql", "customfield_10050 = SQL indexing")


def test_two_events_with_one_key_keep_the_later_whatever_the_order() -> None:
    a = CompletionFact("k", "xapi", Ref("xapi", "x"), "m", "complete", 1)
    b = CompletionFact("k", "xapi", Ref("xapi", "x"), "m", "incomplete", 2)
    assert preferred(a, b) is b
    assert preferred(b, a) is b


def test_learned_mappings_to_unknown_people_are_ignored() -> None:
    resolver = IdentityResolver(make_manifest(), {("jira", "x"): "gone", ("jira", "y"): "bob"})
    assert resolver.lookup("jira", "x") is None
    assert resolver.lookup("jira", "y") == "bob"
