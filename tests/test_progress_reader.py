"""read_started: who started which module and when they completed it, read incrementally."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from plugin.domain import (
    Completion,
    CompletionState,
    PersonRef,
    Progress,
    ProgressVerb,
    TicketTransition,
)
from plugin.notify.progress import Started, merge, read_started
from plugin.store import Store
from plugin.sync import inbox_event
from tests.test_pipeline_support import MANIFEST, NOW, SQL, T0, completion, ticket, worked

SQL_PAGE = "https://lms.northwind.example/mod/page/view.php?id=2101"  # the same module as SQL
COMPOSITE = "https://lms.northwind.example/mod/quiz/view.php?id=2102"
FLAGS = "moodle:cm:2201"
Event = Completion | TicketTransition | Progress


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def xapi(person: str) -> PersonRef:
    email = MANIFEST.people_by_id[person].email if person in MANIFEST.people_by_id else None
    email = email or f"{person}@elsewhere.example"
    return PersonRef(system="xapi", id=f"mbox:mailto:{email}", email=email)


def progress(
    person: str, module: str = SQL_PAGE, hours: float = 0, verb: ProgressVerb = "viewed"
) -> Progress:
    return Progress(
        source="xapi",
        natural_key=f"stmt:{person}:{module}:{hours}:{verb}",
        person=xapi(person),
        module=module,
        verb=verb,
        at=at(hours),
    )


def state(person: str, module: str, hours: float, value: CompletionState) -> Completion:
    return completion(person, module, at(hours), value)


def put(store: Store, events: Iterable[Event]) -> None:
    store.inbox.add_many([inbox_event(e, None, NOW) for e in events])


def started(
    person: str, module: str, skill: str, first: float, done: float | None = None
) -> Started:
    return Started(person, module, skill, at(first), at(done) if done is not None else None)


FIRST: list[Event] = [
    # Ben: viewed the page (xAPI key), failed its Moodle completion earlier (Moodle key).
    progress("ben.carter", SQL_PAGE, 2),
    state("ben.carter", SQL, 1, CompletionState.FAILED),
    # Chloe: launched, then passed and completed (the earliest counting one wins).
    progress("chloe.nguyen", SQL_PAGE, 3, "launched"),
    state("chloe.nguyen", SQL, 6, CompletionState.COMPLETE),
    state("chloe.nguyen", SQL, 5, CompletionState.PASSED),
    # Diego: only a completion, of another skill's module.
    state("diego.ramirez", FLAGS, 4, CompletionState.COMPLETE),
    # Ignored: a person nobody claims, a module the manifest does not list, a ticket.
    progress("stranger", SQL_PAGE, 0),
    progress("ben.carter", "https://lms.northwind.example/mod/page/view.php?id=9999", 0),
    *worked(ticket("PAY-1", "ben.carter"), at(8)),
]
SECOND: list[Event] = [
    progress("ben.carter", SQL_PAGE, 0.5, "resumed"),  # stored later, happened earlier
    state("ben.carter", SQL, 9, CompletionState.COMPLETE),
    progress("farah.haddad", COMPOSITE, 7, "attempted"),
    state("farah.haddad", COMPOSITE, 8, CompletionState.INCOMPLETE),
    progress("chloe.nguyen", SQL_PAGE, 10, "viewed"),  # reviewing after completing
]
EXPECTED = {
    ("ben.carter", "sql-query-plans"): started(
        "ben.carter", "sql-query-plans", "sql-indexing", 0.5, 9
    ),
    ("chloe.nguyen", "sql-query-plans"): started(
        "chloe.nguyen", "sql-query-plans", "sql-indexing", 3, 5
    ),
    ("diego.ramirez", "flags-lifecycle"): started(
        "diego.ramirez", "flags-lifecycle", "feature-flags", 4, 4
    ),
    ("farah.haddad", "sql-composite-indexes"): started(
        "farah.haddad", "sql-composite-indexes", "sql-indexing", 7
    ),
}


def test_first_and_completed_times_from_mixed_events(store: Store) -> None:
    put(store, [*FIRST, *SECOND])
    found, last = read_started(store, MANIFEST)
    assert found == EXPECTED
    assert last == store.inbox.last_id()


def test_what_the_first_events_show_on_their_own(store: Store) -> None:
    put(store, FIRST)
    found, _ = read_started(store, MANIFEST)
    assert found == {
        ("ben.carter", "sql-query-plans"): started(
            "ben.carter", "sql-query-plans", "sql-indexing", 1
        ),
        ("chloe.nguyen", "sql-query-plans"): started(
            "chloe.nguyen", "sql-query-plans", "sql-indexing", 3, 5
        ),
        ("diego.ramirez", "flags-lifecycle"): started(
            "diego.ramirez", "flags-lifecycle", "feature-flags", 4, 4
        ),
    }


def test_incremental_reads_merge_into_one_full_read(store: Store) -> None:
    put(store, FIRST)
    known, last = read_started(store, MANIFEST)
    put(store, SECOND)

    newer, latest = read_started(store, MANIFEST, after_id=last)

    assert latest == store.inbox.last_id() > last
    assert set(newer) == {
        ("ben.carter", "sql-query-plans"),
        ("farah.haddad", "sql-composite-indexes"),
        ("chloe.nguyen", "sql-query-plans"),
    }  # only what the newer rows show
    older = dict(known)
    merge(known, newer)
    assert known == EXPECTED
    merge(newer, older)  # in either order
    assert newer == EXPECTED
    assert read_started(store, MANIFEST, after_id=latest) == ({}, latest)  # nothing new


def test_reading_rows_again_changes_nothing(store: Store) -> None:
    put(store, [*FIRST, *SECOND])
    known, last = read_started(store, MANIFEST)
    again, _ = read_started(store, MANIFEST, after_id=max(0, last - 4))  # an overlap
    merge(known, again)
    assert known == EXPECTED
    merge(known, read_started(store, MANIFEST)[0])
    assert known == EXPECTED


def test_set_aside_completions_and_unknown_people_are_left_out(store: Store) -> None:
    put(store, [state("ben.carter", SQL, 1, CompletionState.COMPLETE)])
    (item,) = store.inbox.list(kind="completion")
    store.inbox.mark_failed(item.id, "could not be decided: a test")
    put(store, [progress("stranger", SQL_PAGE, 2), progress("ben.carter", SQL_PAGE, 3)])

    found, last = read_started(store, MANIFEST)

    assert found == {
        ("ben.carter", "sql-query-plans"): started(
            "ben.carter", "sql-query-plans", "sql-indexing", 3
        )
    }
    assert last == store.inbox.last_id()


def test_a_mapped_identity_counts_from_the_next_read(store: Store) -> None:
    put(store, [progress("stranger", SQL_PAGE, 2)])
    assert read_started(store, MANIFEST)[0] == {}
    store.identities.map("xapi", xapi("stranger").id, "kofi.asante")
    found, _ = read_started(store, MANIFEST)
    assert found == {
        ("kofi.asante", "sql-query-plans"): started(
            "kofi.asante", "sql-query-plans", "sql-indexing", 2
        )
    }


def test_inside_the_callers_transaction(store: Store) -> None:
    put(store, [*FIRST, *SECOND])
    with store.transaction() as conn:  # on SQLite it holds the write lock throughout
        found, last = read_started(store, MANIFEST, conn=conn)
        later, same = read_started(store, MANIFEST, after_id=last, conn=conn)
    assert found == EXPECTED and last == store.inbox.last_id()
    assert (later, same) == ({}, last)
