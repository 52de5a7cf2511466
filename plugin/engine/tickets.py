"""The tickets and the candidates on them: who each decision is about, and their slots in
the quotas. Verdicts are not stored; they are recomputed from the ticket and the person's
completions when needed (a pure function, cheaper than keeping a million of them)."""

from __future__ import annotations

from collections.abc import Iterable

from plugin.engine.calendar import Calendar
from plugin.engine.cands import CandId, TicketView, cid_of, decision_of, skill_info, slot_of
from plugin.engine.change import Change
from plugin.engine.decision import Decision, ModuleInfo, SkillInfo
from plugin.engine.facts import Ref, TicketFact, TransitionFact
from plugin.engine.history import Completions, TicketHistory, ticket_history
from plugin.engine.matching import SkillMatcher
from plugin.engine.people import People
from plugin.engine.quota import Key, Outcome, Quotas, Slot
from plugin.engine.rules import ELIGIBLE, Pair, Verdict, judge
from plugin.manifest.model import Manifest

NO_ONE = Pair(None, None)


class Tickets:
    def __init__(self, manifest: Manifest, people: People) -> None:
        self.people = people
        self.done = manifest.rules.done_status_category
        self.matcher = SkillMatcher(manifest)
        self.calendar = Calendar(manifest)
        self.skills: dict[str, SkillInfo] = {s.id: skill_info(manifest, s) for s in manifest.skills}
        found = manifest.modules_by_key.items()
        self.modules = {key: ModuleInfo(m.id, m.title) for key, (_, m) in found}
        self.by_ticket: dict[str, list[TransitionFact]] = {}
        self.views: dict[str, TicketView] = {}  # of tickets that have entered done
        self.tickets_of: dict[str, list[str]] = {}  # person (or "system:id") -> ticket ids
        self.slots: dict[CandId, Slot] = {}  # of candidates that passed the per-chain rules
        self.quotas = Quotas()

    def refresh(self, ticket: str, change: Change) -> None:
        """Re-read a ticket's history and re-judge every decision on it."""
        old = self.views.get(ticket)
        if old is not None:
            self.capture(ticket, change)
        found = ticket_history(self.by_ticket.get(ticket, ()), self.done)
        view = self._view(*found, change) if found else None
        pairs = {(p.key, s, ticket): (p, s) for p, s in view.pairs} if view else {}
        if view is None:
            self.views.pop(ticket, None)
        else:
            self.views[ticket] = view
        if old is None:  # first sight: the common case in a backfill
            for key in {p.key for p, _ in view.pairs} if view else ():
                self.tickets_of.setdefault(key, []).append(ticket)
        else:
            old_pairs = {(p.key, s, ticket) for p, s in old.pairs}
            self._index(ticket, {k for k, _, _ in old_pairs}, {k for k, _, _ in pairs})
            for cid in old_pairs - pairs.keys():
                self._drop_slot(cid, change)
        for cid, (pair, skill) in pairs.items():
            if change.capture:
                change.before.setdefault(cid, None)
            assert view is not None
            self._judge(ticket, view, pair, skill, change)

    def _view(
        self, h: TicketHistory, snapshots: tuple[TicketFact, ...], change: Change
    ) -> TicketView:
        latest = h.latest_done.ticket
        matcher = self.matcher
        if change.decisions is not None:  # a batch that builds decisions: keep the evidence
            change.matched = matcher.shown(latest)
            shown = matcher.intern(tuple(change.matched))
        else:
            shown = matcher.skills(latest)
        assignee = self.pair(latest.assignee)
        several = None
        if len(snapshots) > 1:  # one snapshot (a sync shares one) is the common case
            pairs: dict[tuple[str, str], tuple[Pair, str]] = {}
            for snap in snapshots:
                pair = self.pair(snap.assignee)
                for skill in (shown if snap is latest else matcher.skills(snap)) or ("",):
                    pairs[pair.key, skill] = (pair, skill)
            found = tuple(pairs.values())
            if found != tuple((assignee, skill) for skill in shown or ("",)):
                several = found
        first, done, left = h.first_done, h.latest_done, h.left_done
        return TicketView(first, done, left, h.in_progress_us, shown, assignee, several)

    def _index(self, ticket: str, old: set[str], new: set[str]) -> None:
        for key in old - new:
            tickets = self.tickets_of[key]
            tickets.remove(ticket)
            if not tickets:
                del self.tickets_of[key]
        for key in new - old:
            self.tickets_of.setdefault(key, []).append(ticket)

    def pair(self, ref: Ref | None) -> Pair:
        return self.people.pair(ref) if ref is not None else NO_ONE

    def each_pair(self, person: str, skill: str, change: Change, judge: bool) -> None:
        """Capture (before a change) or re-judge (after it) a person's decisions on a skill."""
        for ticket in self.tickets_of.get(person, ()):
            view = self.views[ticket]
            for pair, s in view.pairs:
                if pair.person == person and s == skill:
                    if judge:
                        self._judge(ticket, view, pair, s, change)
                    elif change.capture and (person, s, ticket) not in change.before:
                        change.before[person, s, ticket] = self.decide(ticket, view, pair, s)

    def capture(self, ticket: str, change: Change) -> None:
        """Keep the decisions on a ticket as they are, before a change."""
        view = self.views.get(ticket)
        if view is not None and change.capture:
            for pair, skill in view.pairs:
                cid = (pair.key, skill, ticket)
                if cid not in change.before:
                    change.before[cid] = self.decide(ticket, view, pair, skill)

    def verdict(self, view: TicketView, pair: Pair, skill: str) -> Verdict:
        person = pair.person

        def learned() -> Completions | None:
            return self.people.learned(person, skill) if person else None

        info = self.skills.get(skill)
        return judge(info, pair, view, view.assignee, skill in view.shown, learned)

    def _judge(self, ticket: str, view: TicketView, pair: Pair, skill: str, change: Change) -> None:
        cid = (pair.key, skill, ticket)
        slot = None
        verdict = self.verdict(view, pair, skill)
        if verdict.reason == ELIGIBLE:
            slot = slot_of(self.calendar, self.skills.get(skill), pair.person, view, ticket)
        old = self.slots.get(cid)
        if slot is not None and old is not None and slot.key == old.key:
            return  # same place in the quotas: keep its outcome
        self._drop_slot(cid, change)
        if slot is not None:
            change.added[slot.key] = slot
            self.slots[cid] = slot

    def _drop_slot(self, cid: CandId, change: Change) -> None:
        slot = self.slots.pop(cid, None)
        if slot is not None and change.added.pop(slot.key, None) is None:
            change.removed.append(slot.key)

    def decide_once(
        self, ticket: str, transitions: Iterable[TransitionFact], change: Change
    ) -> None:
        """A batch that keeps no state for later events: decide every candidate on the
        ticket now, except those that passed the per-chain rules, which wait for the quotas."""
        found = ticket_history(transitions, self.done)
        decisions = change.decisions
        if found is None or decisions is None:
            return
        view = self._view(*found, change)
        calendar, modules, matched = self.calendar, self.modules, change.matched
        for pair, skill in view.pairs:
            verdict = self.verdict(view, pair, skill)
            info = self.skills.get(skill)
            how = matched.get(skill, ())
            slot = None
            if verdict.reason == ELIGIBLE:
                slot = slot_of(calendar, info, pair.person, view, ticket)
            if slot is not None:
                first, latest, spent = view.first_done, view.latest_done, view.in_progress_us
                decisions.append((first, latest, spent, pair, verdict.completion, slot, how))
                continue
            decisions.append(decision_of(view, pair, info, verdict, None, how, calendar, modules))

    def decide(
        self,
        ticket: str,
        view: TicketView,
        pair: Pair,
        skill: str,
        matched: tuple[str, ...] | None = None,
        outcome: Outcome | None = None,
    ) -> Decision:
        """One candidate's decision; `outcome` replaces its quota outcome (an earlier one)."""
        if matched is None:
            shown = self.matcher.shown(view.latest_done.ticket) if skill else {}
            matched = shown.get(skill, ())
        verdict = self.verdict(view, pair, skill)
        slot = self.slots.get((pair.key, skill, ticket))
        info = self.skills.get(skill)
        calendar, modules = self.calendar, self.modules
        return decision_of(view, pair, info, verdict, slot, matched, calendar, modules, outcome)

    def owner(self, key: Key, outcome: Outcome | None = None) -> Decision | None:
        """The decision of a quota slot's candidate."""
        return self.decision(cid_of(key), outcome)

    def decision(self, cid: CandId, outcome: Outcome | None = None) -> Decision | None:
        key, skill, ticket = cid
        view = self.views.get(ticket)
        for pair, s in view.pairs if view else ():
            if pair.key == key and s == skill:
                assert view is not None
                return self.decide(ticket, view, pair, skill, outcome=outcome)
        return None
