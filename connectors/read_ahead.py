"""Fetching the next page while the caller works on this one.

A pull alternates between waiting for the server and mapping and storing what it sent; the
two can overlap. `read_ahead` runs the page iterator in a thread of its own, one page
ahead of the caller.

Closing the generator returns at once, even with a fetch in flight (a slow server, retries
with back-off): the thread finishes that fetch, drops the page and closes the iterator. It
is a daemon thread, so it never holds up the process's exit. Nothing fetched after the
caller stopped is handed over, so a stopped pull leaves its cursor where the last page it
took left it.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Generator, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


def read_ahead(pages: Iterator[T], name: str = "read-ahead") -> Generator[T, None, None]:
    """What `pages` yields, in order, each next page fetched while the caller holds the last.

    An exception raised by `pages` is raised here, after the pages before it."""
    ready: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for page in pages:
                ready.put(("page", page))
                if stop.is_set():
                    return
            ready.put(("done", None))
        except BaseException as exc:  # handed to the caller, raised in its thread
            ready.put(("error", exc))
        finally:
            try:
                close = getattr(pages, "close", None)
                if close is not None:
                    close()
            except Exception:
                log.exception("%s: closing the pages failed", name)

    threading.Thread(target=fetch, name=name, daemon=True).start()
    try:
        while True:
            kind, value = ready.get()
            if kind == "page":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):  # free the slot a waiting fetcher needs to end
            ready.get_nowait()
