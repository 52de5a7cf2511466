"""The pipeline: inbox -> rules engine -> decisions log, awards ledger and outbox.

A worker holds an engine rebuilt from the inbox (the event log) when it starts: every
event decided so far in one batch (`events_from_inbox` into `Engine.load`, as
`engine_from_inbox` does, but stopping before the first event nobody has decided, so that
event's verdicts are logged against it when it is caught up). Each
`run_once` claims new inbox items, then decides and writes in ONE transaction that holds
the decider lock (see lock.py):

1. catch up: every inbox event the engine has not read yet, whoever stored or processed it,
   is added to the engine (events are idempotent facts: adding one twice changes nothing);
   and every event another worker decided since this worker's last transaction that its
   engine has still not read (the decided watermark, watermark.py) is read and added, so a
   worker that is behind never writes;
2. the claimed events are added, but those a catch-up of this worker added before they
   were claimed (kept in `_early`: read and added once); the people they name are recorded
   as identities;
3. every verdict those events changed goes to the decisions log; then each (person, skill,
   ticket) they touched is reconciled from the engine's CURRENT verdict (level-triggered:
   the steps in between are history, not orders), and each award change queues its effects
   (reconcile.py has the rules);
4. the claimed items are marked processed and stamped with this transaction's seq.

So whoever holds the lock decides with every event stored before it, the same verdicts any
other worker would reach, and a budget's last place is spent once. The first transaction
of a worker also brings the whole ledger in line with its engine (`Reconciler.full`), so a
manifest changed between runs applies to every award (restart all workers together). A
transaction that fails leaves events in the engine whose verdicts were not written, so the
next `run_once` rebuilds the engine first, as at start.

Delivery markers and progress signals (kind "progress": a learner started a module) are
marked processed as they are claimed, without deciding: no engine reads them.

An event that makes the transaction fail is set aside (`_decide_isolating`): marked failed
with its reason, and skipped by every reader (the inbox shows its kind as "failed"), so no
engine counts it. Each one is kept as it is found, so a burst of them never stops a worker.

Identities: when an admin maps an external id (`identities map` sets its person and
`mapped_at`), the next `run_once` notices the newer `mapped_at` and re-resolves (`relearn`); every
worker also does so every RELEARN_SECONDS, and `relearn()` does it at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, fields
from datetime import datetime
from itertools import islice

from pydantic import ValidationError
from sqlalchemy import Connection
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as SqlTimeoutError

from plugin.domain import Completion, TicketTransition
from plugin.effects import Deployment
from plugin.engine import Engine, IdentityResolver
from plugin.manifest import Manifest
from plugin.pipeline import watermark
from plugin.pipeline.actions import ActionResult, AwardActions
from plugin.pipeline.effects import EffectSettings
from plugin.pipeline.horizon import Horizon, unprocessed
from plugin.pipeline.lock import hold_decider_lock
from plugin.pipeline.reconcile import Reconciler, Tally
from plugin.replay import EVENT, EVENT_KINDS, event_of_json, events_from_inbox
from plugin.store import ClaimedItem, Store
from plugin.store.base import utc_now
from plugin.store.identities import Sighting

log = logging.getLogger("skillrelay.pipeline")

DELIVERY = "delivery"  # webhook delivery markers: nothing to decide
PROGRESS = "progress"  # started / worked on a module: read by reminders, never decided
START_RECHECK = 1000  # ids read again on the first catch-up: rows still committing at start
BATCH_BACKLOG = 50_000  # inbox rows from the first undecided one: more, and a start loads all
RELEARN_SECONDS = 60.0
# Failed transactions in one run before it gives its claim back, once it has decided or set
# aside something (halving finds a bad event in log2(batch) + 2 tries).
MAX_TRIES = 64
REASON_CHARS = 500
# Events a catch-up read before this worker claimed them, kept so the claim neither reads
# nor adds them again; beyond this many (others' claims, a backlog) the oldest are dropped.
EARLY_EVENTS = 5000
TRANSIENT = (OperationalError, InterfaceError, SqlTimeoutError, DisconnectionError)
Event = Completion | TicketTransition
Claimed = list[tuple[ClaimedItem, Event]]


@dataclass
class PipelineStats:
    claimed: int = 0  # inbox items this run leased
    processed: int = 0  # events decided and marked processed
    deliveries: int = 0  # delivery markers marked processed
    progress: int = 0  # progress signals marked processed (nothing to decide)
    failed: int = 0  # unreadable items, marked failed with the reason
    caught_up: int = 0  # events read from the inbox log into the engine
    decisions: int = 0  # rows added to the decisions log
    awarded: int = 0
    revoked: int = 0
    flagged: int = 0  # fulfilled rewards whose ticket no longer qualifies
    restored: int = 0  # flagged rewards whose ticket qualifies again
    effects: int = 0  # outbox rows queued

    def add(self, tally: Tally) -> None:
        for f in fields(tally):
            setattr(self, f.name, getattr(self, f.name) + getattr(tally, f.name))


class Poisoned(Exception):
    """Adding or applying one event failed: `cause`, raised for inbox item `inbox_id`."""

    def __init__(self, inbox_id: int, cause: Exception) -> None:
        super().__init__(f"inbox item {inbox_id}: {cause!r}")
        self.inbox_id = inbox_id
        self.cause = cause


def transient(exc: BaseException) -> bool:
    """A failure of the database or the connection to it, which may pass: never blamed on
    an event."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, TRANSIENT)


def why(exc: BaseException) -> str:
    """The reason stored with an event set aside."""
    return f"could not be decided: {type(exc).__name__}: {exc}"[:REASON_CHARS]


def read_event(item: ClaimedItem) -> Event | str:
    """The domain event a claimed inbox item carries, or why it cannot be read."""
    try:
        event = _validated(item.payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}"
            for e in exc.errors()[:3]
        )
        return f"unreadable {item.kind} payload: {problems}"
    if event.kind != item.kind:
        return f"stored as kind {item.kind!r} but the payload is a {event.kind!r} event"
    return event


def _validated(payload: str) -> Event:
    try:
        return event_of_json(payload)
    except ValidationError as exc:
        if all(e["type"] != "json_invalid" for e in exc.errors()):
            raise
    # Text pydantic's JSON reader refuses but json.loads reads (a lone surrogate's escape):
    # read it so, and the reason names the field that cannot be stored.
    return EVENT.validate_python(json.loads(payload))


class Pipeline:
    def __init__(
        self,
        store: Store,
        manifest: Manifest,
        *,
        worker_id: str,
        jira_base_url: str | None = None,
        deployment: Deployment | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """Rebuilds the engine from the inbox: every event stored so far."""
        given = EffectSettings.of(manifest)
        settings = EffectSettings(
            jira_base_url.rstrip("/") if jira_base_url is not None else given.jira_base_url,
            deployment or given.deployment,
        )
        self.store = store
        self.manifest = manifest
        self.worker_id = worker_id
        self.clock = clock
        self.actions = AwardActions(store, manifest, settings, clock)
        self.reconciler = Reconciler(store, manifest, settings, clock)
        self._early: dict[int, Event] = {}  # inbox id: an event a catch-up added unclaimed
        self._load()

    def _load(self) -> None:
        """Rebuild the engine from the inbox; the next transaction reconciles everything."""
        # Read when ids were last mapped before the mapping the engine starts with, so a
        # mapping made in between is seen as a change.
        self._mapped_at = self.store.identities.last_mapped()
        learned = self.store.identities.learned()
        self.resolver = IdentityResolver(self.manifest, learned)
        cut, last = self._cut()
        self.engine = Engine(self.manifest, learned)
        aside: list[int] = []  # rows the load skipped as set aside
        self.engine.load(events_from_inbox(self.store, up_to_id=cut, aside=aside))
        self.horizon = Horizon(max(0, min(cut, last - START_RECHECK)), self.clock, aside)
        self._early = {}
        self._learned_at = self.clock()
        self._full = True  # bring the whole ledger in line on the first transaction
        self._relearn = False
        self._stale = False

    def _cut(self) -> tuple[int, int]:
        """(the last inbox id loaded in one batch at start, the last id stored).

        Events from the first one no worker has decided yet are left to the catch-up, which
        logs each one's verdicts against its inbox id. When that would be more than
        BATCH_BACKLOG rows (a first sync of years of history) they are loaded in the batch
        too, much faster; then only the verdicts that change the ledger are logged, by the
        first full reconcile.
        """
        with self.store.transaction() as conn:
            self._seen = watermark.current(conn)  # read first: later ones are checked
            last = self.store.inbox.last_id(conn=conn)
            first, backlog = unprocessed(conn, EVENT_KINDS)
        if first is None:
            return last, last
        if last - first >= BATCH_BACKLOG:
            log.warning(
                "%d events wait in the inbox: loading them in one batch; only the verdicts "
                "that change the ledger go to the decisions log",
                backlog,
            )
            return last, last
        return first - 1, last

    # Deciding.
    def run_once(self, limit: int = 500) -> PipelineStats:
        """Claim up to `limit` new inbox items and decide them; what happened."""
        stats = PipelineStats()
        if self._stale:
            self._load()
        with self.store.transaction() as conn:  # one transaction: SQLite's lock taken once
            items = self.store.inbox.claim(limit, self.worker_id, conn=conn)
            mapped_at = self.store.identities.last_mapped(conn=conn)
        stats.claimed = len(items)
        claimed: Claimed = []
        deliveries: list[int] = []
        progress: list[int] = []
        known: set[int] = set()  # claimed events the engine holds from an earlier catch-up
        for item in items:
            if item.kind == DELIVERY:
                deliveries.append(item.id)
                continue
            if item.kind == PROGRESS:
                progress.append(item.id)
                continue
            early = self._early.pop(item.id, None)
            if early is not None:
                known.add(item.id)
            event = (
                early
                if early is not None
                else read_event(item)
                if item.kind in EVENT_KINDS
                else f"kind {item.kind!r} is not an event the pipeline decides"
            )
            if isinstance(event, str):
                log.warning("inbox item %d failed: %s", item.id, event)
                self.store.inbox.mark_failed(item.id, event)
                stats.failed += 1
            else:
                claimed.append((item, event))
        if deliveries or progress:
            self.store.inbox.mark_processed(deliveries + progress)
            stats.deliveries, stats.progress = len(deliveries), len(progress)
        self._relearn = self._mapping_changed(mapped_at) or self._relearn
        if claimed or self._full or self._relearn:
            self._decide_isolating(claimed, stats, known)
        return stats

    def relearn(self) -> PipelineStats:
        """Re-read the identities admins have mapped and decide the events they unblock."""
        if self._stale:
            self._load()
        self._relearn = True
        stats = PipelineStats()
        self._decide([], stats)
        return stats

    def _decide_isolating(
        self, claimed: Claimed, stats: PipelineStats, known: Set[int] = frozenset()
    ) -> None:
        """Decide `claimed`; when that fails because of an event, set the event aside.

        A failure while one event is added or applied names that event (`Poisoned`): it is
        marked failed at once, in a transaction of its own, so every run keeps what it set
        aside however many bad events arrive together. Any other failure splits the batch
        in halves until one event fails alone; that one is set aside if the other events
        decide without it (marked failed in the transaction that decides them), else the
        fault is not in this worker's events and the error is raised (the claim is retried
        after its lease). Database errors that may pass are raised as they are. After
        MAX_TRIES failed transactions, once it has kept something, the run stops and gives
        back what it has not decided, for the next run to claim at once."""
        batches, aside, tries, kept = [claimed], dict[int, str](), 0, 0
        named: set[int] = set()  # set aside and committed: named by the engine
        while batches:
            batch = [
                (item, event)
                for item, event in batches.pop()
                if item.id not in aside and item.id not in named
            ]
            try:
                if self._stale:
                    self._load()
                self._decide(batch, stats, aside, known)
            except Exception as exc:
                tries += 1
                if transient(exc):
                    raise
                if tries > MAX_TRIES and kept:  # a run ends having kept something
                    self._give_back(claimed, tries)
                    return
                if isinstance(exc, Poisoned):
                    self._set_aside(exc.inbox_id, why(exc.cause), stats)
                    named.add(exc.inbox_id)
                    kept += 1
                    batches.append(batch)
                elif len(batch) > 1:
                    half = len(batch) // 2
                    batches += [batch[half:], batch[:half]]  # the first half goes first
                elif batch:
                    aside[batch[0][0].id] = why(exc)
                    batches.append([])  # the others, without it
                else:
                    raise
                continue
            for inbox_id, reason in aside.items():
                log.warning("inbox item %d set aside: %s", inbox_id, reason)
            stats.failed += len(aside)
            aside, kept = {}, kept + 1

    def _set_aside(self, inbox_id: int, reason: str, stats: PipelineStats) -> None:
        """Mark an event the engine failed on as failed, under the decider lock: deciders
        read the inbox under it, so each one either added the event before or skips it."""
        with self.store.transaction() as conn:
            hold_decider_lock(conn)
            self.store.inbox.mark_failed(inbox_id, reason, conn=conn)
        log.warning("inbox item %d set aside: %s", inbox_id, reason)
        stats.failed += 1

    def _give_back(self, claimed: Claimed, tries: int) -> None:
        """End the run: the claimed events still undecided are free for the next claim."""
        ids = [item.id for item, _ in claimed]
        back = self.store.inbox.release(ids, self.worker_id)
        log.warning(
            "stopped after %d failed transactions; %d claimed event(s) go back to the inbox",
            tries,
            back,
        )

    def _decide(
        self,
        claimed: Claimed,
        stats: PipelineStats,
        aside: Mapping[int, str] | None = None,
        known: Set[int] = frozenset(),
    ) -> None:
        """Decide `claimed` in one transaction; the events in `aside` (inbox id: reason)
        are skipped wherever they turn up and marked failed; those in `known` were added
        by an earlier catch-up (a reload reads them too), so they are not added again."""
        tally = Tally()
        aside = aside or {}
        try:
            with self.store.transaction() as conn:
                hold_decider_lock(conn)
                self.reconciler.begin()
                parsed = {item.id: event for item, event in claimed}
                caught_up = self._catch_up(conn, tally, parsed, aside)
                seq = watermark.current(conn)
                caught_up |= self._read_late(conn, tally, seq, aside)
                stats.caught_up += len(caught_up)
                if self._relearn:
                    self._relearn_now(conn, tally)
                if self._full:
                    self.reconciler.full(self.engine, conn, tally)
                for item, event in claimed:
                    if item.id not in caught_up and item.id not in known:
                        self._add(item.id, event, conn, tally)  # a retried claim, say
                self._note_people([event for _, event in claimed], conn)
                self.reconciler.flush(self.engine, conn, tally)
                for inbox_id, reason in aside.items():
                    self.store.inbox.mark_failed(inbox_id, reason, conn=conn)
                decided = [item.id for item, _ in claimed]
                self.store.inbox.mark_processed(decided, conn=conn)
                if decided:
                    seq += 1
                    watermark.advance(conn, seq, decided)
        except BaseException:
            # The engine kept events whose verdicts were not written: start again from the
            # inbox, so they are caught up (and logged) once more.
            self._stale = True
            raise
        self._seen = seq
        self._full = self._relearn = False
        stats.processed += len(claimed)
        stats.add(tally)

    def _add(self, inbox_id: int, event: Event, conn: Connection, tally: Tally) -> None:
        try:
            self.reconciler.apply(self.engine.add(event), conn, tally, inbox_id)
        except Exception as exc:
            if transient(exc):
                raise
            raise Poisoned(inbox_id, exc) from exc

    def _catch_up(
        self, conn: Connection, tally: Tally, parsed: dict[int, Event], aside: Mapping[int, str]
    ) -> set[int]:
        """Add every event stored since the last catch-up; `parsed`: events this run
        claimed and has read already (by inbox id). Returns the inbox ids it added."""
        events: list[tuple[int, Event]] = []
        for inbox_id, kind, payload in self.horizon.read(conn):
            if kind not in EVENT_KINDS or inbox_id in aside:
                continue
            event = parsed.get(inbox_id)
            if event is None:
                try:
                    event = event_of_json(payload)
                except ValidationError:
                    continue  # marked failed by the worker that claimed it
            events.append((inbox_id, event))
        self.reconciler.prefetch(
            (e.ticket.key for _, e in events if isinstance(e, TicketTransition)), conn
        )
        for inbox_id, event in events:
            self._add(inbox_id, event, conn, tally)
        self._keep_early((i, e) for i, e in events if i not in parsed)
        return {inbox_id for inbox_id, _ in events}

    def _keep_early(self, events: Iterable[tuple[int, Event]]) -> None:
        self._early.update(events)
        for inbox_id in list(islice(self._early, max(0, len(self._early) - EARLY_EVENTS))):
            del self._early[inbox_id]

    def _read_late(
        self, conn: Connection, tally: Tally, seq: int, aside: Mapping[int, str]
    ) -> set[int]:
        """Add the events others decided since this worker's last transaction that its
        engine has not read; their inbox ids."""
        late = self.horizon.unread(watermark.decided_since(conn, self._seen, seq))
        if not late:
            return set()
        log.warning("reading %d events other workers decided that this one missed", len(late))
        for inbox_id, kind, payload in watermark.payloads(conn, late):
            if kind not in EVENT_KINDS or inbox_id in aside:
                continue
            try:
                event = event_of_json(payload)
            except ValidationError:
                continue
            self._add(inbox_id, event, conn, tally)
        self.horizon.found(late)
        return set(late)

    # Identities.
    def _note_people(self, events: list[Event], conn: Connection) -> None:
        sightings = []
        for event in events:
            ref = event.person if isinstance(event, Completion) else event.ticket.assignee
            if ref is not None:
                person = self.resolver.resolve(ref)
                sightings.append(
                    Sighting(ref.system, ref.id, person, ref.email, ref.display_name, event.at)
                )
        self.store.identities.record(sightings, conn=conn)

    def _mapping_changed(self, mapped_at: datetime | None) -> bool:
        """An admin mapped an id since the last look (`mapped_at`: when one was last
        mapped), or it is time to look anyway."""
        now = self.clock()
        changed = mapped_at != self._mapped_at
        self._mapped_at = mapped_at
        return changed or (now - self._learned_at).total_seconds() >= RELEARN_SECONDS

    def _relearn_now(self, conn: Connection, tally: Tally) -> None:
        learned = self.store.identities.learned(conn=conn)
        self.resolver = IdentityResolver(self.manifest, learned)
        self.reconciler.apply(self.engine.relearn(learned), conn, tally, None)
        self._learned_at = self.clock()

    # Manual actions (see actions.py).
    def approve(
        self, award_id: int, by: str, note: str | None = None, at: datetime | None = None
    ) -> ActionResult:
        return self.actions.approve(award_id, by, note, at)

    def reject(
        self, award_id: int, by: str, note: str | None = None, at: datetime | None = None
    ) -> ActionResult:
        return self.actions.reject(award_id, by, note, at)

    def fulfil(
        self, award_id: int, by: str, note: str | None = None, at: datetime | None = None
    ) -> ActionResult:
        return self.actions.fulfil(award_id, by, note, at)

    def revoke(
        self, award_id: int, by: str, note: str | None = None, at: datetime | None = None
    ) -> ActionResult:
        return self.actions.revoke(award_id, by, note, at)
