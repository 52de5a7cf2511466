"""`worker --once`: decide and deliver until nothing is left to do now, then return.

"Nothing left" means: the pipeline claimed no new inbox event and no outbox effect was due.
Effects waiting for a retry later (a Retry-After, a target that is down) stay pending for
the next run; the summary counts them.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from plugin.outbox_worker import OutboxWorker
from plugin.service.compose import Opened, Settings, Workers, decide_once, outbox_worker
from plugin.service.parts import pipeline

log = logging.getLogger("skillrelay.service")


@dataclass
class Drained:
    events: int = 0  # inbox events the pipeline took in hand
    delivered: int = 0
    retried: int = 0  # attempts that failed and were put back for later
    dead: int = 0
    pending: int = 0  # effects still waiting (for a retry) when the drain ended
    stopped: bool = False  # a signal ended the drain early

    def __str__(self) -> str:
        stopped = " (stopped by a signal)" if self.stopped else ""
        return (
            f"drained{stopped}: {self.events} inbox event(s) decided, {self.delivered} "
            f"effect(s) delivered, {self.retried} retried, {self.dead} dead, "
            f"{self.pending} waiting for a later attempt"
        )


def drain(opened: Opened, settings: Settings, workers: Workers, stop: threading.Event) -> Drained:
    drainer = (
        pipeline(opened.store, opened.manifest, settings.worker_id) if workers.pipeline else None
    )
    outbox: OutboxWorker | None = outbox_worker(opened, settings) if workers.outbox else None
    done = Drained()
    while not stop.is_set():
        taken = decide_once(drainer, settings.batch).claimed if drainer is not None else 0
        done.events += taken
        due = 0
        if outbox is not None and not stop.is_set():
            stats = outbox.run_once(stop=stop)
            due = stats.claimed
            done.delivered += stats.done
            done.retried += stats.retried
            done.dead += stats.dead
        if not taken and not due:
            break
    done.stopped = stop.is_set()
    done.pending = opened.store.outbox.backlog().pending
    return done
