"""What one step of the engine changed, and a guard for bulk work."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from plugin.engine.cands import CandId
from plugin.engine.decision import Decision
from plugin.engine.facts import CompletionFact, TransitionFact
from plugin.engine.matching import Shown
from plugin.engine.quota import Key, Slot
from plugin.engine.rules import Pair

# An eligible candidate waiting for its quota outcome: (first and latest entry into done,
# time in progress, who, the completion it used, its slot, how the ticket shows the skill).
# Not the ticket's view: a backfill has a hundred thousand of these, with few fields used.
Waiting = tuple[
    TransitionFact, TransitionFact, int | None, Pair, CompletionFact | None, Slot, tuple[str, ...]
]


@dataclass(slots=True)
class Change:
    """Decisions as they were before the step (None: new) and the slots for the quotas."""

    capture: bool  # False for a batch: nothing to compare with
    before: dict[CandId, Decision | None] = field(default_factory=dict)
    removed: list[Key] = field(default_factory=list)
    added: dict[Key, Slot] = field(default_factory=dict)
    # A batch that builds its decisions: each one, or what it waits for.
    decisions: list[Decision | Waiting] | None = None
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
