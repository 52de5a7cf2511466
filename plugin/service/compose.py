"""Compose `serve` and `worker` processes: which parts run, in which threads, who wakes whom.

serve:                 http (waitress I/O loop + N request threads) --wakes--> pipeline
                         or (--server granian: its event loop + N threads for Flask)
                       sync (every --sync-interval s)              --wakes--> pipeline
                       pipeline (on a wake, else every --poll s)   --wakes--> outbox
                       outbox   (on a wake, else every --poll s)
                       the pipeline and the outbox run in a `worker` process serve starts
                       (--worker-processes, 1 by default; plugin/service/child.py), or
                       in serve's own threads with --worker-processes 0
worker (scale-out):    pipeline and/or outbox as above, no http and no sync; several worker
                       processes share one PostgreSQL store (claims skip locked rows).
Across processes:      watch on SQLite / listen on PostgreSQL (any process's inbox or
                       outbox inserts)                             --wakes--> pipeline / outbox
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal

from flask import Flask
from sqlalchemy.engine import URL

from plugin.effects import EffectSender
from plugin.errors import SkillrelayError
from plugin.manifest import Manifest, load_manifest
from plugin.notify.scheduler import Scheduler, Suggest
from plugin.notify.service import scheduler_for
from plugin.outbox_pacing import duration
from plugin.outbox_worker import BACKOFF_BASE, RETRY_BUDGET, OutboxWorker, exponential_backoff
from plugin.pipeline import Pipeline, PipelineStats
from plugin.runtime import Secrets
from plugin.service.child import Children, parent_watch
from plugin.service.granian_http import GranianHttp
from plugin.service.guard import Limits
from plugin.service.http import HttpServer
from plugin.service.listen import INBOX, OUTBOX, Listener
from plugin.service.loop import Loop
from plugin.service.parts import Stoppable, pipeline, senders, sync_sources
from plugin.service.run import Service
from plugin.service.watch import Watcher
from plugin.store import Store
from plugin.store.engine import sqlite_file
from plugin.sync import sync_all
from webhooks import create_app
from webhooks.services import EXTENSION, Services

log = logging.getLogger("skillrelay.service")
# Each webhook wakes the pipeline. Under load a run then decided one or two events, and the
# work every run does (claim, catch-up, commit) held the GIL the receivers need. Starting
# runs at most every 100 ms let `serve` take about 30% more deliveries a second, for at
# most 100 ms more on the way to Jira and the LRS.
PIPELINE_SPACING = 0.1


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class Settings:
    manifest_file: Path
    database: str
    worker_id: str
    poll: float = 2.0  # seconds between looks at the inbox and the outbox when not woken
    batch: int = 100  # inbox events per pipeline run
    lease: float = 60.0  # seconds a claimed inbox event or outbox effect stays with its worker
    retry_base: float = BACKOFF_BASE  # seconds a failing target is first left alone
    retry_budget: float = RETRY_BUDGET.total_seconds()  # seconds an effect may keep failing
    grace: float = 10.0  # seconds a shutdown may take
    jira_dry_run: bool = False  # log Jira's effects instead of writing them
    notify_every: float = 60.0  # seconds between notification planning ticks
    offline_suggest: Suggest | None = None  # "apply it now" without Jira (the demo)


@dataclass(frozen=True)
class Http:
    host: str = "127.0.0.1"
    port: int = 8080
    threads: int = 4
    # Slow and idle clients, connections; the body limit is the app's MAX_CONTENT_LENGTH.
    limits: Limits = field(default_factory=Limits)
    server: Literal["waitress", "granian"] = "waitress"


@dataclass(frozen=True)
class Workers:
    pipeline: bool = True
    outbox: bool = True
    # serve: decide and deliver in this many `worker` processes instead; None: 1 (0 for a
    # SQLite database in memory): a second interpreter, so a second core
    processes: int | None = 0


@dataclass
class Opened:
    """What a command opened: the store first, so whatever fails after can close it."""

    manifest: Manifest
    secrets: Secrets
    env: Mapping[str, str]
    store: Store


def open_parts(settings: Settings, env: Mapping[str, str] | None = None) -> Opened:
    manifest = load_manifest(settings.manifest_file)
    found = os.environ if env is None else env
    store = Store.open(settings.database)
    # The pipeline's inbox claims hold for --lease too: a killed worker's events come back
    # after that, not after the inbox's default.
    store.inbox.lease_seconds = settings.lease
    log.info("store: %s", store.url)
    return Opened(manifest, Secrets(str(settings.manifest_file), found), found, store)


def worker_loops(
    opened: Opened, settings: Settings, workers: Workers, stop: threading.Event
) -> tuple[list[Loop], Loop | None]:
    """The worker loops, and the one to wake when the inbox got something (pipeline)."""
    loops: list[Loop] = []
    outbox_loop: Loop | None = None
    if workers.outbox:
        outbox = outbox_worker(opened, settings)
        outbox_loop = Loop(
            "outbox", lambda: deliver(outbox, stop), interval=settings.poll, stop=stop
        )
        loops.append(outbox_loop)
    pipeline_loop: Loop | None = None
    if workers.pipeline:
        drainer = pipeline(opened.store, opened.manifest, settings.worker_id)

        def decide() -> bool:
            stats = decide_once(drainer, settings.batch)
            if stats.effects and outbox_loop is not None:
                outbox_loop.wake()
            return stats.claimed >= settings.batch

        pipeline_loop = Loop(
            "pipeline", decide, interval=settings.poll, stop=stop, spacing=PIPELINE_SPACING
        )
        loops.insert(0, pipeline_loop)
        planner = notify_loop(opened, settings, stop, outbox_loop)
        if planner is not None:
            loops.append(planner)
        log.info(
            "pipeline: worker %s, batches of %d, every %g s and when woken",
            settings.worker_id,
            settings.batch,
            settings.poll,
        )
    if loops:  # other processes' rows wake them too
        loops += other_processes(opened, settings, stop, pipeline_loop, outbox_loop)
    return loops, pipeline_loop


def other_processes(
    opened: Opened,
    settings: Settings,
    stop: threading.Event,
    pipeline_loop: Loop | None,
    outbox_loop: Loop | None,
) -> list[Loop]:
    """The loop that wakes these when another process stores inbox or outbox rows."""
    url = opened.store.engine.url
    if opened.store.dialect == "postgresql":
        channels = {INBOX: pipeline_loop, OUTBOX: outbox_loop}
        listener = Listener(url, {c: w.wake for c, w in channels.items() if w}, stop)
        return [
            Loop("listen", listener.step, interval=settings.poll, stop=stop, end=listener.close)
        ]
    file = sqlite_file(url)
    if file is None:  # in memory: no other process sees it
        return []
    tables = {"inbox": pipeline_loop, "outbox": outbox_loop}
    watcher = Watcher(file, {t: w.wake for t, w in tables.items() if w}, stop)
    return [Loop("watch", watcher.step, interval=settings.poll, stop=stop, end=watcher.close)]


def notify_loop(
    opened: Opened, settings: Settings, stop: threading.Event, outbox_loop: Loop | None
) -> Loop | None:
    """Plan notifications every `notify_every` seconds (one planner at a time on PostgreSQL)."""
    scheduler = planner(opened, settings)
    if scheduler is None:
        return None

    def tick() -> bool:
        stats = scheduler.tick()
        if stats.planned or stats.sent or stats.digested or stats.dropped:
            log.info(
                "notify: %d planned, %d sent, %d digested, %d dropped, %d waiting",
                stats.planned,
                stats.sent,
                stats.digested,
                stats.dropped,
                stats.held,
            )
        if stats.sent and outbox_loop is not None:
            outbox_loop.wake()
        return False

    log.info("notify: planning every %g s", settings.notify_every)
    return Loop("notify", tick, interval=settings.notify_every, stop=stop)


def planner(opened: Opened, settings: Settings) -> Scheduler | None:
    """The notification planner, or None when the manifest sends no messages."""
    return scheduler_for(
        opened.store,
        opened.manifest,
        settings.manifest_file,
        opened.secrets,
        opened.env,
        jira_dry_run=settings.jira_dry_run,
        offline_suggest=settings.offline_suggest,
    )


def outbox_senders(opened: Opened, settings: Settings) -> tuple[dict[str, EffectSender], list[str]]:
    return senders(
        opened.manifest,
        opened.secrets,
        opened.env,
        jira_dry_run=settings.jira_dry_run,
        file=str(settings.manifest_file),
    )


def outbox_worker(opened: Opened, settings: Settings) -> OutboxWorker:
    found, lines = outbox_senders(opened, settings)
    budget = timedelta(seconds=settings.retry_budget)
    log.info(
        "outbox: worker %s delivering to %s; every %g s and when woken, lease %g s, "
        "an effect is dead after failing for %s",
        settings.worker_id,
        "; ".join(lines),
        settings.poll,
        settings.lease,
        duration(budget),
    )
    return OutboxWorker(
        opened.store,
        found,
        worker_id=settings.worker_id,
        lease_seconds=settings.lease,
        backoff=exponential_backoff(settings.retry_base),
        retry_budget=budget,
    )


def worker_processes(workers: Workers, database: URL) -> int:
    """How many worker processes `serve` starts for `workers` on `database`: by default one,
    unless it is a SQLite database in memory, which no other process can open."""
    if workers.processes is not None:
        return workers.processes
    deciding = workers.pipeline or workers.outbox
    shared = database.get_backend_name() == "postgresql" or sqlite_file(database) is not None
    return 1 if deciding and shared else 0


def check_worker_config(opened: Opened, settings: Settings) -> None:
    """What a worker process would refuse (a missing secret: ConfigError), refused here
    before it is started, and started again, and refused again."""
    outbox_senders(opened, settings)
    planner(opened, settings)


def decide_once(drainer: Pipeline, batch: int) -> PipelineStats:
    stats = drainer.run_once(limit=batch)
    if stats.claimed or stats.decisions or stats.effects:
        log.info(
            "pipeline: %d event(s) decided, %d failed; %d awarded, %d revoked; %d effect(s) queued",
            stats.processed,
            stats.failed,
            stats.awarded,
            stats.revoked,
            stats.effects,
        )
    return stats


def deliver(worker: OutboxWorker, stop: threading.Event) -> bool:
    stats = worker.run_once(stop=stop)
    if stats.claimed:
        log.info(
            "outbox: %d delivered, %d to retry, %d deferred, %d dead, %d lost to another worker",
            stats.done,
            stats.retried,
            stats.deferred,
            stats.dead,
            stats.lost,
        )
    return stats.full and not stop.is_set()


def sync_loop(
    opened: Opened, interval: float, stop: threading.Event, pipeline_loop: Loop | None
) -> Loop | None:
    sources = [
        Stoppable(s, stop) for s in sync_sources(opened.manifest, opened.secrets, opened.env)
    ]
    if not sources:
        log.info("sync: no source to pull")
        return None

    def pull() -> bool:
        summaries = sync_all(sources, opened.store, opened.store.clock())
        new = sum(s.new for s in summaries)
        for s in summaries:
            if s.fetched or not s.ok:
                log.info(
                    "sync: %s fetched %d, new %d%s",
                    s.source,
                    s.fetched,
                    s.new,
                    "" if s.ok else f", stopped: {s.stopped}",
                )
        if new and pipeline_loop is not None:
            pipeline_loop.wake()
        return False

    log.info("sync: %s every %g s", ", ".join(s.name for s in sources), interval)
    return Loop("sync", pull, interval=interval, stop=stop)


def wake_on_webhooks(app: Flask, loop: Loop) -> None:
    """After a webhook stored a new event, the pipeline runs at once."""
    found = app.extensions[EXTENSION]
    assert isinstance(found, Services)
    found.on_stored.append(loop.wake)


def serve(
    settings: Settings,
    http: Http,
    workers: Workers,
    sync_interval: float | None,
    env: Mapping[str, str] | None = None,
) -> Service:
    """The serve process, built and checked (ConfigError on a missing secret), not started."""
    opened = open_parts(settings, env)
    try:
        stop = threading.Event()
        processes = worker_processes(workers, opened.store.engine.url)
        in_process = Workers(pipeline=False, outbox=False) if processes else workers
        loops, pipeline_loop = worker_loops(opened, settings, in_process, stop)
        if processes:
            check_worker_config(opened, settings)
            log.info("workers: %d `skillrelay worker` process(es) decide and deliver", processes)
            loops.append(Children(settings, processes, env).loop(stop))
        elif not (workers.pipeline or workers.outbox):
            log.info("workers: off (--no-worker); `skillrelay worker` processes decide and deliver")
        if sync_interval is not None:
            found = sync_loop(opened, sync_interval, stop, pipeline_loop)
            loops += [found] if found else []
        else:
            log.info("sync: off (--no-sync)")
        app = create_app(
            {"MANIFEST": str(settings.manifest_file)},
            store=opened.store,
            manifest=opened.manifest,
            env=opened.env,
        )
        if pipeline_loop is not None:
            wake_on_webhooks(app, pipeline_loop)
        kind = GranianHttp if http.server == "granian" else HttpServer
        try:
            server: HttpServer | GranianHttp = kind(
                app, host=http.host, port=http.port, threads=http.threads, limits=http.limits
            )
        except OSError as exc:
            where = f"{http.host}:{http.port}"
            raise SkillrelayError(f"http: cannot listen on {where}: {exc.strerror}") from None
        log.info(
            "http: listening on %s (%s, %d threads)", server.address, http.server, http.threads
        )
        depth = server.depth
        found = app.extensions[EXTENSION]
        assert isinstance(found, Services)
        found.metrics.watch_server(server.queued, lambda: depth.peak)
    except BaseException:
        opened.store.close()
        raise
    return Service(opened.store, loops, server, grace=settings.grace, stop=stop)


def worker(
    settings: Settings,
    workers: Workers,
    env: Mapping[str, str] | None = None,
    parent: int | None = None,
) -> Service:
    """A worker process; `parent`: the pid of the `serve` that started it, to stop with."""
    opened = open_parts(settings, env)
    try:
        stop = threading.Event()
        loops, _ = worker_loops(opened, settings, workers, stop)
        if parent is not None:
            loops.append(Loop("parent", parent_watch(parent, stop), interval=1.0, stop=stop))
    except BaseException:
        opened.store.close()
        raise
    return Service(opened.store, loops, grace=settings.grace, stop=stop)
