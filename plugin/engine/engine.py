"""The rules engine: events in, one decision per (person, skill, ticket) out.

The result is a pure function of the SET of events (deduplicated by natural key) and the
learned identities: arrival order and duplicates never change it. `load` / `evaluate_all`
judge a batch; `add` takes one event and returns the decisions whose outcome changed, so a
caller can reconcile the ledger (a new `awarded`: insert the award; an award no longer
`awarded`: revoke it, the reason says why).

When a ticket counts (the award/reopen rule):
- t2 is the ticket's FIRST entry into the done category. Window, in-progress time, sprint,
  cooldown, cap and budget are all measured at t2, so reopening and closing a ticket again
  can never move its award into another window, sprint or budget period.
- The ticket as finished is its LATEST entry into done: its assignee, resolution, labels,
  components and fields decide who is eligible and whether the skill shows.
- While the ticket is out of done again, every decision on it is `reopened` (an award is
  revoked). When it enters done again the decision is re-evaluated with the same key and
  the same t2: it is `awarded` again if the ticket as finished still qualifies, which is
  what people expect after a reopen for a small fix. There is one award per (person,
  skill, ticket): never a second one, only its revocation undone.
- A decision names the ticket by its key at the first entry into done. If a late, older
  event changes that, the old key gets a last `ticket_moved` decision.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from itertools import chain, groupby
from operator import attrgetter

from plugin.domain import Completion, TicketTransition
from plugin.engine import readout
from plugin.engine.change import Change, paused_gc
from plugin.engine.decision import Decision
from plugin.engine.facts import (
    CompletionFact,
    F,
    Fact,
    Ref,
    TransitionFact,
    fact_of,
    preferred,
)
from plugin.engine.identity import IdentityResolver, Learned
from plugin.engine.people import People, RefInfo, Unresolved
from plugin.engine.quota import Quotas
from plugin.engine.tickets import Tickets
from plugin.manifest.model import Manifest

Event = Completion | TicketTransition | Fact
BY_KEY = attrgetter("key")
TICKET_ID = attrgetter("ticket.id")


class Engine:
    def __init__(self, manifest: Manifest, learned: Learned | None = None) -> None:
        self.manifest = manifest
        found = manifest.modules_by_key.items()
        self._modules = {key: (s.id, m.id) for key, (s, m) in found}
        self.people = People(IdentityResolver(manifest, learned), self._modules)
        self.tickets = Tickets(manifest, self.people)
        self._completions: dict[str, CompletionFact] = {}
        self._transitions: dict[str, TransitionFact] = {}

    # Reading the current state.
    def decisions(self) -> list[Decision]:
        """Every decision, in the canonical order (t2, ticket, skill, person)."""
        return readout.every_decision(self.tickets)

    def awards(self) -> list[Decision]:
        """The decisions that are `awarded` now."""
        return readout.awards(self.tickets)

    def current(self, d: Decision) -> Decision | None:
        """The decision on `d`'s (person, skill, ticket) now; None if that key is gone (its
        assignee is someone else now, or the ticket has another key)."""
        found = self.tickets.decision(
            (d.person or d.person_ref or "", d.skill or "", d.done.ticket.id)
        )
        return found if found is not None and found.key == d.key else None

    def completions_of(self, person: str) -> list[CompletionFact]:
        """The completion events (every state) of the ids that resolve to `person` now."""
        return list(self.people.by_person.get(person, ()))

    def unresolved(self) -> list[Unresolved]:
        """External ids nobody claims yet; their events are held, not dropped."""
        return self.people.unresolved({k: len(v) for k, v in self.tickets.tickets_of.items()})

    # Batch.
    def load(self, events: Iterable[Event]) -> None:
        """Take many events at once and judge everything in one pass."""
        self._load(events, Change(capture=False))

    def _load(self, events: Iterable[Event], change: Change) -> None:
        completions, transitions = self._completions, self._transitions
        with paused_gc():
            for event in events:
                fact = fact_of(event)
                if isinstance(fact, CompletionFact):
                    old_c = completions.get(fact.key)
                    completions[fact.key] = fact if old_c is None else preferred(old_c, fact)
                else:
                    old_t = transitions.get(fact.key)
                    transitions[fact.key] = fact if old_t is None else preferred(old_t, fact)
            self._rebuild(change)

    def _rebuild(self, change: Change) -> None:
        tickets = self._fresh()
        by_ticket = tickets.by_ticket
        for t in self._transitions.values():
            found = by_ticket.get(t.ticket.id)
            if found is None:
                by_ticket[t.ticket.id] = [t]
            else:
                found.append(t)
        self._file(self._completions.values(), self._transitions.values())
        for ticket in by_ticket:
            tickets.refresh(ticket, change)
        tickets.quotas.load(change.added.values())

    def _fresh(self) -> Tickets:
        self.people = People(self.people.resolver, self._modules)
        self.tickets = Tickets(self.manifest, self.people)
        return self.tickets

    def _file(
        self, completions: Collection[CompletionFact], transitions: Collection[TransitionFact]
    ) -> None:
        learners = (c.person for c in completions)
        assignees = filter(None, (t.ticket.assignee for t in transitions))
        self.people.count_all(chain(learners, assignees))
        for c in completions:
            self.people.file(c)

    def _decide_once(self, events: Iterable[Event], change: Change) -> None:
        """evaluate_all: nothing is kept for later events, so no index by natural key
        (sorting finds the duplicates) and no index by ticket (sorting groups them)."""
        completions: list[CompletionFact] = []
        transitions: list[TransitionFact] = []
        with paused_gc():
            for event in events:
                fact = fact_of(event)
                if isinstance(fact, CompletionFact):
                    completions.append(fact)
                else:
                    transitions.append(fact)
            _unique(completions)
            _unique(transitions)
            tickets = self._fresh()
            self._file(completions, transitions)
            del completions
            self.people.only(t.ticket.assignee for t in transitions)  # learners are filed
            transitions.sort(key=TICKET_ID)
            for ticket, group in groupby(transitions, TICKET_ID):
                tickets.decide_once(ticket, group, change)

    # One event at a time.
    def add(self, event: Event) -> list[Decision]:
        """Take one event; the decisions it changed (new ones included)."""
        fact = fact_of(event)
        change = Change(capture=True)
        if isinstance(fact, CompletionFact):
            old_c = self._completions.get(fact.key)
            if old_c is not None and preferred(old_c, fact) is old_c:
                return []
            self._completions[fact.key] = fact
            if old_c is not None:
                self._completion(old_c, change, add=False)
            self._completion(fact, change, add=True)
        else:
            old_t = self._transitions.get(fact.key)
            if old_t is not None and preferred(old_t, fact) is old_t:
                return []
            self._transitions[fact.key] = fact
            by_ticket = self.tickets.by_ticket
            if old_t is not None:
                by_ticket[old_t.ticket.id].remove(old_t)
                if old_t.ticket.assignee is not None:
                    self._note(old_t.ticket.assignee, change, -1)
                self.tickets.refresh(old_t.ticket.id, change)
            if fact.ticket.assignee is not None:
                self._note(fact.ticket.assignee, change)
            by_ticket.setdefault(fact.ticket.id, []).append(fact)
            self.tickets.refresh(fact.ticket.id, change)
        return readout.settle(self.tickets, change)

    def relearn(self, learned: Learned) -> list[Decision]:
        """Use a new identities mapping (the store's): held events of the ids it claims now
        are judged. Returns the decisions that changed."""
        self.people.resolver = IdentityResolver(self.manifest, learned)
        change = Change(capture=True)
        with paused_gc():
            for info in self.people.every_ref():
                if self.people.lookup(info) != info.person:
                    self._rehome(info, change)
        return readout.settle(self.tickets, change)

    def _completion(self, c: CompletionFact, change: Change, add: bool) -> None:
        if add:
            self._note(c.person, change)
        person = self.people.ref(c.person.system, c.person.id).person
        skill = self._modules.get(c.module)
        if person is not None and skill is not None:
            self.tickets.each_pair(person, skill[0], change, judge=False)
        self.people.file(c, add)
        if not add:
            self._note(c.person, change, -1)
        if person is not None and skill is not None:
            self.tickets.each_pair(person, skill[0], change, judge=True)

    def _note(self, ref: Ref, change: Change, count: int = 1) -> RefInfo:
        info, moved = self.people.note(ref, count)
        if moved:
            self._rehome(info, change)
        return info

    def _rehome(self, info: RefInfo, change: Change) -> None:
        """The ref resolves to someone else now: move its completions, re-read its tickets."""
        tickets = self.tickets
        old, new = info.person, self.people.lookup(info)
        mine = list(tickets.tickets_of.get(info.pair.key, ())) if info.pair else []
        skills = self.people.skills_of(info)
        for person in {old, new} - {None}:
            for skill in skills:
                tickets.each_pair(str(person), skill, change, judge=False)
        for ticket in mine:
            tickets.capture(ticket, change)
        for person, skill in self.people.rehome(info):
            tickets.each_pair(person, skill, change, judge=True)
        for ticket in mine:
            tickets.refresh(ticket, change)


def _unique(facts: list[F]) -> None:
    """One fact per natural key, the preferred one; in place."""
    facts.sort(key=BY_KEY)  # stable: duplicates stay in arrival order
    kept = 0
    for i in range(len(facts)):
        fact = facts[i]
        if kept and fact.key == facts[kept - 1].key:
            facts[kept - 1] = preferred(facts[kept - 1], fact)
        else:
            facts[kept] = fact
            kept += 1
    del facts[kept:]


def evaluate_all(
    manifest: Manifest, events: Iterable[Event], learned: Learned | None = None
) -> list[Decision]:
    """Every decision for a set of events (order and duplicates do not matter)."""
    engine = Engine(manifest, learned)
    change = Change(capture=False, decisions=[])
    engine._decide_once(events, change)
    t = engine.tickets
    skills, calendar, modules = t.skills, t.calendar, t.modules
    del engine, t  # people and tickets go before the quotas and the decisions take their place
    with paused_gc():
        waiting = (w[5] for w in change.decisions or () if type(w) is tuple)
        Quotas().load(waiting)
    return readout.batch_decisions(change, skills, calendar, modules)
