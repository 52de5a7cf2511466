"""Progress in the inbox: the pipeline marks it processed without deciding (SQLite and
PostgreSQL), every replay and report reader leaves it out, and `skillrelay events` shows it."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

import pytest

from plugin.domain import Completion, PersonRef, Progress, ProgressVerb, TicketTransition
from plugin.pipeline import watermark
from plugin.pipeline.sprint import completions_in
from plugin.replay import engine_from_inbox, events_from_inbox
from plugin.report.facts import read_activity
from plugin.settings import DATABASE_ENV
from plugin.store import Store
from plugin.sync import inbox_event
from tests.test_import_support import Cli
from tests.test_pipeline_support import (
    MANIFEST,
    NOW,
    T0,
    award_of,
    completion,
    pipeline,
    ticket,
    worked,
)

DONE_AT = T0 + timedelta(days=1)
SQL_PAGE = "https://lms.northwind.example/mod/page/view.php?id=2101"  # Reading a query plan
FLAGS_LESSON = "https://lms.northwind.example/mod/lesson/view.php?id=2201"


def progress(
    person: str, module: str = SQL_PAGE, minutes: int = 0, verb: ProgressVerb = "viewed"
) -> Progress:
    email = MANIFEST.people_by_id[person].email
    return Progress(
        source="xapi",
        natural_key=f"stmt:{person}:{module}:{minutes}:{verb}",
        person=PersonRef(system="xapi", id=f"mbox:mailto:{email}", email=email),
        module=module,
        verb=verb,
        at=T0 - timedelta(days=1) + timedelta(minutes=minutes),
    )


def store_all(store: Store, events: Iterable[Completion | TicketTransition | Progress]) -> None:
    store.inbox.add_many([inbox_event(e, None, NOW) for e in events])


def signals() -> list[Progress]:
    return [
        progress("ben.carter", verb="launched"),
        progress("ben.carter", minutes=5),
        progress("chloe.nguyen", FLAGS_LESSON, 7, "attempted"),
    ]


def test_progress_is_marked_processed_and_decides_nothing(store: Store) -> None:
    pay = ticket("PAY-101", "ben.carter")
    store_all(
        store,
        [
            signals()[0],
            completion("ben.carter"),
            *signals()[1:],
            *worked(pay, DONE_AT),
        ],
    )
    store_all(store, [progress("ben.carter", minutes=60 * 24 * 3)])  # after the ticket

    stats = pipeline(store).run_once()

    assert (stats.claimed, stats.progress, stats.processed, stats.failed) == (7, 4, 3, 0)
    assert stats.awarded == 1
    assert award_of(store, "ben.carter", "PAY-101").state == "pending_approval"
    counts = store.inbox.count_by_status()
    assert (counts["new"], counts["processed"], counts["failed"]) == (0, 7, 0)
    assert store.inbox.list(status="failed") == []
    assert {i.status for i in store.inbox.list(kind="progress")} == {"processed"}
    # No decision names a progress row, and only decided events carry a seq.
    progress_ids = {i.id for i in store.inbox.list(kind="progress")}
    with store.transaction() as conn:
        decided = watermark.decided_since(conn, 0, watermark.current(conn))
    assert decided and not progress_ids & set(decided)
    inbox_ids = {d.inbox_id for d in store.decisions.for_ticket("PAY-101")}
    assert not progress_ids & inbox_ids


def test_progress_alone_is_processed_without_a_transaction_that_decides(store: Store) -> None:
    p = pipeline(store)
    p.run_once()  # the first run reconciles the (empty) ledger
    store_all(store, signals())

    stats = p.run_once()

    assert (stats.claimed, stats.progress, stats.processed, stats.decisions) == (3, 3, 0, 0)
    assert stats.failed == 0
    with store.transaction() as conn:
        assert watermark.current(conn) == 0
    assert p.run_once().claimed == 0
    # A worker started later finds nothing to decide either.
    assert pipeline(store, worker="w2").run_once().claimed == 0
    assert store.inbox.list(status="failed") == []


def test_readers_leave_progress_out(store: Store) -> None:
    pay = ticket("PAY-101", "ben.carter")
    # Diego only ever shows progress: no reader may count him as learning anything.
    only = [progress("diego.ramirez"), progress("diego.ramirez", FLAGS_LESSON, 3, "progressed")]
    store_all(store, [*signals(), *only, completion("ben.carter"), *worked(pay, DONE_AT)])

    kinds = {type(e) for e in events_from_inbox(store)}
    assert kinds == {Completion, TicketTransition}
    _, last = engine_from_inbox(store, MANIFEST)
    assert last == store.inbox.last_id()

    activity = read_activity(store, MANIFEST)
    assert {person for person, _ in activity.learning} == {"ben.carter"}
    sprint = MANIFEST.sprints[0]
    assert [c.person for c in completions_in(store, MANIFEST, sprint)] == ["ben.carter"]

    pipeline(store).run_once()
    assert [i.natural_key for i in store.inbox.list(status="failed")] == []


# -- skillrelay events ----------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    cli = Cli(tmp_path, monkeypatch, capsys)
    with Store.open(os.environ[DATABASE_ENV]) as store:
        store_all(store, [progress("ben.carter"), completion("ben.carter")])
    return cli


def test_events_shows_progress_as_started(cli: Cli) -> None:
    viewed, completed = cli.events()
    assert (viewed["kind"], viewed["source"], viewed["person"]) == (
        "progress",
        "xapi",
        "ben.carter",
    )
    assert viewed["skills"] == ["sql-indexing"]
    assert viewed["what"] == "viewed sql-query-plans"
    assert viewed["happened"] == "started 'Reading a query plan' (viewed)"
    assert viewed["natural_key"] == progress("ben.carter").natural_key
    assert completed["happened"] == "completed 'Reading a query plan'"

    result = cli("events")
    assert result.code == 0, result.err
    head, first, second = result.out.splitlines()
    assert head.split()[-1] == "what" and second.endswith("completed 'Reading a query plan'")
    assert first.endswith("started 'Reading a query plan' (viewed)")
    assert "ben.carter" in first and "sql-indexing" in first

    only_xapi = cli("events", "--source", "xapi", "--json")
    assert only_xapi.code == 0 and "progress" in only_xapi.out and "completion" not in only_xapi.out


def test_progress_of_a_module_no_longer_listed_shows_its_key(cli: Cli) -> None:
    with Store.open(os.environ[DATABASE_ENV]) as store:
        store_all(store, [progress("ben.carter", "https://lms.northwind.example/gone", 9)])
    last = cli.events()[-1]
    assert last["happened"] == "started https://lms.northwind.example/gone (viewed)"
    assert last["skills"] == []


def test_progress_never_shows_as_failed(cli: Cli) -> None:
    assert cli("worker", "--once", "--pipeline-only").code == 0
    result = cli("events", "--failed")
    assert result.code == 0 and result.out.strip() == "no failed events"
    assert {r["status"] for r in cli.events()} == {"processed"}
