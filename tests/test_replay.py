"""The inbox is the event log: the engine rebuilt from it decides as the live one did."""

from __future__ import annotations

from datetime import UTC, datetime

from plugin.domain import Completion, CompletionState, PersonRef, Ticket, TicketTransition
from plugin.manifest import load_manifest
from plugin.replay import engine_from_inbox, events_from_inbox
from plugin.settings import EXAMPLE_MANIFEST
from plugin.store import InboxEvent, Store
from plugin.sync import inbox_event

MANIFEST = load_manifest(EXAMPLE_MANIFEST)
T0 = datetime(2026, 11, 3, 9, tzinfo=UTC)


def story() -> list[Completion | TicketTransition]:
    learner = PersonRef(system="moodle", id="101")  # amara.okafor in the example
    jira_ref = PersonRef(system="jira", id="acc-amara", email="amara.okafor@northwind.example")
    ticket = Ticket(
        id="10001",
        key="PAY-101",
        status="Done",
        status_category="done",
        assignee=jira_ref,
        labels=("skill-sql-indexing",),
        project="PAY",
    )
    doing = ticket.model_copy(update={"status": "In Progress", "status_category": "indeterminate"})
    return [
        Completion(
            source="moodle",
            natural_key="moodle:101:2101:1:1",
            person=learner,
            module="moodle:cm:2101",
            state=CompletionState.COMPLETE,
            at=T0,
        ),
        TicketTransition(
            natural_key="jira:10001:1",
            ticket=doing,
            from_category="new",
            to_category="indeterminate",
            at=T0.replace(day=4),
        ),
        TicketTransition(
            natural_key="jira:10001:2",
            ticket=ticket,
            from_category="indeterminate",
            to_category="done",
            at=T0.replace(day=5),
        ),
    ]


def test_events_come_back_in_order_and_unreadable_rows_are_skipped(store: Store) -> None:
    events = story()
    store.inbox.add_many([inbox_event(e, None, T0) for e in events])
    store.inbox.add_many([InboxEvent("jira", "ticket", "bad", {"nonsense": 1}, T0)])
    assert [e.natural_key for e in events_from_inbox(store)] == [e.natural_key for e in events]
    assert store.inbox.last_id() == max(i.id for i in store.inbox.list())


def test_payloads_are_read_in_chunks_after_an_id(store: Store) -> None:
    store.inbox.add_many([inbox_event(e, None, T0) for e in story()])
    ids = [i for i, _, _ in store.inbox.payloads(("completion", "ticket"), chunk=2)]
    assert ids == sorted(i.id for i in store.inbox.list())
    assert len(ids) == 3
    assert [i for i, _, _ in store.inbox.payloads(("ticket",), after_id=ids[1])] == [ids[2]]


def test_engine_rebuilt_from_the_inbox_awards_the_story(store: Store) -> None:
    store.inbox.add_many([inbox_event(e, None, T0) for e in story()])
    engine, last = engine_from_inbox(store, MANIFEST)
    assert last == store.inbox.last_id()
    awarded = [(d.person, d.skill, d.ticket) for d in engine.awards()]
    assert awarded == [("amara.okafor", "sql-indexing", "PAY-101")]


def test_learned_identities_feed_the_engine(store: Store) -> None:
    stranger = PersonRef(system="jira", id="acc-unknown")
    events = [
        e.model_copy(update={"ticket": e.ticket.model_copy(update={"assignee": stranger})})
        if isinstance(e, TicketTransition)
        else e
        for e in story()
    ]
    store.inbox.add_many([inbox_event(e, None, T0) for e in events])
    engine, _ = engine_from_inbox(store, MANIFEST)
    assert engine.awards() == []
    store.identities.upsert("jira", "acc-unknown", person_id="amara.okafor", seen_at=T0)
    assert store.identities.learned() == {("jira", "acc-unknown"): "amara.okafor"}
    engine, _ = engine_from_inbox(store, MANIFEST)
    assert [d.person for d in engine.awards()] == ["amara.okafor"]
