"""The outbox worker: lease due effects, hand each to its target's sender, record the outcome.

Leases (outbox_lease): a worker claims what it can deliver in half its lease, a heartbeat
renews the leases of its batch while it works, and right before each send the effect is
started (`Outbox.start`): only if this worker still holds its lease, which counts the
attempt and renews the leases of the whole batch. An effect whose lease passed to another
worker is skipped, and no outcome is recorded for a lease that was lost (every mark is
fenced by the holder).

Outcomes (outbox_pacing has the pauses and the budget):
- success: done; the batch's successes are recorded together at its end;
- RetriableError (429, 5xx, connection): the target pauses until the later of its
  Retry-After and a backoff on the target's consecutive failures (capped at an hour, with
  jitter); the effect is pending again until then, and the target's other effects, in this
  batch and the next ones, wait untried: no attempt spent, no request sent;
- AuthError: dead (an admin must fix the credentials; /readyz reports dead letters), and
  the target pauses, its other effects waiting instead of dying with it;
- FatalError (400, 404, ...: an answer that can never succeed) or any other exception:
  dead at once, with the reason.
An effect that fails, or waits on its paused target, once its retry budget (24 h since it
was first due, `--retry-budget`) has passed is dead. `skillrelay outbox retry ID` revives
one with a fresh budget.

A sender with `send_many` (`BatchSender`, the LRS's) gets all its target's effects of the
batch in one call, made before the other targets' per-effect calls; a RetriableError or
AuthError of the call holds for each of them as above, and otherwise each effect's own
outcome (done, or dead with its error) is recorded.

Senders make delivery idempotent at the target (Jira: the issue property and the comment's
`skillrelay ref` line; the LRS: statement ids), which covers the one window left: a worker
that stopped renewing (killed, or cut off from the store for a whole lease) while its send
was still on the way, and another worker took the effect over.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import FrameType
from typing import Protocol, runtime_checkable

from plugin.effects import Effect, EffectSender
from plugin.errors import AuthError, ConnectorError, RetriableError
from plugin.outbox_lease import ClaimSize, Heartbeat
from plugin.outbox_pacing import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    RETRY_BUDGET,
    Backoff,
    Pacing,
    Pause,
    duration,
    exponential_backoff,
    spent,
)
from plugin.store import Store
from plugin.store.models import OutboxItem

log = logging.getLogger("skillrelay.outbox")

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "RETRY_BUDGET",
    "Backoff",
    "BatchSender",
    "DeliveryStats",
    "OutboxWorker",
    "exponential_backoff",
    "stop_on_signals",
]


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
    deferred: int = 0  # not tried: its target is paused, or shutting down
    lost: int = 0  # the lease passed to another worker: not sent, or its outcome not recorded
    full: bool = field(default=False, compare=False)  # claimed all it could: more may be due


class OutboxWorker:
    def __init__(
        self,
        store: Store,
        senders: Mapping[str, EffectSender],
        *,
        worker_id: str,
        backoff: Backoff | None = None,
        clock: Callable[[], datetime] | None = None,
        batch: int = 200,
        lease_seconds: float = 60,
        retry_budget: timedelta = RETRY_BUDGET,
    ) -> None:
        if batch < 1 or lease_seconds <= 0 or retry_budget <= timedelta(0):
            raise ValueError("batch must be at least 1; the lease and the budget more than 0")
        self.store = store
        self.senders = dict(senders)
        self.worker_id = worker_id
        self.clock = clock or store.clock
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.retry_budget = retry_budget
        self.pacing = Pacing(backoff or exponential_backoff())
        self.sizing = ClaimSize(batch, lease_seconds)
        self._delivered: list[int] = []  # ids sent in this batch, recorded done at its end
        self._beat: Heartbeat | None = None
        self._tried = 0  # effects started in this batch (for its pace)
        self._gone: set[int] = set()  # ids of this batch whose lease passed to another worker

    def run_once(
        self, now: datetime | None = None, stop: threading.Event | None = None
    ) -> DeliveryStats:
        """One batch: claim the due effects and deliver them. With `stop` set midway, the
        effect in hand is finished and the rest are released for the next run."""
        fixed = now  # a given `now` holds for the whole batch; else the clock is read per item
        stats = DeliveryStats()
        limit = self.sizing.limit()
        items = self.store.outbox.claim_due(
            fixed or self.clock(), limit, self.worker_id, self.lease_seconds
        )
        stats.claimed, stats.full = len(items), len(items) >= limit
        if not items:
            return stats
        beat = self._beat = Heartbeat(
            self.store.outbox, self.worker_id, self.lease_seconds, lambda: fixed or self.clock()
        )
        beat.hold(item.id for item in items)
        beat.start()
        began, self._tried, self._gone = time.monotonic(), 0, set()
        try:
            self._run_batch(items, fixed, stats, stop)
        finally:
            try:
                self._flush_done(stats)
            finally:
                beat.stop()
                self._beat = None
        self.sizing.measured(self._tried, time.monotonic() - began)
        return stats

    def _run_batch(
        self,
        items: list[OutboxItem],
        fixed: datetime | None,
        stats: DeliveryStats,
        stop: threading.Event | None,
    ) -> None:
        handled: set[int] = set()  # ids already sent as part of their target's group
        # Targets that take a batch go first: one call carries all their effects, which
        # should not wait behind a request per effect to the others (a stable sort: each
        # target's effects keep their order).
        items = sorted(items, key=lambda i: not isinstance(self.senders.get(i.target), BatchSender))
        for index, item in enumerate(items):
            if item.id in handled or item.id in self._gone:
                continue
            now = fixed or self.clock()
            sender = self.senders.get(item.target)
            if stop is not None and stop.is_set():
                why = item.last_error or "released unsent: the worker stopped"
                self._outcome(stats, "deferred", self._retry(item, why, now), item)
            elif (pause := self.pacing.paused(item.target, now)) is not None:
                self._wait(item, pause, now, stats)
            elif isinstance(sender, BatchSender):
                group = [
                    i for i in items[index:] if i.target == item.target and i.id not in self._gone
                ]
                handled.update(i.id for i in group)
                self._deliver_many(sender, group, fixed, stats)
            else:
                self._deliver(item, sender, fixed, stats)

    def _deliver(
        self,
        item: OutboxItem,
        sender: EffectSender | None,
        fixed: datetime | None,
        stats: DeliveryStats,
    ) -> None:
        if sender is None:
            known = ", ".join(sorted(self.senders)) or "none"
            why = f"no sender for target {item.target!r} (configured: {known})"
            self._outcome(stats, "dead", self._dead(item, why), item)
            return
        held = self._start([item], fixed or self.clock(), stats)
        if not held:
            return
        [started] = held
        try:
            sender.send(Effect.from_item(started))
        except RetriableError as exc:
            now = fixed or self.clock()
            self._retriable(started, exc, self.pacing.failed(item.target, exc, now), now, stats)
        except AuthError as exc:
            self._refused(started, exc, self.pacing.refused(item.target, fixed or self.clock()))
            self._outcome(stats, "dead", self._dead(started, str(exc)), started)
        except Exception as exc:  # FatalError, or a payload no sender can read
            self._failed(started, exc, stats)
        else:
            self._done(started)

    def _deliver_many(
        self,
        sender: BatchSender,
        group: list[OutboxItem],
        fixed: datetime | None,
        stats: DeliveryStats,
    ) -> None:
        """Deliver one target's effects of the batch in one `send_many` call."""
        readable: list[tuple[OutboxItem, Effect]] = []
        for item in self._start(group, fixed or self.clock(), stats):
            try:
                readable.append((item, Effect.from_item(item)))
            except Exception as exc:  # a payload no sender can read
                self._failed(item, exc, stats)
        if not readable:
            return
        target = group[0].target
        try:
            outcomes = list(sender.send_many([effect for _, effect in readable]))
            if len(outcomes) != len(readable):
                raise RuntimeError(
                    f"send_many gave {len(outcomes)} outcomes for {len(readable)} effects"
                )
        except RetriableError as exc:
            now = fixed or self.clock()
            pause = self.pacing.failed(target, exc, now)
            for item, _ in readable:
                self._retriable(item, exc, pause, now, stats)
        except AuthError as exc:
            self._refused(readable[0][0], exc, self.pacing.refused(target, fixed or self.clock()))
            for item, _ in readable:
                self._outcome(stats, "dead", self._dead(item, str(exc)), item)
        except Exception as exc:
            for item, _ in readable:
                self._failed(item, exc, stats)
        else:
            for (item, _), outcome in zip(readable, outcomes, strict=True):
                if outcome is None:
                    self._done(item)
                else:
                    self._failed(item, outcome, stats)

    def _start(
        self, items: list[OutboxItem], now: datetime, stats: DeliveryStats
    ) -> list[OutboxItem]:
        """The fence right before a send: the items this worker still holds, an attempt
        counted on each; the others are another worker's now. The leases of the whole
        batch are renewed with them."""
        ids = [i.id for i in items]
        beat = self._beat
        assert beat is not None  # set for the length of a batch
        rest = sorted(beat.held() - set(ids))
        with beat.writing:
            held = self.store.outbox.start(ids, self.worker_id, now, self.lease_seconds, also=rest)
        lost = [id for id in [*ids, *rest] if id not in held and id not in self._gone]
        if lost:
            log.warning("outbox %s: lease passed to another worker; not ours to send", lost)
            stats.lost += len(lost)
            self._gone.update(lost)
            self._release(lost)
        started = [replace(i, attempts=i.attempts + 1) for i in items if i.id in held]
        self._tried += len(started)
        return started

    def _retriable(
        self,
        item: OutboxItem,
        exc: RetriableError,
        pause: Pause,
        now: datetime,
        stats: DeliveryStats,
    ) -> None:
        if spent(item.created_at, self.retry_budget, now):
            self._outcome(stats, "dead", self._dead(item, self._gave_up(item, str(exc))), item)
        else:
            log.info("outbox %s: retry at %s: %s", item.id, pause.until.isoformat(), exc)
            self._outcome(stats, "retried", self._retry(item, str(exc), pause.until), item)

    def _wait(self, item: OutboxItem, pause: Pause, now: datetime, stats: DeliveryStats) -> None:
        """Hold an effect of a paused target, untried, until the pause ends (or dead, if its
        budget ran out while its target failed)."""
        if spent(item.created_at, self.retry_budget, now):
            self._outcome(stats, "dead", self._dead(item, self._gave_up(item, pause.why)), item)
            return
        why = f"waiting: {item.target} paused until {pause.until.isoformat()}: {pause.why}"
        self._outcome(stats, "deferred", self._retry(item, why, pause.until), item)

    def _gave_up(self, item: OutboxItem, last: str) -> str:
        within = duration(self.retry_budget)
        return f"gave up: not delivered within {within} (attempts: {item.attempts}); last: {last}"

    def _refused(self, item: OutboxItem, exc: AuthError, pause: Pause) -> None:
        log.error(
            "outbox %s: %s credentials refused; dead-lettered; %s paused until %s: %s",
            item.id,
            item.target,
            item.target,
            pause.until.isoformat(),
            exc,
        )

    def _failed(self, item: OutboxItem, exc: Exception, stats: DeliveryStats) -> None:
        log.error("outbox %s: dead-lettered: %s", item.id, exc)
        if isinstance(exc, ConnectorError):
            self.pacing.answered(item.target)  # the target is up: it answered, with a "no"
            why = str(exc)
        else:
            why = f"{type(exc).__name__}: {exc}"
        self._outcome(stats, "dead", self._dead(item, why), item)

    def _done(self, item: OutboxItem) -> None:
        self.pacing.answered(item.target)
        self._delivered.append(item.id)

    def _flush_done(self, stats: DeliveryStats) -> None:
        """Record the batch's successes in one transaction (each write waits its turn for
        the store). Should the worker die first, the leases lapse and the effects are sent
        again, which the senders make harmless (see the module docstring)."""
        delivered, self._delivered = self._delivered, []
        with self._writing():
            held = self.store.outbox.mark_done_many(delivered, worker=self.worker_id)
        for id in delivered:
            if id not in self._gone:  # else counted lost already
                self._outcome(stats, "done", id in held)

    def _retry(self, item: OutboxItem, why: str, at: datetime) -> bool:
        return self.store.outbox.mark_retry(item.id, why, at, worker=self.worker_id)

    def _dead(self, item: OutboxItem, why: str) -> bool:
        return self.store.outbox.mark_dead(item.id, why, worker=self.worker_id)

    def _writing(self) -> AbstractContextManager[object]:
        return self._beat.writing if self._beat is not None else nullcontext()

    def _release(self, ids: Sequence[int]) -> None:
        if self._beat is not None:
            self._beat.release(ids)

    def _outcome(
        self, stats: DeliveryStats, kind: str, recorded: bool, item: OutboxItem | None = None
    ) -> None:
        if item is not None:
            self._release([item.id])
        if recorded:
            setattr(stats, kind, getattr(stats, kind) + 1)
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
            if not stats.full:
                stop.wait(idle_sleep)


def stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT set `stop` (call from the main thread): the worker finishes the
    effect in hand, releases the rest of its batch, and returns."""

    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("outbox worker: signal %d, stopping after the current effect", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
