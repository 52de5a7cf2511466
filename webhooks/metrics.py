"""Prometheus metrics of one app, in its own CollectorRegistry (never the global one).

Counters move as requests arrive; the store-backed gauges (outbox backlog, inbox by status)
are read at scrape time by a collector. Award totals are left to the pipeline's metrics:
`store.awards.list` is not a cheap query to run on every scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from plugin.errors import StoreError
from plugin.store import Backlog

log = logging.getLogger("skillrelay.webhooks")

PREFIX = "skillrelay"
SENDERS = ("jira", "xapi")


class QueueCollector(Collector):
    def __init__(self, queued: Callable[[], int], peak: Callable[[], int]) -> None:
        self.queued, self.peak = queued, peak

    def collect(self) -> Iterator[Metric]:
        now = GaugeMetricFamily(
            f"{PREFIX}_http_queued_requests", "Requests waiting for a free request thread"
        )
        now.add_metric([], self.queued())
        yield now
        most = GaugeMetricFamily(
            f"{PREFIX}_http_queued_requests_peak", "The most requests that waited at once"
        )
        most.add_metric([], self.peak())
        yield most


class StoreCollector(Collector):
    """Outbox backlog and inbox counts, queried when Prometheus scrapes."""

    def __init__(
        self,
        backlog: Callable[[], Backlog],
        inbox_counts: Callable[[], dict[str, int]],
        failed: Callable[[], dict[str, int]] = dict,
    ) -> None:
        self.backlog = backlog
        self.inbox_counts = inbox_counts
        self.failed = failed

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(f"{PREFIX}_store_up", "1 if the store answered this scrape")
        try:
            backlog = self.backlog()
            counts = self.inbox_counts()
            failed = self.failed()
        except (SQLAlchemyError, StoreError) as exc:
            log.warning("metrics: store unavailable: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        outbox = GaugeMetricFamily(
            f"{PREFIX}_outbox_backlog", "Outbox effects not done yet", labels=["status"]
        )
        for status, n in (("pending", backlog.pending), ("in_flight", backlog.in_flight)):
            outbox.add_metric([status], n)
        yield outbox
        dead = GaugeMetricFamily(f"{PREFIX}_outbox_dead", "Outbox effects given up on")
        dead.add_metric([], backlog.dead)
        yield dead
        inbox = GaugeMetricFamily(f"{PREFIX}_inbox_events", "Inbox events", labels=["status"])
        for status, n in sorted(counts.items()):
            inbox.add_metric([status], n)
        yield inbox
        quarantined = GaugeMetricFamily(
            f"{PREFIX}_inbox_failed_events",
            "Inbox events the pipeline quarantined, by reason class (unstorable: text no "
            "database stores; unreadable: not a valid event; other)",
            labels=["reason"],
        )
        for reason, n in sorted(failed.items()):
            quarantined.add_metric([reason], n)
        yield quarantined


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter(
            f"{PREFIX}_webhook_received", "Webhook requests received", ["sender"], registry=r
        )
        self.duplicates = Counter(
            f"{PREFIX}_webhook_duplicates",
            "Webhook deliveries already stored (retries, or seen by a sync)",
            ["sender"],
            registry=r,
        )
        self.rejected = Counter(
            f"{PREFIX}_webhook_rejected",
            "Requests refused, by sender and error code",
            ["sender", "reason"],
            registry=r,
        )
        self.ignored = Counter(
            f"{PREFIX}_webhook_ignored",
            "Items acknowledged but not stored, by reason (jira: event, project; "
            "xapi: verb, activity, actor, void)",
            ["sender", "reason"],
            registry=r,
        )
        self.stored = Counter(
            f"{PREFIX}_inbox_stored_events", "Events stored in the inbox", ["source"], registry=r
        )
        # Bound once: every delivery moves these (a label lookup takes a lock), and each
        # series is there from the start, at 0, for rate() to read.
        self.received_from = {s: self.received.labels(sender=s) for s in SENDERS}
        self.stored_from = {s: self.stored.labels(source=s) for s in SENDERS}
        self.latency = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "Request latency",
            ["endpoint"],
            registry=r,
        )

    def watch_store(
        self,
        backlog: Callable[[], Backlog],
        inbox_counts: Callable[[], dict[str, int]],
        failed: Callable[[], dict[str, int]] = dict,
    ) -> None:
        self.registry.register(StoreCollector(backlog, inbox_counts, failed))

    def watch_server(self, queued: Callable[[], int], peak: Callable[[], int]) -> None:
        """The HTTP server's request queue: how many wait for a request thread now, and the
        most that ever waited (the server grows past its threads under load)."""
        self.registry.register(QueueCollector(queued, peak))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
