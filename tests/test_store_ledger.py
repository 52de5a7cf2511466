"""The awards ledger: one award per (person, skill, ticket), state machine, history, balances."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import StatementError

from plugin.store import AwardState, InvalidTransition, NewAward, Store, UnknownAward

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def award(person: str = "ana", skill: str = "sql", ticket: str = "SR-1", **kw: object) -> NewAward:
    base = NewAward(
        person_id=person,
        skill_id=skill,
        ticket_key=ticket,
        reward_id="badge",
        points=10,
        state="pending_approval",
        ticket_done_at=T0,
        sprint_id="s1",
        completion_key="xapi:stmt-1",
        evidence={"module": "sql-101"},
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_one_award_per_person_skill_ticket(store: Store) -> None:
    first, created = store.awards.insert(award())
    assert created and first.state == "pending_approval" and first.evidence == {"module": "sql-101"}
    again, created_again = store.awards.insert(award(points=99))
    assert not created_again
    assert again == first
    for other in (award(person="bo"), award(skill="git"), award(ticket="SR-2")):
        assert store.awards.insert(other)[1]
    assert len(store.awards.list()) == 4


def test_a_duplicate_inside_a_transaction_keeps_it_usable(store: Store) -> None:
    with store.transaction() as conn:
        store.awards.insert(award(), conn=conn)
        _, created = store.awards.insert(award(), conn=conn)
        assert not created
        store.outbox.enqueue("comment:SR-1", "jira", "comment", {}, T0, conn=conn)
    assert len(store.outbox.list()) == 1


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        (["approved"], True),
        (["rejected"], True),
        (["revoked"], True),
        (["approved", "fulfilled"], True),
        (["approved", "revoked"], True),
        (["approved", "fulfilled", "revocation_flagged", "revoked"], True),
        (["approved", "fulfilled", "revocation_flagged", "fulfilled"], True),
        (["fulfilled"], False),
        (["revocation_flagged"], False),
        (["pending_approval"], False),
        (["approved", "approved"], False),
        (["rejected", "approved"], False),
        (["approved", "revoked", "approved"], True),
        (["revoked", "pending_approval"], True),
        (["revoked", "fulfilled"], False),
        (["rejected", "pending_approval"], False),
        (["approved", "fulfilled", "revoked"], False),
    ],
    ids=lambda v: "-".join(v) if isinstance(v, list) else str(v),
)
def test_transitions(store: Store, path: list[AwardState], allowed: bool) -> None:
    created, _ = store.awards.insert(award())
    *steps, last = path
    for state in steps:
        store.awards.transition(created.id, state, actor="mgr")
    if allowed:
        moved = store.awards.transition(created.id, last, actor="mgr", note="ok", at=T0)
        assert moved.state == last and moved.updated_at == T0
    else:
        with pytest.raises(InvalidTransition, match=f"cannot become {last}"):
            store.awards.transition(created.id, last, actor="mgr")
        current = store.awards.get(created.id)
        assert current is not None and current.state == (steps[-1] if steps else "pending_approval")


def test_every_state_change_is_recorded(store: Store) -> None:
    created, _ = store.awards.insert(award())
    store.awards.transition(created.id, "approved", "mgr:lee", "good work", T0)
    store.awards.transition(created.id, "fulfilled", "system", None, T0 + timedelta(hours=1))
    events = store.awards.events(created.id)
    assert [(e.from_state, e.to_state, e.actor, e.note) for e in events] == [
        (None, "pending_approval", "engine", None),
        ("pending_approval", "approved", "mgr:lee", "good work"),
        ("approved", "fulfilled", "system", None),
    ]
    assert events[2].at == T0 + timedelta(hours=1)


def test_a_failed_transition_records_nothing(store: Store) -> None:
    created, _ = store.awards.insert(award())
    with pytest.raises(InvalidTransition):
        store.awards.transition(created.id, "fulfilled", "mgr")
    assert len(store.awards.events(created.id)) == 1


def test_unknown_award_and_bad_initial_state(store: Store) -> None:
    with pytest.raises(UnknownAward, match="no award 404"):
        store.awards.transition(404, "approved", "mgr")
    assert store.awards.get(404) is None
    with pytest.raises(InvalidTransition, match="cannot start as 'revoked'"):
        store.awards.insert(award(state="revoked"))


def test_points_balances_count_granted_awards_only(store: Store) -> None:
    granted, _ = store.awards.insert(award(ticket="SR-1", state="approved"))
    store.awards.insert(award(ticket="SR-2", state="fulfilled", points=5, sprint_id="s2"))
    store.awards.insert(award(ticket="SR-3"))  # still pending: not earned yet
    taken_back, _ = store.awards.insert(award(ticket="SR-4", state="approved", points=100))
    store.awards.transition(taken_back.id, "revoked", "engine", "ticket reopened")
    store.awards.insert(award(person="bo", ticket="SR-1", points=7, state="approved"))
    assert store.awards.points_by_person() == {"ana": 15, "bo": 7}
    assert store.awards.points_by_person(sprint="s2") == {"ana": 5}
    store.awards.transition(granted.id, "fulfilled", "system")
    store.awards.transition(granted.id, "revocation_flagged", "engine")
    assert store.awards.points_by_person()["ana"] == 15  # flagged still counts until revoked


def test_budget_and_cap_counts(store: Store) -> None:
    for n, (days, state) in enumerate(
        [(0, "approved"), (1, "pending_approval"), (2, "approved"), (40, "approved")]
    ):
        store.awards.insert(
            award(ticket=f"SR-{n}", state=state, ticket_done_at=T0 + timedelta(days=days))
        )
    rejected, _ = store.awards.insert(award(ticket="SR-9", ticket_done_at=T0))
    store.awards.transition(rejected.id, "rejected", "mgr")
    month = (T0, T0 + timedelta(days=30))
    assert store.awards.count_for_reward("badge", *month) == 3
    assert store.awards.count_for_reward("badge", T0 + timedelta(days=1), month[1]) == 2
    assert store.awards.count_for_reward("other", *month) == 0
    assert store.awards.count_for_person_sprint("ana", "s1") == 4
    assert store.awards.count_for_person_sprint("bo", "s1") == 0


@pytest.mark.parametrize(
    ("filters", "tickets"),
    [
        ({}, ["SR-1", "SR-2", "SR-3"]),
        ({"state": "approved"}, ["SR-2"]),
        ({"person": "bo"}, ["SR-3"]),
        ({"sprint": "s2"}, ["SR-2", "SR-3"]),
        ({"person": "ana", "sprint": "s2"}, ["SR-2"]),
    ],
    ids=["all", "state", "person", "sprint", "person-sprint"],
)
def test_list_filters(store: Store, filters: dict[str, str], tickets: list[str]) -> None:
    store.awards.insert(award(ticket="SR-1"))
    store.awards.insert(award(ticket="SR-2", state="approved", sprint_id="s2"))
    store.awards.insert(award(person="bo", ticket="SR-3", sprint_id="s2"))
    assert [a.ticket_key for a in store.awards.list(**filters)] == tickets  # type: ignore[arg-type]


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        store.awards.insert(award(ticket_done_at=datetime(2026, 3, 2, 9, 0)))
