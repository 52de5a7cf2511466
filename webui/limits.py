"""The sign-in rate limit: failed attempts per person id and per client address.

Kept in this process's memory: a restart forgets it, and several `serve` processes each
count on their own (N processes allow N times the attempts). That is enough to stop online
guessing at Argon2's pace; put a shared limiter in front when that is not enough.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

FAILURES = 5
WINDOW_SECONDS = 15 * 60
MAX_KEYS = 100_000  # the oldest keys are forgotten past this: memory stays bounded


class LoginLimiter:
    def __init__(
        self,
        failures: int = FAILURES,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = failures
        self.window = window
        self.clock = clock
        self._seen: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        found = self._seen.get(key)
        if found is None:
            return deque()
        while found and found[0] <= now - self.window:
            found.popleft()
        if not found:
            del self._seen[key]
        return found

    def blocked(self, person: str, addr: str) -> bool:
        """Whether the person id or the address used up its failures in the window."""
        now = self.clock()
        with self._lock:
            return any(
                len(self._recent(key, now)) >= self.failures
                for key in (("person", person), ("addr", addr))
            )

    def failed(self, person: str, addr: str) -> None:
        now = self.clock()
        with self._lock:
            for key in (("person", person), ("addr", addr)):
                self._recent(key, now)
                self._seen.setdefault(key, deque()).append(now)
                self._seen.move_to_end(key)
            while len(self._seen) > MAX_KEYS:
                self._seen.popitem(last=False)

    def succeeded(self, person: str) -> None:
        """A person who signs in starts afresh; the address keeps its count (one account
        that works must not reset the count of guesses at others)."""
        with self._lock:
            self._seen.pop(("person", person), None)
