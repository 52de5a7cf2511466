"""The catch-up horizon: rows that commit late, ids burned for good, and a restart."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert

from plugin.notify.triggers import completion_triggers
from plugin.pipeline import pipeline as pipeline_module
from plugin.pipeline.horizon import GAP_SECONDS, Horizon, _clusters
from plugin.store import Store
from plugin.store.schema import inbox, metadata
from tests.test_pipeline_support import (
    DONE,
    MANIFEST,
    NOW,
    T0,
    award_of,
    completion,
    drain,
    move,
    pipeline,
    put,
    ticket,
    worked,
)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def read_ids(store: Store, horizon: Horizon) -> list[int]:
    with store.transaction() as conn:
        return [row[0] for row in horizon.read(conn)]


def test_reads_each_row_once(store: Store) -> None:
    store.inbox.add("jira", "delivery", "start", payload={})  # ids go on across tests
    horizon = Horizon(store.inbox.last_id(), Clock())
    put(store, [completion("ben.carter")])
    assert read_ids(store, horizon) == [store.inbox.last_id()]
    assert read_ids(store, horizon) == []
    put(store, [completion("chloe.nguyen")])
    assert read_ids(store, horizon) == [store.inbox.last_id()]
    assert horizon.gaps == {}


@pytest.mark.postgres
def test_a_row_committed_late_is_read_and_a_burned_id_expires(postgres_store_url: str) -> None:
    clock = Clock()
    with Store.open(postgres_store_url) as store:
        with store.transaction() as conn:  # the shared database: empty it, as `store` does
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
        store.inbox.add("jira", "delivery", "start", payload={})  # where the ids are now
        horizon = Horizon(store.inbox.last_id(), clock)
        slow = store.engine.connect()
        try:
            late = slow.begin()
            row = completion("ben.carter").model_dump(mode="json")
            values = {"source": "moodle", "kind": "completion", "payload": row, "received_at": NOW}
            slow.execute(insert(inbox).values(natural_key="late", **values))  # takes an id
            put(store, [completion("chloe.nguyen")])  # a higher id, committed first
            put(store, [completion("chloe.nguyen")])  # a duplicate: burns an id for good
            put(store, [completion("diego.ramirez")])
            first = read_ids(store, horizon)
            assert len(first) == 2 and len(horizon.gaps) == 2
            late.commit()
        finally:
            slow.close()
        [late_id] = read_ids(store, horizon)
        assert late_id < first[0]
        assert len(horizon.gaps) == 1  # the burned id, still looked for
        clock.now += timedelta(seconds=GAP_SECONDS + 1)
        assert read_ids(store, horizon) == []
        assert horizon.gaps == {}


def test_clusters_group_close_ids() -> None:
    assert list(_clusters([])) == []
    assert list(_clusters([3, 4, 10, 500, 501])) == [(3, 10), (500, 501)]


def test_an_event_waiting_at_start_is_logged_against_its_inbox_row(store: Store) -> None:
    put(store, [completion("ben.carter"), *worked(ticket("PAY-101", "ben.carter"), T0)])
    drain(pipeline(store))
    done = store.inbox.last_id()
    put(store, worked(ticket("PAY-102", "ben.carter"), T0 + timedelta(days=1)))
    drain(pipeline(store, worker="restarted"))
    assert award_of(store, "ben.carter", "PAY-102").state == "pending_approval"
    [decision] = store.decisions.for_ticket("PAY-102")
    assert decision.inbox_id is not None and decision.inbox_id > done


def test_a_long_backlog_is_loaded_in_one_batch(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline_module, "BATCH_BACKLOG", 2)
    put(store, [completion("ben.carter"), *worked(ticket("PAY-101", "ben.carter"), T0)])
    p = pipeline(store)
    last = store.inbox.last_id()  # ids keep counting across tests on PostgreSQL
    assert p.horizon.upto == max(0, last - pipeline_module.START_RECHECK)
    assert len(p.engine.awards()) == 1  # all in the batch
    stats = drain(p)
    assert (stats.awarded, stats.processed) == (1, 3)
    [decision] = store.decisions.for_ticket("PAY-101")
    assert (decision.outcome, decision.inbox_id) == ("awarded", None)  # by the full reconcile


def _counting(monkeypatch: pytest.MonkeyPatch, p: pipeline_module.Pipeline) -> dict[str, int]:
    """How often, from now on, `p` reads a claimed event and adds an event to its engine."""
    calls = {"read": 0, "add": 0}
    read, add = pipeline_module.read_event, p.engine.add

    def counted_read(item: object) -> object:
        calls["read"] += 1
        return read(item)  # type: ignore[arg-type]

    def counted_add(event: object) -> object:
        calls["add"] += 1
        return add(event)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline_module, "read_event", counted_read)
    monkeypatch.setattr(p.engine, "add", counted_add)
    return calls


@pytest.mark.parametrize("kept", [pipeline_module.EARLY_EVENTS, 2])
def test_an_event_a_catch_up_added_is_neither_read_nor_added_again_when_claimed(
    store: Store, monkeypatch: pytest.MonkeyPatch, kept: int
) -> None:
    monkeypatch.setattr(pipeline_module, "EARLY_EVENTS", kept)
    p = pipeline(store)
    events = [completion("ben.carter")]
    for day in range(1, 5):
        events += worked(ticket(f"PAY-{day}", "ben.carter"), T0 + timedelta(days=day))
    put(store, events)
    assert p.run_once(limit=1).claimed == 1  # its catch-up adds all of them
    calls = _counting(monkeypatch, p)
    assert drain(p, limit=1).processed == len(events) - 1
    # Claimed afterwards: only those not kept are read again (and added, as a retried claim).
    again = max(0, len(events) - 1 - kept)
    assert calls == {"read": again, "add": again}
    assert award_of(store, "ben.carter", "PAY-1").state == "pending_approval"


def _inbox_plans(store: Store, read: Callable[[], object]) -> list[str]:
    """SQLite's plan for each query on the inbox that `read` runs."""
    seen: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "FROM inbox" in statement:
            seen.append((statement, params))

    event.listen(store.engine, "before_cursor_execute", keep)
    try:
        read()
    finally:
        event.remove(store.engine, "before_cursor_execute", keep)
    with store.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        return [
            " | ".join(row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}", params))
            for sql, params in seen
        ]


def test_rows_after_an_id_are_read_by_id_not_by_scanning_every_row_of_their_kinds(
    sqlite_template: Path, tmp_path: Path
) -> None:
    # Through the index on (kind, received_at), SQLite visited every row of the kinds asked
    # for and sorted them on each read: the catch-up slowed as the inbox grew.
    shutil.copyfile(sqlite_template, tmp_path / "store.db")
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    at = [T0 + timedelta(minutes=i) for i in range(30)]
    put(store, [completion("ben.carter", at=t) for t in at])
    put(store, [move(ticket(f"PAY-{i}", "ben.carter"), *DONE, t) for i, t in enumerate(at)])
    last = store.inbox.last_id()
    horizon = Horizon(last - 5, Clock())

    def read() -> None:
        assert len(read_ids(store, horizon)) == 5
        assert len(list(store.inbox.payloads(("completion", "ticket"), after_id=last - 5))) == 5
        with store.transaction() as conn:
            list(completion_triggers(store, MANIFEST, conn, lambda _: None, NOW))

    plans = _inbox_plans(store, read)
    assert len(plans) == 3
    for plan in plans:
        assert "INTEGER PRIMARY KEY (rowid>?)" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
    store.close()
