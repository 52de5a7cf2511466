"""An event that can never be stored or decided is quarantined with its reason; it never
blocks the events around it (#10)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from plugin.domain import Completion, PersonRef, TicketTransition
from plugin.engine import Engine
from plugin.pipeline import pipeline as pipeline_module
from plugin.pipeline.reconcile import Reconciler
from plugin.store import Store
from plugin.store.base import utc_now
from plugin.store.identities import Identities
from tests.test_pipeline_support import (
    T0,
    award_of,
    completion,
    drain,
    pipeline,
    put,
    ticket,
    worked,
)

DAY = T0 + timedelta(days=1)
POISON = {
    "surrogate in the key": {"key": "PAY-\ud800"},
    "surrogate in the assignee": {
        "assignee": PersonRef(system="jira", id="acc-\udfff", display_name="Eve")
    },
    "NUL in the summary": {"summary": "work\x00"},
}


@pytest.mark.parametrize("poison", sorted(POISON), ids=sorted(POISON))
def test_a_poison_event_is_quarantined_and_the_rest_decided(store: Store, poison: str) -> None:
    bad = ticket("PAY-9", "chloe.nguyen").model_copy(update=POISON[poison])
    poisoned = [
        t.model_copy(update={"ticket": bad}) for t in worked(ticket("PAY-9", "chloe.nguyen"), DAY)
    ]
    good = ticket("PAY-1", "ben.carter")
    events = [completion("ben.carter"), completion("chloe.nguyen")]
    events += poisoned + worked(good, DAY + timedelta(hours=1))
    put(store, events)
    a, b = pipeline(store, worker="a"), pipeline(store, worker="b")
    drain(a)
    drain(b)
    assert award_of(store, "ben.carter", "PAY-1").state == "pending_approval"
    counts = store.inbox.count_by_status()
    assert (counts["new"], counts["failed"]) == (0, 2), counts
    failed = [i for i in store.inbox.list(status="failed")]
    assert all("cannot be stored" in (i.error or "") for i in failed), [i.error for i in failed]


def test_the_reason_names_the_field(store: Store) -> None:
    bad = ticket("PAY-9", "chloe.nguyen").model_copy(update={"summary": "a\x00b"})
    put(store, [t.model_copy(update={"ticket": bad}) for t in worked(bad, DAY)])
    drain(pipeline(store))
    [first, *_] = store.inbox.list(status="failed")
    assert first.error == (
        "unreadable ticket payload: payload: Value error, ticket.summary: contains a NUL "
        "character; it cannot be stored"
    )


# -- events that fail when decided: set aside, found by name or by halving the batch --------

BAD = "PAY-9"


def refuse_in_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Engines fail on PAY-9 (a fault no door check foresaw)."""
    add = Engine.add

    def engine_add(self: Engine, event: Any) -> Any:
        if isinstance(event, TicketTransition) and event.ticket.key == BAD:
            raise ValueError("no engine takes PAY-9")
        return add(self, event)

    monkeypatch.setattr(Engine, "add", engine_add)


def refuse_in_identities(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    """Recording PAY-9's assignee fails: the whole batch's write fails, naming no event."""
    record = Identities.record

    def identities_record(self: Identities, sightings: Any, **kw: Any) -> None:
        sightings = list(sightings)
        if any(s.external_id == "acc-eve" for s in sightings):
            raise error
        record(self, sightings, **kw)

    monkeypatch.setattr(Identities, "record", identities_record)


EVE = PersonRef(system="jira", id="acc-eve", display_name="Eve")


def story(store: Store, bad_assignee: PersonRef | str = "chloe.nguyen") -> None:
    """Ben and Diego earn awards on PAY-1 and PAY-2; PAY-9 is worked in between."""
    events: list[Completion | TicketTransition] = [
        completion(name) for name in ("ben.carter", "diego.ramirez", "chloe.nguyen")
    ]
    events += worked(ticket("PAY-1", "ben.carter"), DAY)
    events += worked(ticket(BAD, bad_assignee), DAY + timedelta(minutes=30))
    events += worked(ticket("PAY-2", "diego.ramirez"), DAY + timedelta(hours=1))
    put(store, events)


def set_aside(store: Store) -> dict[str, str]:
    return {i.natural_key: i.error or "" for i in store.inbox.list(status="failed")}


def test_an_event_the_engine_fails_on_is_set_aside_by_name(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_in_engine(monkeypatch)
    story(store)
    stats = drain(pipeline(store))
    assert award_of(store, "ben.carter", "PAY-1").state == "pending_approval"
    assert award_of(store, "diego.ramirez", "PAY-2").state == "pending_approval"
    aside = set_aside(store)
    assert len(aside) == 2 and stats.failed == 2  # PAY-9 started, and done
    assert all(
        r == "could not be decided: ValueError: no engine takes PAY-9" for r in aside.values()
    )
    assert store.inbox.count_by_status()["new"] == 0
    # A worker started afterwards reads the inbox without them, and has nothing to do.
    assert drain(pipeline(store, worker="later")).failed == 0


def test_an_event_another_worker_holds_is_set_aside_by_whoever_meets_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_in_engine(monkeypatch)
    put(store, [completion("ben.carter"), completion("chloe.nguyen")])
    put(store, worked(ticket(BAD, "chloe.nguyen"), DAY))
    store.inbox.claim(10, "sleeping")  # holds PAY-9's events until its lease runs out
    put(store, worked(ticket("PAY-1", "ben.carter"), DAY + timedelta(hours=1)))
    drain(pipeline(store, worker="awake"))
    assert award_of(store, "ben.carter", "PAY-1").state == "pending_approval"
    assert len(set_aside(store)) == 2


def test_a_batch_that_fails_as_a_whole_is_halved_until_the_event_is_found(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_in_identities(monkeypatch, ValueError("an assignee no store takes"))
    story(store, bad_assignee=EVE)
    drain(pipeline(store))
    assert award_of(store, "ben.carter", "PAY-1").state == "pending_approval"
    assert award_of(store, "diego.ramirez", "PAY-2").state == "pending_approval"
    assert (
        sorted(set_aside(store).values())
        == ["could not be decided: ValueError: an assignee no store takes"] * 2
    )
    assert store.inbox.count_by_status() == {**store.inbox.count_by_status(), "new": 0}


def test_a_database_failure_is_blamed_on_no_event(
    store: Store, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_in_identities(monkeypatch, OperationalError("INSERT", {}, Exception("server gone")))
    story(store, bad_assignee=EVE)
    with pytest.raises(OperationalError):
        pipeline(store).run_once()
    assert set_aside(store) == {}
    assert store.inbox.count_by_status()["new"] == 9  # kept, to be decided again
    monkeypatch.undo()  # the database is back; the claim's lease runs out
    with Store.open(store_url, clock=lambda: utc_now() + timedelta(hours=1)) as later:
        drain(pipeline(later, worker="w2"))
    assert set_aside(store) == {}
    assert award_of(store, "ben.carter", "PAY-1").state == "pending_approval"


def test_a_fault_in_every_transaction_is_blamed_on_no_event(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise KeyError("a bug, not an event")

    story(store)
    monkeypatch.setattr(Reconciler, "flush", broken)
    with pytest.raises(KeyError):
        pipeline(store).run_once()
    assert set_aside(store) == {}
    assert store.inbox.count_by_status()["failed"] == 0


# -- a burst of bad events: each run sets some aside for good, none waits for a lease --------

BURST = 12  # tickets, two events each: more than any one run used to set aside


def refuse_all_bad(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """Engines refuse BAD- tickets, or the identities store refuses acc-eve- assignees."""
    if where == "engine":
        add = Engine.add

        def engine_add(self: Engine, event: Any) -> Any:
            if isinstance(event, TicketTransition) and event.ticket.key.startswith("BAD-"):
                raise ValueError(f"no engine takes {event.ticket.key}")
            return add(self, event)

        monkeypatch.setattr(Engine, "add", engine_add)
        return
    record = Identities.record

    def identities_record(self: Identities, sightings: Any, **kw: Any) -> None:
        sightings = list(sightings)
        if any(s.external_id.startswith("acc-eve-") for s in sightings):
            raise ValueError("an assignee no store takes")
        record(self, sightings, **kw)

    monkeypatch.setattr(Identities, "record", identities_record)


def burst(where: str) -> list[TicketTransition]:
    events = []
    for n in range(BURST):
        eve = PersonRef(system="jira", id=f"acc-eve-{n}", display_name="Eve")
        who: PersonRef | str = eve if where == "identities" else "chloe.nguyen"
        events += worked(ticket(f"BAD-{100 + n}", who), DAY + timedelta(minutes=n))
    return events


@pytest.mark.parametrize("where", ["engine", "identities"])
def test_a_burst_of_bad_events_is_set_aside_however_many(
    store: Store, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    refuse_all_bad(monkeypatch, where)
    put(store, burst(where))  # nothing else: no event decides to carry the set-aside ones
    a, b = pipeline(store, worker="a"), pipeline(store, worker="b")
    drain(a)
    drain(b)
    assert len(set_aside(store)) == 2 * BURST
    assert store.inbox.count_by_status()["new"] == 0
    put(store, [completion("ben.carter"), *worked(ticket("PAY-1", "ben.carter"), DAY)])
    drain(a)
    assert award_of(store, "ben.carter", "PAY-1").state == "pending_approval"


@pytest.mark.parametrize("where", ["engine", "identities"])
def test_every_run_keeps_what_it_set_aside_and_frees_the_rest_of_its_claim(
    store: Store, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    refuse_all_bad(monkeypatch, where)
    monkeypatch.setattr(pipeline_module, "MAX_TRIES", 4)  # runs stop early, often
    put(store, [completion("ben.carter"), *burst(where)])
    put(store, worked(ticket("PAY-1", "ben.carter"), DAY + timedelta(hours=1)))
    first = pipeline(store, worker="a")
    runs = 0
    while waiting := store.inbox.count_by_status()["new"]:
        first.run_once()  # never raises: bad events are no fault of the pipeline
        runs += 1
        assert store.inbox.count_by_status()["new"] < waiting  # kept something
        if runs % 2:
            first = pipeline(store, worker=f"a{runs}")  # a restart keeps what was set aside
    assert len(set_aside(store)) == 2 * BURST
    assert runs > 2  # runs stopped early; the clock stands still, so no lease ran out
    assert award_of(store, "ben.carter", "PAY-1").state == "pending_approval"


# -- events given back after a fix: every worker counts them, not only the one deciding -----


@pytest.mark.parametrize("b_starts", ["before", "after"])
def test_an_event_given_back_counts_in_every_workers_engine(
    store: Store, monkeypatch: pytest.MonkeyPatch, b_starts: str
) -> None:
    """Chloe's completion fails in every engine until the fault is fixed; it is given back,
    worker a decides it, and worker b, which read it set aside (or loaded without it),
    then awards her ticket."""
    add = Engine.add

    def engine_add(self: Engine, event: Any) -> Any:
        if isinstance(event, Completion) and event.person.id == "103":
            raise ValueError("no engine takes chloe's completion")
        return add(self, event)

    monkeypatch.setattr(Engine, "add", engine_add)
    a = pipeline(store, worker="a")
    b = pipeline(store, worker="b") if b_starts == "before" else None
    put(store, [completion("ben.carter"), completion("chloe.nguyen")])
    drain(a)
    if b is None:  # loads from the inbox, reading no row twice: only the load sees it
        monkeypatch.setattr(pipeline_module, "START_RECHECK", 0)
        b = pipeline(store, worker="b")
    drain(b)  # reads the rows stored since it started
    assert list(set_aside(store)) == [completion("chloe.nguyen").natural_key]
    monkeypatch.undo()  # fixed
    assert len(store.inbox.retry_failed()) == 1
    assert drain(a).processed == 1
    put(store, worked(ticket("PAY-2", "chloe.nguyen"), DAY))
    assert drain(b).processed == 2
    assert award_of(store, "chloe.nguyen", "PAY-2").state == "pending_approval"
