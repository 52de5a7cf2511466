"""A storm of 429 and 503 from Jira for six (simulated) hours: the outbox waits it out and
then delivers every effect exactly once; none is dead-lettered.

Jira is a real HTTP server on 127.0.0.1 whose faults follow a simulated clock that the test
moves forward, as do the worker and the client (Retry-After in its HTTP-date form is read
against it): no real waiting.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import ThreadingHTTPServer
from typing import Any

from connectors.delivery import DELIVERY_POLICY, JiraSender
from connectors.jira_client import JiraClient
from plugin.effects import Effect
from plugin.outbox_worker import OutboxWorker
from plugin.store import Store
from tests.test_effects_support import change, enqueue, make_award, plan
from tests.test_service_support import FakeJira, JiraHandler, JiraState

T0 = datetime(2026, 11, 6, 9, 0, tzinfo=UTC)
OUTAGE = timedelta(hours=6)
CYCLE = timedelta(minutes=40)  # the storm repeats: 429s, 503s, a calm spell, 503s again
RETRY_AFTER = 120  # seconds a 429 asks for


class SimClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()


class StormHandler(JiraHandler):
    server: StormJira

    def _route(self, method: str) -> None:
        fault = self.server.storm()
        if fault is None:
            super()._route(method)
            return
        self._body()
        status, headers = fault
        self._answer(status, {"errorMessages": ["injected"]}, headers)


class StormJira(FakeJira):
    """The fake Jira of the service tests, in a storm for OUTAGE after T0. Each CYCLE: 10 min
    of 429 with Retry-After (seconds, or an HTTP-date), 10 min of 503 for two requests in
    three, 5 min of calm, 15 min of 503. It counts requests that came before a Retry-After
    had passed."""

    def __init__(self, clock: SimClock) -> None:
        ThreadingHTTPServer.__init__(self, ("127.0.0.1", 0), StormHandler)
        self.state = JiraState()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.clock = clock
        self.quiet_until = T0
        self.early = 0  # requests sent before the last Retry-After had passed
        self.answered: Counter[int] = Counter()
        self._count = itertools.count()

    def storm(self) -> tuple[int, dict[str, str]] | None:
        now = self.clock.now
        with self.state.lock:
            n = next(self._count)
            if now < self.quiet_until:
                self.early += 1
            minute = ((now - T0) % CYCLE).total_seconds() / 60
            fault: tuple[int, dict[str, str]] | None = None
            if now >= T0 + OUTAGE or 20 <= minute < 25:
                fault = None
            elif minute < 10:
                self.quiet_until = now + timedelta(seconds=RETRY_AFTER)
                date = format_datetime(self.quiet_until, usegmt=True)
                fault = 429, {"Retry-After": str(RETRY_AFTER) if n % 2 else date}
            elif minute >= 25 or n % 3:
                fault = 503, {}
            self.answered[fault[0] if fault else 200] += 1
            return fault


def jira_effects(awards: int, issues: int) -> list[Effect]:
    """The comment and label of `awards` awards, spread over `issues` tickets."""
    found = []
    for n in range(awards):
        award = make_award(id=700 + n, ticket=f"PAY-{700 + n % issues}")
        found += [e for e in plan(change(award, "awarded")) if e.target == "jira"]
    return found


def drive(run: OutboxWorker, store: Store, clock: SimClock, until: datetime) -> None:
    """Run the worker as its loop would, moving the clock to the next due effect when none
    is due now."""
    while clock.now < until:
        stats = run.run_once()
        backlog = store.outbox.backlog()
        if not backlog.pending and not backlog.in_flight:
            return
        if not stats.claimed:
            assert backlog.oldest_due is not None
            clock.now = max(clock.now + timedelta(seconds=1), backlog.oldest_due)
        else:
            clock.now += timedelta(seconds=1)


def test_a_long_storm_of_429_and_503_is_waited_out(store: Store) -> None:
    clock = SimClock(T0)
    effects = jira_effects(awards=60, issues=15)
    with StormJira(clock) as jira:
        client = JiraClient(
            jira.url,
            "cloud",
            email="bot@example.com",
            token="storm-test",
            policy=DELIVERY_POLICY,
            clock=clock.epoch,
        )
        enqueue(store, effects, T0)
        run = OutboxWorker(store, {"jira": JiraSender(client)}, worker_id="w1", clock=clock)
        drive(run, store, clock, until=T0 + timedelta(days=2))

    items = store.outbox.list(limit=1000)
    assert Counter(i.status for i in items) == Counter(done=len(effects))
    assert jira.answered[429] and jira.answered[503]
    assert jira.early == 0  # every Retry-After was waited out
    comments = [e.idempotency_key for e in effects if e.action == "comment"]
    assert jira.state.refs == Counter(dict.fromkeys(comments, 1))  # each posted exactly once
    labels: dict[str, set[Any]] = {}
    for e in effects:
        if e.action == "label":
            labels.setdefault(e.payload["issue"], set()).add(e.payload["label"])
    assert jira.state.labels == labels
    # Only real tries count: most effects were tried a few times, not once per batch.
    assert sum(i.attempts for i in items) < 4 * len(effects)
