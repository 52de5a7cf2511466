"""Identities (who is who across systems) and decisions (every verdict with its evidence)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from plugin.store import Store
from plugin.store.identities import Sighting

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_upsert_keeps_first_and_last_seen_and_known_fields(store: Store) -> None:
    first = store.identities.upsert("jira", "acc-1", None, "ana@example.com", "Ana", T0)
    assert (first.person_id, first.first_seen, first.last_seen) == (None, T0, T0)
    later = T0 + timedelta(days=2)
    store.identities.upsert("jira", "acc-1", "ana", None, None, later)
    backfill = store.identities.upsert(
        "jira", "acc-1", None, None, "Ana B.", T0 - timedelta(days=1)
    )
    assert backfill.person_id == "ana"  # a sighting without a match does not erase one
    assert backfill.email == "ana@example.com"
    assert backfill.display_name == "Ana B."
    assert (backfill.first_seen, backfill.last_seen) == (T0 - timedelta(days=1), later)
    assert store.identities.get("jira", "acc-1") == backfill
    assert store.identities.get("moodle", "acc-1") is None


def test_one_batch_of_sightings_merges_repeats_like_separate_upserts(store: Store) -> None:
    store.identities.upsert("jira", "acc-1", "ana", "ana@example.com", None, T0)
    store.identities.record(
        [
            Sighting("jira", "acc-1", None, None, "Ana", T0 + timedelta(days=3)),
            Sighting("jira", "acc-1", None, "new@example.com", None, T0 - timedelta(days=1)),
            Sighting("jira", "acc-2", None, None, "Bo", T0),
        ]
    )
    ana = store.identities.get("jira", "acc-1")
    assert ana is not None
    assert (ana.person_id, ana.email, ana.display_name) == ("ana", "new@example.com", "Ana")
    assert (ana.first_seen, ana.last_seen) == (T0 - timedelta(days=1), T0 + timedelta(days=3))
    assert [(i.external_id, i.display_name) for i in store.identities.unmatched()] == [
        ("acc-2", "Bo")
    ]
    assert store.identities.last_mapped() is None  # sightings are not an admin's mapping


def test_map_records_the_person_and_when(store: Store) -> None:
    store.identities.upsert("jira", "acc-9", seen_at=T0)
    mapped = store.identities.map("jira", "acc-9", "ana")
    assert mapped.person_id == "ana" and mapped.mapped_at is not None
    assert store.identities.last_mapped() == mapped.mapped_at
    assert store.identities.unmatched() == []


def test_unmatched_lists_identities_without_a_person(store: Store) -> None:
    store.identities.upsert("moodle", "7", "ana", seen_at=T0)
    store.identities.upsert("xapi", "mbox:bo@example.com", None, "bo@example.com", seen_at=T0)
    store.identities.upsert("jira", "acc-9", seen_at=T0)
    assert [(i.system, i.external_id) for i in store.identities.unmatched()] == [
        ("jira", "acc-9"),
        ("xapi", "mbox:bo@example.com"),
    ]


def test_decisions_are_recorded_per_ticket_with_evidence(store: Store) -> None:
    store.inbox.add("jira", "ticket", "jira:1:2", {}, None, T0)
    [item] = store.inbox.list()
    with store.transaction() as conn:
        awarded = store.decisions.record(
            "awarded",
            skill_id="sql",
            ticket_key="SR-1",
            person_id="ana",
            inbox_id=item.id,
            detail={"completion": "xapi:stmt-1", "days": 3},
            decided_at=T0,
            conn=conn,
        )
        store.decisions.record("outside_window", skill_id="git", ticket_key="SR-1", conn=conn)
        store.decisions.record("unknown_person", ticket_key="SR-2", conn=conn)
    assert awarded.id > 0 and awarded.decided_at == T0
    found = store.decisions.for_ticket("SR-1")
    assert [d.outcome for d in found] == ["awarded", "outside_window"]
    assert found[0] == awarded
    assert found[0].detail == {"completion": "xapi:stmt-1", "days": 3}
    assert store.decisions.for_ticket("SR-404") == []
