"""Keeping an outbox worker's leases for as long as it works on its batch.

- `Heartbeat`: a thread that renews, every third of the lease, the leases of the effects
  the worker still holds (the one in hand, those not reached yet, those delivered but not
  recorded yet). A send that outlasts the lease (a slow Jira) keeps its effect; only a
  worker that stopped renewing (killed, hung, or cut off from the store for a whole lease)
  loses its effects to another worker.
- `ClaimSize`: how many effects to claim: what the worker delivers in half a lease at the
  pace it measured (at most `batch`; a full batch until it has measured one), so a batch
  ends well inside its lease even if the heartbeat falls behind, and idle workers find
  work to share.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from plugin.store.outbox import Outbox

log = logging.getLogger("skillrelay.outbox")
BEATS_PER_LEASE = 3  # renewals per lease: two may be late before the lease lapses
LEASE_SHARE = 0.5  # a claim is sized to take this share of the lease
# Seconds per effect before any was measured: as fast as an LRS statement, so a new worker
# claims a full batch, as it always did, until it knows its pace (the heartbeat holds it).
FIRST_GUESS = 0.01


class Heartbeat:
    def __init__(
        self,
        outbox: Outbox,
        worker: str,
        lease_seconds: float,
        now: Callable[[], datetime],
    ) -> None:
        self.outbox = outbox
        self.worker = worker
        self.lease = timedelta(seconds=lease_seconds)
        self.interval = lease_seconds / BEATS_PER_LEASE
        self.now = now
        self._held: set[int] = set()
        self._lock = threading.Lock()
        # Held by whoever writes many of the batch's rows at once (a renewal, a start, the
        # batch's successes): two such statements from one worker could otherwise lock the
        # same rows in different orders on PostgreSQL and deadlock.
        self.writing = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-lease", daemon=True)

    def hold(self, ids: Iterable[int]) -> None:
        with self._lock:
            self._held.update(ids)

    def held(self) -> set[int]:
        with self._lock:
            return set(self._held)

    def release(self, ids: Iterable[int]) -> None:
        """The outcome of `ids` is recorded (or their lease was lost): renew them no more."""
        with self._lock:
            self._held.difference_update(ids)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                ids = sorted(self._held)
            if not ids:
                continue
            try:
                with self.writing:
                    kept = self.outbox.renew(ids, self.worker, self.now() + self.lease)
            except Exception:  # the store is away: try again on the next beat
                log.warning("outbox worker %s: could not renew its leases", self.worker)
                continue
            if len(kept) < len(ids):
                log.warning(
                    "outbox worker %s: %d lease(s) passed to another worker",
                    self.worker,
                    len(ids) - len(kept),
                )
                self.release(set(ids) - kept)


class ClaimSize:
    def __init__(self, batch: int, lease_seconds: float) -> None:
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.per_effect = FIRST_GUESS
        self.guessing = True

    def limit(self) -> int:
        fits = int(self.lease_seconds * LEASE_SHARE / self.per_effect)
        return max(1, min(self.batch, fits))

    def measured(self, tried: int, seconds: float) -> None:
        """A batch tried `tried` effects in `seconds`: follow the pace, the last batches
        weighing most (the first replaces the guess)."""
        if tried:
            pace = seconds / tried
            self.per_effect = max(1e-4, pace if self.guessing else (self.per_effect + pace) / 2)
            self.guessing = False
