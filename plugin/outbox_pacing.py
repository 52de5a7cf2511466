"""How long the outbox leaves a target alone after it failed, and how long an effect may wait.

- One pause per target, shared by every batch of a worker: a target that answered 429 or
  503 (or refused our credentials) gets no request until the pause ends, so its effects wait
  without spending attempts. The pause is the longer of the server's Retry-After and a
  backoff that doubles with the target's consecutive failures (capped, with jitter); a
  success ends it.
- An effect's retry budget is time, not attempts: it is dead-lettered only when it fails
  (or waits on its failing target) once `budget` has passed since it was first due.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from plugin.errors import RetriableError

Backoff = Callable[[int], float]
BACKOFF_BASE = 30.0  # seconds of the first pause of a failing target
BACKOFF_CAP = 3600.0  # no pause the backoff sets is longer (a Retry-After may be)
RETRY_BUDGET = timedelta(hours=24)  # an effect is dead once this has passed since it was due


def exponential_backoff(
    base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP, jitter: float | None = None
) -> Backoff:
    """Seconds to wait after failure `n` (1-based): base * 2^(n-1) plus up to `jitter`
    (default `base`) seconds, never more than `cap`; a wait at the cap is up to `jitter`
    seconds shorter, so workers that reached it do not come back in step."""
    spread = base if jitter is None else jitter

    def backoff(failures: int) -> float:
        grown = base * 2.0 ** min(max(1, failures) - 1, 64) + spread
        return min(grown, cap) - random.uniform(0, spread)

    return backoff


@dataclass(frozen=True)
class Pause:
    until: datetime
    why: str


class Pacing:
    """The pauses of one worker's targets."""

    def __init__(self, backoff: Backoff) -> None:
        self.backoff = backoff
        self.pauses: dict[str, Pause] = {}
        self.failures: Counter[str] = Counter()  # consecutive, per target

    def paused(self, target: str, now: datetime) -> Pause | None:
        pause = self.pauses.get(target)
        return pause if pause is not None and pause.until > now else None

    def failed(self, target: str, exc: RetriableError, now: datetime) -> Pause:
        self.failures[target] += 1
        wait = max(exc.retry_after or 0.0, self.backoff(self.failures[target]))
        return self._pause(target, now + timedelta(seconds=wait), str(exc))

    def refused(self, target: str, now: datetime) -> Pause:
        wait = self.backoff(1)
        why = f"{target} refused our credentials"
        return self._pause(target, now + timedelta(seconds=wait), why)

    def answered(self, target: str) -> None:
        """The target answered (a success, or a refusal that is the effect's own)."""
        self.failures.pop(target, None)
        self.pauses.pop(target, None)

    def _pause(self, target: str, until: datetime, why: str) -> Pause:
        current = self.pauses.get(target)
        if current is not None and current.until > until:
            until = current.until  # a pause is never shortened by a later, shorter one
        pause = self.pauses[target] = Pause(until, why)
        return pause


def spent(created_at: datetime, budget: timedelta, now: datetime) -> bool:
    """Whether an effect first due at `created_at` has used up its retry budget."""
    return now >= created_at + budget


def duration(span: timedelta) -> str:
    """24h, 90m, 45s: the budget as people write it."""
    seconds = int(span.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
