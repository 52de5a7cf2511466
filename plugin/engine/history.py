"""Summaries of one ticket's transitions and of one person's completions of one skill.

Both are pure functions of a set of facts: events are sorted by (time, natural key) first,
so arrival order never matters.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter

from plugin.engine.facts import CompletionFact, TicketFact, TransitionFact

IN_PROGRESS = "indeterminate"
BY_TIME = attrgetter("at", "key")
COUNTS = ("complete", "passed")


@dataclass(slots=True)  # not frozen: building frozen ones costs 10x, and there is one a ticket
class TicketHistory:
    first_done: TransitionFact  # the first entry into done: its time is t2
    latest_done: TransitionFact  # the latest entry: its snapshot is the ticket as finished
    left_done: TransitionFact | None  # set while the ticket is out of done again (reopened)
    in_progress_us: int | None  # time in progress before t2; None: no in-progress entry seen

    @property
    def t2(self) -> int:
        return self.first_done.at


def ticket_history(
    transitions: Iterable[TransitionFact], done: str
) -> tuple[TicketHistory, tuple[TicketFact, ...]] | None:
    """The history and the snapshots of every entry into done (the ticket as finished each
    time); None while the ticket has never entered the done category.

    The state is the last known to_category; a transition to an unknown category (None) is
    skipped. An entry into done is a move to done from any other state.
    """
    state: str | None = None
    first: TransitionFact | None = None
    latest: TransitionFact | None = None
    left: TransitionFact | None = None
    progress_from: int | None = None
    progress = 0
    known = False
    snapshots: dict[int, TicketFact] = {}
    for t in sorted(transitions, key=BY_TIME):
        if t.to_category is None:
            continue
        before = state if state is not None else t.from_category
        if first is None:
            if t.to_category != IN_PROGRESS and progress_from is not None:
                progress += t.at - progress_from
                progress_from = None
            if t.to_category == IN_PROGRESS and before != IN_PROGRESS:
                progress_from = t.at
                known = True
        if t.to_category == done and before != done:
            first = first or t
            latest, left = t, None
            snapshots.setdefault(id(t.ticket), t.ticket)
        elif before == done and t.to_category != done and latest is not None and left is None:
            left = t
        state = t.to_category
    if first is None or latest is None:
        return None
    history = TicketHistory(first, latest, left, progress if known else None)
    return history, (*snapshots.values(),)


@dataclass(frozen=True, slots=True)
class Completions:
    """One person's completions of the modules of one skill."""

    valid: tuple[CompletionFact, ...]  # complete/passed, not withdrawn; by (at, key)
    valid_at: tuple[int, ...]
    withdrawn: tuple[CompletionFact, ...]  # complete/passed, then marked incomplete
    withdrawn_at: tuple[int, ...]
    failed: CompletionFact | None  # the latest failure

    def latest_valid(self, t2: int) -> tuple[int, CompletionFact | None]:
        """(index of the first valid completion after t2, the latest one at or before t2)."""
        i = bisect_right(self.valid_at, t2)
        return i, self.valid[i - 1] if i else None

    def latest_withdrawn(self, t2: int) -> CompletionFact | None:
        i = bisect_right(self.withdrawn_at, t2)
        return self.withdrawn[i - 1] if i else None


def completions(facts: Sequence[CompletionFact], module_ids: Mapping[str, str]) -> Completions:
    """A completion counts unless the same module (by id: its Moodle and xAPI keys are one
    module) is marked incomplete at or after it; a failure neither counts nor withdraws."""
    if len(facts) == 1:  # the common case, made cheap
        c = facts[0]
        if c.state in COUNTS:
            return Completions((c,), (c.at,), (), (), None)
        return Completions((), (), (), (), c if c.state == "failed" else None)
    ordered = sorted(facts, key=BY_TIME)
    reset: dict[str, int] = {}
    for c in ordered:
        if c.state == "incomplete":
            reset[module_ids[c.module]] = c.at  # ordered, so the latest wins
    valid: list[CompletionFact] = []
    withdrawn: list[CompletionFact] = []
    failed: CompletionFact | None = None
    for c in ordered:
        if c.state in COUNTS:
            gone = reset.get(module_ids[c.module])
            (withdrawn if gone is not None and gone >= c.at else valid).append(c)
        elif c.state == "failed":
            failed = c
    return Completions(
        tuple(valid),
        tuple(c.at for c in valid),
        tuple(withdrawn),
        tuple(c.at for c in withdrawn),
        failed,
    )
