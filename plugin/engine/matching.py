"""Which skills a ticket shows, and how (the evidence a decision keeps).

Per skill (see plugin.manifest.skills.TicketMatch): any of its labels, any of its components
or its custom field value (Ticket.fields[<jira skill_field>], one string or a list) shows it;
a `jql` narrows that further, or alone selects the tickets itself. Labels, components and
field values compare without case, as Jira's own search does.
"""

from __future__ import annotations

from collections import defaultdict

from plugin.engine.facts import TicketFact
from plugin.engine.jql import Predicate, compile_jql, jql_fields
from plugin.manifest.model import Manifest

Shown = dict[str, tuple[str, ...]]  # skill id -> how the ticket shows it


class SkillMatcher:
    def __init__(self, manifest: Manifest) -> None:
        jira = manifest.jira
        self.field = jira.skill_field if jira else None
        self._labels: dict[str, list[str]] = defaultdict(list)
        self._components: dict[str, list[str]] = defaultdict(list)
        self._values: dict[str, list[str]] = defaultdict(list)
        self._jql: dict[str, tuple[str, Predicate]] = {}
        self._jql_only: list[str] = []
        self._interned: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._evidence: dict[tuple[str, ...], tuple[str, ...]] = {}
        for skill in manifest.skills:
            match = skill.tickets
            for label in match.labels:
                self._labels[label.casefold()].append(skill.id)
            for component in match.components:
                self._components[component.casefold()].append(skill.id)
            if match.custom_field_value and self.field:
                self._values[match.custom_field_value.casefold()].append(skill.id)
            if match.jql:
                self._jql[skill.id] = (match.jql, compile_jql(match.jql))
                if not (match.labels or match.components or match.custom_field_value):
                    self._jql_only.append(skill.id)

    def skills(self, ticket: TicketFact) -> tuple[str, ...]:
        """The ids of the skills `shown` finds, without the evidence (faster), as one shared
        tuple per combination: a backfill holds hundreds of thousands of tickets."""
        found: list[str] = []
        for label in ticket.labels:
            found += self._labels.get(label.casefold(), ())
        for component in ticket.components:
            found += self._components.get(component.casefold(), ())
        if self.field and self._values:
            value = ticket.fields.get(self.field)
            for item in [value] if isinstance(value, str) else value or ():
                found += self._values.get(item.casefold(), ())
        found += self._jql_only
        if not found:
            return ()
        jql = self._jql
        return self.intern(
            tuple(s for s in dict.fromkeys(found) if s not in jql or jql[s][1](ticket))
        )

    def intern(self, skills: tuple[str, ...]) -> tuple[str, ...]:
        return self._interned.setdefault(skills, skills)

    def shown(self, ticket: TicketFact) -> Shown:
        found: dict[str, list[str]] = {}
        for label in ticket.labels:
            for skill in self._labels.get(label.casefold(), ()):
                found.setdefault(skill, []).append(f"label {label}")
        for component in ticket.components:
            for skill in self._components.get(component.casefold(), ()):
                found.setdefault(skill, []).append(f"component {component}")
        if self.field and self._values:
            value = ticket.fields.get(self.field)
            for item in [value] if isinstance(value, str) else value or ():
                for skill in self._values.get(item.casefold(), ()):
                    found.setdefault(skill, []).append(f"{self.field} = {item}")
        for skill in self._jql_only:
            found.setdefault(skill, [])
        shown: Shown = {}
        for skill, how in found.items():
            jql = self._jql.get(skill)
            if jql is not None:
                if not jql[1](ticket):
                    continue
                how.append(f"jql {jql[0]}")
            shown[skill] = self._once(tuple(how))
        return shown

    def _once(self, how: tuple[str, ...]) -> tuple[str, ...]:
        """One shared copy of each evidence tuple: every decision keeps its own otherwise."""
        return self._evidence.setdefault(how, how)


def ticket_fields(manifest: Manifest) -> tuple[str, ...]:
    """The Jira fields beyond the standard ones that the skills' matchers read (the skill
    custom field, and e.g. issuetype or cf[N] in a jql): what sync and webhooks must keep."""
    jira = manifest.jira
    found = {jira.skill_field} if jira and jira.skill_field else set()
    for skill in manifest.skills:
        if skill.tickets.jql:
            found.update(jql_fields(skill.tickets.jql))
    return tuple(sorted(found))
