"""The outbox worker: lease due effects, hand each to its target's sender, record the outcome.

- success: done;
- RetriableError (429, 5xx, connection): pending again at now + max(Retry-After, backoff),
  where backoff is tenacity's capped exponential wait with jitter on the attempt number;
  the target's other effects in this batch wait too (a target that is down is not hammered,
  and its items keep their place until it is back);
- AuthError: dead (an admin must fix the credentials; /readyz reports dead letters), and
  the target's other effects in this batch wait for the next run instead of dying with it;
- FatalError or any other exception: dead, with the message;
- `max_attempts` claims without success: dead. `skillrelay outbox retry ID` revives one.

A sender with `send_many` (`BatchSender`, the LRS's) gets all its target's effects of the
batch in one call, made before the other targets' per-effect calls; a RetriableError of
the call retries (or, past `max_attempts`, kills) each of them as above, an AuthError
dead-letters each of them, and otherwise each effect's own outcome (done, or dead with its
error) is recorded. The batch's successes are recorded together at its end.

Senders make delivery idempotent at the target, so an effect sent twice (a lease that
lapsed, a crash before mark_done) changes the target once.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType
from typing import Protocol, runtime_checkable

import tenacity

from plugin.effects import Effect, EffectSender
from plugin.errors import AuthError, ConnectorError, RetriableError
from plugin.store import Store
from plugin.store.models import OutboxItem

log = logging.getLogger("skillrelay.outbox")

Backoff = Callable[[int], float]
BACKOFF_BASE = 30.0  # seconds before the second attempt
BACKOFF_CAP = 3600.0  # no wait between attempts is longer (8 attempts span about an hour)


def exponential_backoff(
    base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP, jitter: float | None = None
) -> Backoff:
    """Seconds to wait after failed attempt `n` (1-based): tenacity's wait_exponential_jitter."""
    wait = tenacity.wait_exponential_jitter(
        multiplier=base, max=cap, jitter=base if jitter is None else jitter
    )

    def backoff(attempt: int) -> float:
        state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
        state.attempt_number = max(1, attempt)
        return float(wait(state))

    return backoff


@runtime_checkable
class BatchSender(Protocol):
    """An EffectSender that can also deliver many effects of its target in one call.

    `send_many` returns each effect's outcome, in order: None (delivered) or the exception
    that dead-letters it; a RetriableError or AuthError it raises holds for all of them."""

    def send(self, effect: Effect) -> None: ...

    def send_many(self, effects: Sequence[Effect]) -> Sequence[Exception | None]: ...


@dataclass
class DeliveryStats:
    claimed: int = 0
    done: int = 0
    retried: int = 0
    dead: int = 0
    deferred: int = 0  # not tried: its target failed earlier in the batch, or shutting down
    lost: int = 0  # the lease passed to another worker before the outcome was recorded


class OutboxWorker:
    def __init__(
        self,
        store: Store,
        senders: Mapping[str, EffectSender],
        *,
        worker_id: str,
        max_attempts: int = 8,
        backoff: Backoff | None = None,
        clock: Callable[[], datetime] | None = None,
        batch: int = 200,
        lease_seconds: float = 60,
    ) -> None:
        if max_attempts < 1 or batch < 1:
            raise ValueError("max_attempts and batch must be at least 1")
        self.store = store
        self.senders = dict(senders)
        self.worker_id = worker_id
        self.max_attempts = max_attempts
        self.backoff = backoff or exponential_backoff()
        self.clock = clock or store.clock
        self.batch = batch
        self.lease_seconds = lease_seconds
        self._delivered: list[int] = []  # ids sent in this batch, recorded done at its end

    def run_once(
        self, now: datetime | None = None, stop: threading.Event | None = None
    ) -> DeliveryStats:
        """One batch: claim the due effects and deliver them. With `stop` set midway, the
        effect in hand is finished and the rest are released for the next run."""
        fixed = now  # a given `now` holds for the whole batch; else the clock is read per item
        stats = DeliveryStats()
        claim_at = fixed or self.clock()
        items = self.store.outbox.claim_due(
            claim_at, self.batch, self.worker_id, self.lease_seconds
        )
        stats.claimed = len(items)
        try:
            self._run_batch(items, fixed, stats, stop)
        finally:
            self._flush_done(stats)
        return stats

    def _run_batch(
        self,
        items: list[OutboxItem],
        fixed: datetime | None,
        stats: DeliveryStats,
        stop: threading.Event | None,
    ) -> None:
        paused: dict[str, tuple[datetime, str]] = {}  # target -> (retry at, why)
        handled: set[int] = set()  # ids already sent as part of their target's group
        # Targets that take a batch go first: one call carries all their effects, which
        # should not wait behind a request per effect to the others (a stable sort: each
        # target's effects keep their order).
        items = sorted(items, key=lambda i: not isinstance(self.senders.get(i.target), BatchSender))
        for index, item in enumerate(items):
            if item.id in handled:
                continue
            if stop is not None and stop.is_set():
                why = item.last_error or "released unsent: the worker stopped"
                self._outcome(stats, "deferred", self._retry(item, why, fixed or self.clock()))
            elif item.target in paused:
                at, why = paused[item.target]
                self._outcome(stats, "deferred", self._retry(item, why, at))
            elif isinstance(sender := self.senders.get(item.target), BatchSender):
                group = [i for i in items[index:] if i.target == item.target]
                handled.update(i.id for i in group)
                self._deliver_many(sender, group, fixed or self.clock(), stats, paused)
            else:
                self._deliver(item, fixed or self.clock(), stats, paused)

    def _deliver(
        self,
        item: OutboxItem,
        now: datetime,
        stats: DeliveryStats,
        paused: dict[str, tuple[datetime, str]],
    ) -> None:
        sender = self.senders.get(item.target)
        if sender is None:
            known = ", ".join(sorted(self.senders)) or "none"
            why = f"no sender for target {item.target!r} (configured: {known})"
            self._outcome(stats, "dead", self._dead(item, why))
            return
        try:
            sender.send(Effect.from_item(item))
        except RetriableError as exc:
            self._retriable(item, exc, now, stats, paused)
        except AuthError as exc:
            self._refused(item, exc, now, stats, paused)
        except Exception as exc:  # FatalError, or a payload no sender can read
            self._failed(item, exc, stats)
        else:
            self._done(item, stats)

    def _deliver_many(
        self,
        sender: BatchSender,
        group: list[OutboxItem],
        now: datetime,
        stats: DeliveryStats,
        paused: dict[str, tuple[datetime, str]],
    ) -> None:
        """Deliver one target's effects of the batch in one `send_many` call."""
        readable: list[tuple[OutboxItem, Effect]] = []
        for item in group:
            try:
                readable.append((item, Effect.from_item(item)))
            except Exception as exc:  # a payload no sender can read
                self._failed(item, exc, stats)
        if not readable:
            return
        try:
            outcomes = list(sender.send_many([effect for _, effect in readable]))
            if len(outcomes) != len(readable):
                raise RuntimeError(
                    f"send_many gave {len(outcomes)} outcomes for {len(readable)} effects"
                )
        except RetriableError as exc:
            for item, _ in readable:
                self._retriable(item, exc, now, stats, paused)
        except AuthError as exc:
            for item, _ in readable:
                self._refused(item, exc, now, stats, paused)
        except Exception as exc:
            for item, _ in readable:
                self._failed(item, exc, stats)
        else:
            for (item, _), outcome in zip(readable, outcomes, strict=True):
                if outcome is None:
                    self._done(item, stats)
                else:
                    self._failed(item, outcome, stats)

    def _retriable(
        self,
        item: OutboxItem,
        exc: RetriableError,
        now: datetime,
        stats: DeliveryStats,
        paused: dict[str, tuple[datetime, str]],
    ) -> None:
        wait = max(exc.retry_after or 0.0, self.backoff(item.attempts))
        at = now + timedelta(seconds=wait)
        paused[item.target] = (at, f"waiting: {item.target} unavailable ({exc})")
        if item.attempts >= self.max_attempts:
            why = f"gave up after {item.attempts} attempts: {exc}"
            self._outcome(stats, "dead", self._dead(item, why))
        else:
            log.info("outbox %s: retry at %s: %s", item.id, at.isoformat(), exc)
            self._outcome(stats, "retried", self._retry(item, str(exc), at))

    def _refused(
        self,
        item: OutboxItem,
        exc: AuthError,
        now: datetime,
        stats: DeliveryStats,
        paused: dict[str, tuple[datetime, str]],
    ) -> None:
        log.error("outbox %s: %s credentials refused; dead-lettered: %s", item.id, item.target, exc)
        at = now + timedelta(seconds=self.backoff(1))
        paused[item.target] = (at, f"waiting: {item.target} refused our credentials")
        self._outcome(stats, "dead", self._dead(item, str(exc)))

    def _failed(self, item: OutboxItem, exc: Exception, stats: DeliveryStats) -> None:
        log.error("outbox %s: dead-lettered: %s", item.id, exc)
        why = str(exc) if isinstance(exc, ConnectorError) else f"{type(exc).__name__}: {exc}"
        self._outcome(stats, "dead", self._dead(item, why))

    def _done(self, item: OutboxItem, stats: DeliveryStats) -> None:
        self._delivered.append(item.id)

    def _flush_done(self, stats: DeliveryStats) -> None:
        """Record the batch's successes in one transaction (each write waits its turn for
        the store). Should the worker die first, the leases lapse and the effects are sent
        again, which the senders make harmless (see the module docstring)."""
        delivered, self._delivered = self._delivered, []
        held = self.store.outbox.mark_done_many(delivered, worker=self.worker_id)
        for id in delivered:
            self._outcome(stats, "done", id in held)

    def _retry(self, item: OutboxItem, why: str, at: datetime) -> bool:
        return self.store.outbox.mark_retry(item.id, why, at, worker=self.worker_id)

    def _dead(self, item: OutboxItem, why: str) -> bool:
        return self.store.outbox.mark_dead(item.id, why, worker=self.worker_id)

    @staticmethod
    def _outcome(stats: DeliveryStats, field: str, recorded: bool) -> None:
        if recorded:
            setattr(stats, field, getattr(stats, field) + 1)
        else:
            stats.lost += 1

    def run(self, stop: threading.Event, idle_sleep: float = 5.0) -> None:
        """Deliver until `stop` is set; sleep `idle_sleep` seconds when nothing is due."""
        while not stop.is_set():
            try:
                stats = self.run_once(stop=stop)
            except Exception:  # the store is unreachable, say: leases bring the items back
                log.exception("outbox worker %s: batch failed; trying again", self.worker_id)
                stop.wait(idle_sleep)
                continue
            if stats.claimed < self.batch:
                stop.wait(idle_sleep)


def stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT set `stop` (call from the main thread): the worker finishes the
    effect in hand, releases the rest of its batch, and returns."""

    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("outbox worker: signal %d, stopping after the current effect", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
