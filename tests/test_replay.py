"""The inbox is the event log: the engine rebuilt from it decides as the live one did."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from plugin.domain import Completion, CompletionState, PersonRef, Ticket, TicketTransition
from plugin.manifest import load_manifest
from plugin.replay import EVENT, engine_from_inbox, event_of_json, events_from_inbox
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


TRANSITION = (
    '{"kind": "ticket", "source": "jira", "natural_key": "jira:1:KEY", '
    '"ticket": {"id": "1", "key": "PAY-1", "summary": "SUMMARY"}, '
    '"from_category": null, "to_category": "done", "at": "2026-11-03T09:00:00Z"}'
)


@pytest.mark.parametrize(
    ("key", "summary"),
    [
        ("2", "plain"),
        ("2", "a NUL \\u0000 here"),  # cannot be stored: refused by the check
        ("2\\u0000", "in the key"),
        ("2", "a lone \\ud800 half"),  # pydantic's reader refuses it
        ("2", "a pair \\ud83d\\ude00 is fine"),
        ("2", "an escaped backslash, then u0000: \\\\u0000"),  # no NUL in it
        ("2", 'not JSON"'),
    ],
)
def test_reading_stored_json_skips_only_a_check_that_cannot_fail(key: str, summary: str) -> None:
    text = TRANSITION.replace("KEY", key).replace("SUMMARY", summary)

    def outcome(read: Callable[[str], object]) -> object:
        try:
            return read(text)
        except ValidationError as exc:
            return [(e["type"], e["loc"], e["msg"]) for e in exc.errors()]

    assert outcome(event_of_json) == outcome(EVENT.validate_json)
    refused = isinstance(outcome(event_of_json), list)
    assert refused == (summary.startswith(("a NUL", "a lone", "not JSON")) or "u0000" in key)


def test_the_text_backslash_u0000_is_not_a_nul() -> None:
    """A ticket about escaping may well say `\\u0000` in its summary: six characters that
    JSON writes with the backslash escaped. It was quarantined as text no database can
    store, because the check looked for the escape in the event's JSON."""
    text = TRANSITION.replace("KEY", "3").replace("SUMMARY", "escape it as \\\\u0000")
    event = EVENT.validate_json(text)
    assert isinstance(event, TicketTransition)
    assert event.ticket.summary == "escape it as \\u0000"
