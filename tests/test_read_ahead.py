"""connectors.read_ahead: the next page is fetched while the caller holds this one, in order,
errors where they happened, and a caller that stops never waits for a fetch in flight."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from connectors.read_ahead import read_ahead
from plugin.errors import ConnectorError

WAIT = 10.0  # seconds: only reached when the behaviour is broken


def test_pages_come_in_order_and_an_error_after_the_pages_before_it() -> None:
    def pages() -> Iterator[int]:
        yield 1
        yield 2
        raise ConnectorError("lrs", "page 3: 503")

    taken: list[int] = []
    with pytest.raises(ConnectorError, match="page 3: 503"):
        for page in read_ahead(pages()):
            taken.append(page)
    assert taken == [1, 2]


def test_every_page_of_a_long_walk_arrives_once() -> None:
    assert list(read_ahead(iter(range(1000)))) == list(range(1000))


def test_the_next_page_is_fetched_while_the_caller_holds_this_one() -> None:
    asked_for_second = threading.Event()

    def pages() -> Iterator[str]:
        yield "first"
        asked_for_second.set()
        yield "second"

    walk = read_ahead(pages())
    assert next(walk) == "first"
    # The caller is still working on "first": the fetch of "second" has started anyway.
    assert asked_for_second.wait(WAIT)
    assert list(walk) == ["second"]


def test_stopping_does_not_wait_for_the_fetch_in_flight_and_drops_its_page() -> None:
    in_flight, release, closed = threading.Event(), threading.Event(), threading.Event()

    def pages() -> Iterator[str]:
        try:
            yield "first"
            in_flight.set()
            release.wait(WAIT)  # a slow server, or retries with back-off
            yield "second"
            yield "third"
        finally:
            closed.set()

    walk = read_ahead(pages(), "test-read-ahead")
    assert next(walk) == "first"
    assert in_flight.wait(WAIT)
    fetcher = next(t for t in threading.enumerate() if t.name == "test-read-ahead")
    assert fetcher.daemon  # never holds up the process's exit

    stopper = threading.Thread(target=walk.close)
    stopper.start()
    stopper.join(WAIT / 2)
    assert not stopper.is_alive(), "closing waited for the page in flight"
    assert not closed.is_set()

    release.set()  # the fetch ends: its page is dropped and the pages are closed
    assert closed.wait(WAIT)
    fetcher.join(WAIT)
    assert not fetcher.is_alive()
