"""The inbox: dedupe by natural key, batches, claims with leases, statuses."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from plugin.store import InboxEvent, Store
from plugin.store.models import JsonText

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def event(key: str, source: str = "jira", kind: str = "ticket") -> InboxEvent:
    return InboxEvent(source, kind, key, payload={"key": key}, received_at=T0, raw={"raw": key})


def test_same_natural_key_twice_is_one_row(store: Store) -> None:
    assert store.inbox.add("xapi", "completion", "stmt-1", {"n": 1}, None, T0) is True
    assert store.inbox.add("xapi", "completion", "stmt-1", {"n": 2}, None, T0) is False
    [item] = store.inbox.list()
    assert (item.natural_key, item.payload, item.status, item.received_at) == (
        "stmt-1",
        {"n": 1},
        "new",
        T0,
    )


def test_raw_given_as_json_text_is_stored_as_it_is(store: Store) -> None:
    # What a pull hands over as received (a statement's text) is not decoded and encoded again.
    raw = JsonText('{ "id" :"s-1",\n "n": 1.50, "name": "Caf\\u00e9" }')
    payload = JsonText('{"n":1}')
    row = InboxEvent("xapi", "completion", "s-1", payload, T0, raw)
    assert store.inbox.add_many([row, event("other")]) == (2, 0)
    query = text("SELECT CAST(raw AS TEXT) FROM inbox WHERE natural_key = 's-1'")
    with store.engine.connect() as conn:
        assert conn.execute(query).scalar_one() == raw
    stored = {item.natural_key: item for item in store.inbox.list()}
    assert stored["s-1"].raw == {"id": "s-1", "n": 1.5, "name": "Café"}
    assert stored["s-1"].payload == {"n": 1}
    assert stored["other"].raw == {"raw": "other"}  # any other value as before


def test_the_same_key_from_another_source_is_another_event(store: Store) -> None:
    assert store.inbox.add("xapi", "completion", "42", {}, None, T0)
    assert store.inbox.add("moodle", "completion", "42", {}, None, T0)
    assert len(store.inbox.list()) == 2


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (["a", "b", "c"], ["d"], (1, 0)),
        (["a", "b"], ["a", "b", "c"], (1, 2)),
        (["a"], ["b", "b", "a"], (1, 2)),
        ([], [], (0, 0)),
    ],
    ids=["all-new", "overlap", "duplicate-within-batch", "empty"],
)
def test_add_many_counts_new_and_duplicates(
    store: Store, first: list[str], second: list[str], expected: tuple[int, int]
) -> None:
    store.inbox.add_many(event(k) for k in first)
    assert store.inbox.add_many(event(k) for k in second) == expected
    assert len(store.inbox.list()) == len(set(first) | set(second))


def test_a_large_batch_is_stored_in_chunks(store: Store) -> None:
    keys = [f"k{i}" for i in range(1200)]
    assert store.inbox.add_many(event(k) for k in keys) == (1200, 0)
    assert store.inbox.add_many(event(k) for k in keys[::2]) == (0, 600)


def test_duplicate_inside_a_transaction_keeps_the_transaction_usable(store: Store) -> None:
    with store.transaction() as conn:
        assert store.inbox.add("jira", "ticket", "t-1", {}, None, T0, conn=conn)
        assert not store.inbox.add("jira", "ticket", "t-1", {}, None, T0, conn=conn)
        # On PostgreSQL a failed INSERT would have aborted everything after this point.
        store.decisions.record("awarded", ticket_key="SR-1", conn=conn)
        assert store.inbox.add("jira", "ticket", "t-2", {}, None, T0, conn=conn)
    assert len(store.inbox.list()) == 2
    assert len(store.decisions.for_ticket("SR-1")) == 1


def test_a_failed_transaction_stores_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as conn:
        store.inbox.add("jira", "ticket", "t-1", {}, None, T0, conn=conn)
        raise RuntimeError("boom")
    assert store.inbox.list() == []


def test_decisions_of_many_tickets_come_in_one_answer(store: Store) -> None:
    store.decisions.record("outside_window", ticket_key="SR-1", skill_id="sql")
    store.decisions.record("awarded", ticket_key="SR-1", skill_id="sql")
    store.decisions.record("awarded", ticket_key="SR-2")
    keys = ["SR-1", "SR-2", "SR-3", *(f"X-{i}" for i in range(1200))]  # several chunks

    found = store.decisions.for_tickets(keys)

    assert [d.outcome for d in found["SR-1"]] == ["outside_window", "awarded"]  # in order
    assert found["SR-1"] == store.decisions.for_ticket("SR-1")
    assert [d.outcome for d in found["SR-2"]] == ["awarded"]
    assert found["SR-3"] == [] and len(found) == len(keys)


def test_a_claim_carries_the_payload_but_leaves_what_was_delivered_in_the_inbox(
    store: Store,
) -> None:
    store.inbox.add_many([event("k0")])
    [claimed] = store.inbox.claim(1, "w1")
    assert json.loads(claimed.payload) == {"key": "k0"} and not hasattr(claimed, "raw")
    kept = store.inbox.get(claimed.id)
    assert kept is not None and kept.raw == {"raw": "k0"}


def test_claim_leases_oldest_first_and_marks(store: Store) -> None:
    store.inbox.add_many(event(f"k{i}") for i in range(5))
    first = store.inbox.claim(2, "w1")
    assert [i.natural_key for i in first] == ["k0", "k1"]
    assert all(i.attempts == 1 for i in first)
    second = store.inbox.claim(10, "w2")
    assert [i.natural_key for i in second] == ["k2", "k3", "k4"]
    assert store.inbox.claim(10, "w3") == []

    store.inbox.mark_processed([first[0].id, first[1].id])
    store.inbox.mark_failed(second[0].id, "no such skill")
    store.inbox.mark_deferred(second[1].id, "completion not seen yet")
    assert store.inbox.count_by_status() == {
        "new": 1,
        "processed": 2,
        "failed": 1,
        "deferred": 1,
    }
    processed = store.inbox.get(first[0].id)
    assert processed is not None and processed.processed_at is not None
    failed = store.inbox.get(second[0].id)
    assert failed is not None and failed.error == "no such skill"
    [deferred] = store.inbox.claim(10, "w4", statuses=("deferred",))
    assert deferred.natural_key == "k3"


def test_an_expired_lease_can_be_claimed_again(store_url: str) -> None:
    now = [T0]
    with Store.open(store_url, clock=lambda: now[0]) as store:
        store.inbox.add("jira", "ticket", "t-1", {}, None, T0)
        [item] = store.inbox.claim(1, "crashed", lease_seconds=30)
        assert store.inbox.claim(1, "w2", lease_seconds=30) == []
        now[0] = T0.replace(minute=1)
        [again] = store.inbox.claim(1, "w2", lease_seconds=30)
        assert (again.id, again.attempts) == (item.id, 2)


def test_a_release_frees_only_the_workers_own_undecided_events(store: Store) -> None:
    store.inbox.add_many(event(f"k{i}") for i in range(4))
    mine = store.inbox.claim(3, "w1")
    [theirs] = store.inbox.claim(10, "w2")
    store.inbox.mark_failed(mine[0].id, "set aside")
    ids = [*(i.id for i in mine), theirs.id]
    assert store.inbox.release(ids, "w1") == 2
    assert [i.natural_key for i in store.inbox.claim(10, "w3")] == ["k1", "k2"]
    failed = store.inbox.get(mine[0].id)
    assert failed is not None and failed.status == "failed"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["m1", "x1", "j2", "j1"]),
        ({"source": "jira"}, ["j2", "j1"]),
        ({"kind": "completion"}, ["m1", "x1"]),
        ({"source": "xapi", "kind": "completion"}, ["x1"]),
        ({"limit": 1}, ["m1"]),
    ],
    ids=["all-newest-first", "source", "kind", "both", "limit"],
)
def test_list_filters(store: Store, filters: dict[str, str], expected: list[str]) -> None:
    store.inbox.add_many(
        [
            event("j1"),
            event("j2"),
            event("x1", "xapi", "completion"),
            event("m1", "moodle", "completion"),
        ]
    )
    assert [i.natural_key for i in store.inbox.list(**filters)] == expected  # type: ignore[arg-type]


def test_concurrent_claimers_never_share_an_event(store: Store) -> None:
    store.inbox.add_many(event(f"k{i}") for i in range(60))
    claimed: dict[str, list[int]] = {}

    def worker(name: str) -> None:
        mine = claimed.setdefault(name, [])
        while batch := store.inbox.claim(4, name):
            mine.extend(i.id for i in batch)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for ids in claimed.values() for i in ids]
    assert len(every) == len(set(every)) == 60


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_postgres_skips_events_locked_by_an_open_claim(store: Store) -> None:
    store.inbox.add_many(event(f"k{i}") for i in range(3))
    with store.transaction() as first:
        held = store.inbox.claim(1, "w1", conn=first)
        with store.transaction() as second:
            second.execute(text("SET LOCAL lock_timeout = '2s'"))
            other = store.inbox.claim(1, "w2", conn=second)
    assert [i.natural_key for i in held + other] == ["k0", "k1"]
