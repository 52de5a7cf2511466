"""A background loop: run a step, then wait for a wake-up or the interval; stop on request."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("skillrelay.service")

Step = Callable[[], bool]  # returns True when more work is waiting: run again at once


class Loop:
    """One daemon thread running `step` until `stop` is set.

    After a step that found no more work it waits `interval` seconds, or less when `wake()`
    is called (a webhook stored an event, a decision queued effects), but never starts a
    step less than `spacing` seconds after the previous one started: one woken after a
    quiet spell runs at once, while under load each step takes what arrived meanwhile. A
    step that raises is logged and tried again after the interval: the store being briefly
    away must not end the service. Setting `stop` never interrupts a step; the step itself
    decides how far to go (the outbox worker finishes the effect in hand).
    """

    def __init__(
        self,
        name: str,
        step: Step,
        *,
        interval: float,
        stop: threading.Event,
        spacing: float = 0.0,
        end: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.step = step
        self.interval = interval
        self.spacing = spacing
        self.stop = stop
        self.end = end  # run in the loop's thread once it stops (closing what it holds)
        self._wake = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        self._wake.set()

    def join(self, timeout: float) -> bool:
        """Wait for the loop to end; False if it is still in a step after `timeout`."""
        self.wake()
        if self.thread.ident is None:  # never started
            return True
        self.thread.join(max(0.0, timeout))
        return not self.thread.is_alive()

    def _run(self) -> None:
        while not self.stop.is_set():
            self._wake.clear()  # a wake() during the step below keeps the next wait short
            started = time.monotonic()
            try:
                more = self.step()
            except Exception:
                log.exception("%s: step failed; trying again in %g s", self.name, self.interval)
                more = False
            if not more and not self.stop.is_set():
                self._wake.wait(self.interval)
                # Woken sooner than `spacing` after the last step began: let the work pile up
                # a little, so a busy loop runs fewer, bigger steps.
                self.stop.wait(started + self.spacing - time.monotonic())
        if self.end is not None:
            self.end()
        log.info("%s: stopped", self.name)
