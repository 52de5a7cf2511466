"""Who each external id is, and each person's completions.

An id nobody claims yet keeps its completions held (never dropped); when a mapping appears
(an e-mail on a later event, or `relearn`) they move to the person. Completions are kept
per person, not per (person, skill): a person has few, and a backfill has many people.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from plugin.engine.facts import CompletionFact, Ref
from plugin.engine.history import Completions, completions
from plugin.engine.identity import IdentityResolver, lower
from plugin.engine.rules import Pair

RefKey = tuple[str, str]  # (system, id)


@dataclass(slots=True)
class RefInfo:
    """One external id. Most show one e-mail, so that one needs no dict of its own."""

    system: str
    id: str
    person: str | None = None
    email: str | None = None  # an e-mail events held now show, with how many show it
    shows: int = 0
    more: dict[str, int] | None = None  # any other e-mails, the same way
    pair: Pair | None = None  # (person, "system:id") once it is an assignee, shared

    @property
    def emails(self) -> tuple[str, ...]:
        """The e-mails the events held now show."""
        found = (self.email,) if self.email is not None else ()
        return (*found, *self.more) if self.more else found

    def count(self, email: str, count: int) -> int:
        """Add `count` events showing `email` (lower case); how many show it now."""
        if self.email is None and not self.more:
            self.email, self.shows = email, 0
        if email == self.email:
            seen = self.shows = self.shows + count
            if seen <= 0:
                self.email, self.shows = None, 0
            return seen
        more = self.more = self.more or {}
        seen = more.get(email, 0) + count
        if seen > 0:
            more[email] = seen
        else:
            more.pop(email, None)
        return seen


@dataclass(frozen=True, slots=True, order=True)
class Unresolved:
    """An external id no manifest person claims: its events wait for a mapping."""

    system: str
    id: str
    emails: tuple[str, ...]  # seen on its events
    completions: int
    tickets: int


NO_REFS: dict[str, RefInfo] = {}  # never written: what a system without refs reads


class People:
    def __init__(
        self, resolver: IdentityResolver | None, modules: dict[str, tuple[str, str]]
    ) -> None:
        self.resolver = resolver  # None once a batch has resolved every id it reads
        self.modules = modules  # module key -> (skill id, module id)
        self.module_ids = {key: module for key, (_, module) in modules.items()}
        self.skill_of = {key: skill for key, (skill, _) in modules.items()}
        self.refs: dict[str, dict[str, RefInfo]] = {}  # system -> id -> its info
        self.by_person: dict[str, list[CompletionFact]] = {}
        self.held: dict[RefKey, list[CompletionFact]] = {}  # of ids nobody claims yet

    def info(self, ref: Ref) -> RefInfo:
        info = self.refs.get(ref.system, NO_REFS).get(ref.id)
        if info is None:
            info = self._new(ref)
            self._settle(info, self.lookup(info))
        return info

    def _new(self, ref: Ref) -> RefInfo:
        info = RefInfo(ref.system, ref.id)
        self.refs.setdefault(ref.system, {})[ref.id] = info
        return info

    def ref(self, system: str, ident: str) -> RefInfo:
        """The info of a ref seen before."""
        return self.refs[system][ident]

    def every_ref(self) -> list[RefInfo]:
        return [info for found in self.refs.values() for info in found.values()]

    def only(self, refs: Iterable[Ref | None]) -> None:
        """A batch that read every id: forget every ref but these (the learners' are filed)
        and the resolver (no id is left to resolve)."""
        kept: dict[str, dict[str, RefInfo]] = {}
        for ref in refs:
            if ref is not None:
                found = kept.setdefault(ref.system, {})
                if ref.id not in found:
                    found[ref.id] = self.refs[ref.system][ref.id]
        self.refs, self.resolver = kept, None

    def pair(self, ref: Ref) -> Pair:
        info = self.info(ref)
        if info.pair is None:
            info.pair = Pair(info.person, f"{info.system}:{info.id}")
        return info.pair

    def lookup(self, info: RefInfo) -> str | None:
        if self.resolver is None:
            raise LookupError(f"{info.system}:{info.id} came after its batch's ids")
        return self.resolver.lookup(info.system, info.id, info.emails)

    def _settle(self, info: RefInfo, person: str | None) -> None:
        info.person = person
        if info.pair is not None:  # made when first needed: learners' ids never are
            info.pair = Pair(person, info.pair.ref)

    def note(self, ref: Ref, count: int = 1) -> tuple[RefInfo, bool]:
        """Count (or with -1, forget) one event showing the ref. True if that changed who
        it is: the e-mails it resolves by are those of the events held now."""
        info = self.info(ref)
        if not ref.email:
            return info, False
        seen = info.count(lower(ref.email), count)
        if (seen == 1 and count == 1) or seen <= 0:
            return info, self.lookup(info) != info.person
        return info, False

    def count_all(self, refs: Iterable[Ref]) -> None:
        """Batch: count every event's ref, then resolve each once with all its e-mails."""
        for ref in refs:
            info = self.refs.get(ref.system, NO_REFS).get(ref.id)
            if info is None:
                info = self._new(ref)
            if ref.email:
                info.count(lower(ref.email), 1)
        for found in self.refs.values():
            for info in found.values():
                self._settle(info, self.lookup(info))

    def file(self, c: CompletionFact, add: bool = True) -> tuple[str, str] | None:
        """Add (or remove) a completion; (person, skill) when a known person's skill changed."""
        info = self.refs[c.person.system][c.person.id]
        person = info.person
        if person is None:
            found = self.held.setdefault((info.system, info.id), [])
        else:
            found = self.by_person.setdefault(person, [])
        if add:
            found.append(c)
        else:
            found.remove(c)
        skill = self.modules.get(c.module)
        return (person, skill[0]) if person is not None and skill else None

    def rehome(self, info: RefInfo) -> set[tuple[str, str]]:
        """Move a ref's completions to whoever it resolves to now; the (person, skill)
        pairs whose completions changed."""
        key = (info.system, info.id)
        if info.person is None:
            mine = self.held.pop(key, [])
        else:
            theirs = self.by_person.get(info.person, [])
            mine = [c for c in theirs if (c.person.system, c.person.id) == key]
            theirs[:] = [c for c in theirs if (c.person.system, c.person.id) != key]
        touched = {(info.person, s) for s in self._skills(mine) if info.person}
        self._settle(info, self.lookup(info))
        if info.person is None:
            self.held.setdefault(key, []).extend(mine)
        else:
            self.by_person.setdefault(info.person, []).extend(mine)
            touched |= {(info.person, s) for s in self._skills(mine)}
        return touched

    def skills_of(self, info: RefInfo) -> set[str]:
        """The skills of the completions a ref's events report."""
        key = (info.system, info.id)
        if info.person is None:
            return self._skills(self.held.get(key, []))
        mine = self.by_person.get(info.person, [])
        return self._skills([c for c in mine if (c.person.system, c.person.id) == key])

    def _skills(self, found: list[CompletionFact]) -> set[str]:
        return {s[0] for s in (self.modules.get(c.module) for c in found) if s}

    def learned(self, person: str, skill: str) -> Completions | None:
        skill_of = self.skill_of.get
        found = [c for c in self.by_person.get(person, ()) if skill_of(c.module) == skill]
        return completions(found, self.module_ids) if found else None

    def unresolved(self, tickets: dict[str, int]) -> list[Unresolved]:
        """`tickets`: how many tickets each unclaimed "system:id" is the assignee of."""
        found = []
        for info in self.every_ref():
            if info.person is not None:
                continue
            held = len(self.held.get((info.system, info.id), ()))
            assigned = tickets.get(f"{info.system}:{info.id}", 0)
            if held or assigned:
                emails = tuple(sorted(info.emails))
                found.append(Unresolved(info.system, info.id, emails, held, assigned))
        return sorted(found)
