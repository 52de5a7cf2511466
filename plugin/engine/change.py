"""What one step of the engine changed, and a guard for bulk work."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from plugin.engine.cands import CandId, TicketView
from plugin.engine.decision import Decision
from plugin.engine.matching import Shown
from plugin.engine.quota import Key, Slot
from plugin.engine.rules import Pair, Verdict

Kept = tuple[str, TicketView, Pair, str, Verdict, tuple[str, ...]]


@dataclass(slots=True)
class Change:
    """Decisions as they were before the step (None: new) and the slots for the quotas."""

    capture: bool  # False for a batch: nothing to compare with
    before: dict[CandId, Decision | None] = field(default_factory=dict)
    removed: list[Key] = field(default_factory=list)
    added: dict[Key, Slot] = field(default_factory=dict)
    # A batch that builds its decisions keeps each verdict, with the ticket's evidence.
    verdicts: list[Kept] | None = None
    matched: Shown = field(default_factory=dict)  # of the ticket being read


@contextmanager
def paused_gc() -> Iterator[None]:
    """A backfill allocates millions of long-lived objects and the cyclic collector would
    scan them again and again (a third of the run). The engine makes no reference cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
