"""sync_source: events land in the inbox before their cursor moves; failures keep what landed."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

from plugin.domain import Completion, CompletionState, PersonRef
from plugin.errors import RetriableError
from plugin.ports import Batch
from plugin.store import Store
from plugin.sync import sync_source

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def completion(n: int) -> Completion:
    return Completion(
        source="xapi",
        natural_key=f"stmt-{n}",
        person=PersonRef(system="xapi", id=f"mbox:mailto:p{n}@x.example"),
        module="https://lms.example/mod/page/view.php?id=1",
        state=CompletionState.COMPLETE,
        at=NOW - timedelta(hours=n),
    )


class FakeSource:
    """Pages of events with cursors; can fail after some pages like a real LRS going down."""

    name = "xapi"

    def __init__(self, pages: list[list[int]], fail_after: int | None = None) -> None:
        self.pages = pages
        self.fail_after = fail_after
        self.seen_cursors: list[Mapping[str, str | None]] = []

    def pull(self, cursors: Mapping[str, str | None], now: datetime) -> Iterator[Batch]:
        self.seen_cursors.append(dict(cursors))
        for index, page in enumerate(self.pages):
            if self.fail_after is not None and index == self.fail_after:
                raise RetriableError("xapi", "Service Unavailable", 503)
            cursor = (NOW - timedelta(days=10 - index)).isoformat()
            events = [completion(n) for n in page]
            yield Batch(
                "statements", events, cursor, fetched=len(page), raw=[{"n": n} for n in page]
            )


def test_events_and_cursor_are_stored(store: Store) -> None:
    summary = sync_source(FakeSource([[1, 2], [3]]), store, NOW)
    assert (summary.fetched, summary.new, summary.duplicates, summary.ok) == (3, 3, 0, True)
    assert {i.natural_key for i in store.inbox.list()} == {"stmt-1", "stmt-2", "stmt-3"}
    assert store.inbox.list()[0].raw == {"n": 3}
    assert store.cursors.get("xapi", "statements") == (NOW - timedelta(days=9)).isoformat()


def test_a_second_sync_sees_its_cursor_and_counts_duplicates(store: Store) -> None:
    sync_source(FakeSource([[1, 2]]), store, NOW)
    again = FakeSource([[2, 3]])
    summary = sync_source(again, store, NOW)
    assert again.seen_cursors == [{"statements": (NOW - timedelta(days=10)).isoformat()}]
    assert (summary.new, summary.duplicates) == (1, 1)


def test_a_failure_keeps_the_pages_already_stored(store: Store) -> None:
    summary = sync_source(FakeSource([[1], [2], [3]], fail_after=2), store, NOW)
    assert not summary.ok
    assert "503" in (summary.stopped or "")
    assert summary.new == 2
    # The cursor stands where the last stored page left it, so nothing is skipped next time.
    assert store.cursors.get("xapi", "statements") == (NOW - timedelta(days=9)).isoformat()


def test_dry_run_stores_nothing(store: Store) -> None:
    summary = sync_source(FakeSource([[1, 2]]), store, NOW, dry_run=True)
    assert summary.new == 2
    assert store.inbox.list() == []
    assert store.cursors.get("xapi", "statements") is None


def test_progress_is_reported_per_batch(store: Store) -> None:
    calls: list[tuple[str, int]] = []
    sync_source(FakeSource([[1, 2], [3]]), store, NOW, progress=lambda s, n: calls.append((s, n)))
    assert calls == [("xapi", 2), ("xapi", 1)]
