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
from plugin.engine.identity import IdentityResolver
from plugin.engine.rules import Pair

RefKey = tuple[str, str]  # (system, id)


@dataclass(slots=True)
class RefInfo:
    system: str
    id: str
    person: str | None = None
    emails: dict[str, int] | None = None  # e-mail -> events held that show it
    pair: Pair | None = None  # (person, "system:id"), shared by every ticket it is on


@dataclass(frozen=True, slots=True, order=True)
class Unresolved:
    """An external id no manifest person claims: its events wait for a mapping."""

    system: str
    id: str
    emails: tuple[str, ...]  # seen on its events
    completions: int
    tickets: int


class People:
    def __init__(self, resolver: IdentityResolver, modules: dict[str, tuple[str, str]]) -> None:
        self.resolver = resolver
        self.modules = modules  # module key -> (skill id, module id)
        self.module_ids = {key: module for key, (_, module) in modules.items()}
        self.skill_of = {key: skill for key, (skill, _) in modules.items()}
        self.refs: dict[RefKey, RefInfo] = {}
        self.by_person: dict[str, list[CompletionFact]] = {}
        self.held: dict[RefKey, list[CompletionFact]] = {}  # of ids nobody claims yet

    def info(self, ref: Ref) -> RefInfo:
        info = self.refs.get((ref.system, ref.id))
        if info is None:
            info = self.refs[ref.system, ref.id] = RefInfo(ref.system, ref.id)
            self._settle(info, self.lookup(info))
        return info

    def lookup(self, info: RefInfo) -> str | None:
        return self.resolver.lookup(info.system, info.id, info.emails or ())

    def _settle(self, info: RefInfo, person: str | None) -> None:
        info.person = person
        info.pair = Pair(person, f"{info.system}:{info.id}")

    def note(self, ref: Ref, count: int = 1) -> tuple[RefInfo, bool]:
        """Count (or with -1, forget) one event showing the ref. True if that changed who
        it is: the e-mails it resolves by are those of the events held now."""
        info = self.info(ref)
        if not ref.email:
            return info, False
        email = ref.email.lower()
        emails = info.emails = info.emails or {}
        seen = emails.get(email, 0) + count
        if seen > 0:
            emails[email] = seen
        else:
            emails.pop(email, None)
        if (seen == 1 and count == 1) or seen <= 0:
            return info, self.lookup(info) != info.person
        return info, False

    def count_all(self, refs: Iterable[Ref]) -> None:
        """Batch: count every event's ref, then resolve each once with all its e-mails."""
        for ref in refs:
            info = self.refs.get((ref.system, ref.id))
            if info is None:
                info = self.refs[ref.system, ref.id] = RefInfo(ref.system, ref.id)
            if ref.email:
                emails = info.emails = info.emails or {}
                email = ref.email.lower()
                emails[email] = emails.get(email, 0) + 1
        for info in self.refs.values():
            self._settle(info, self.lookup(info))

    def file(self, c: CompletionFact, add: bool = True) -> tuple[str, str] | None:
        """Add (or remove) a completion; (person, skill) when a known person's skill changed."""
        info = self.refs[c.person.system, c.person.id]
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
        for key, info in self.refs.items():
            if info.person is not None:
                continue
            held = len(self.held.get(key, ()))
            assigned = tickets.get(f"{info.system}:{info.id}", 0)
            if held or assigned:
                emails = tuple(sorted(info.emails or ()))
                found.append(Unresolved(info.system, info.id, emails, held, assigned))
        return sorted(found)
