"""The root of the manifest, with the lookups later code uses (by id, by module key, by date)."""

from __future__ import annotations

import zoneinfo
from datetime import date
from functools import cached_property
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from plugin.manifest.base import Problems, Strict, Text
from plugin.manifest.notifications import Notifications
from plugin.manifest.people import Identities, Person, Team
from plugin.manifest.references import check_references
from plugin.manifest.rewards import Reward
from plugin.manifest.schedule import Rules, Sprint, check_timezone
from plugin.manifest.skills import Module, Skill
from plugin.manifest.sources import JiraSource, MoodleSource, Source, XapiSource


class Organisation(Strict):
    name: Text
    timezone: Annotated[str, AfterValidator(check_timezone)]  # IANA name, e.g. Europe/London

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Manifest(Strict):
    """Everything an admin configures: sources, people, skills, rewards, rules and sprints."""

    version: Literal[1]
    organisation: Organisation
    sources: tuple[Source, ...] = Field(min_length=1)
    identities: Identities = Identities()
    skills: tuple[Skill, ...] = Field(min_length=1)
    rewards: tuple[Reward, ...] = Field(min_length=1)
    rules: Rules = Rules()
    teams: tuple[Team, ...] = ()
    sprints: tuple[Sprint, ...] = ()
    notifications: Notifications = Notifications()

    @model_validator(mode="after")
    def _references(self) -> Self:
        problems = check_references(self)
        if problems:
            raise Problems(problems)
        return self

    # Sources: at most one of each type.
    @property
    def jira(self) -> JiraSource | None:
        return next((s for s in self.sources if isinstance(s, JiraSource)), None)

    @property
    def moodle(self) -> MoodleSource | None:
        return next((s for s in self.sources if isinstance(s, MoodleSource)), None)

    @property
    def xapi(self) -> XapiSource | None:
        return next((s for s in self.sources if isinstance(s, XapiSource)), None)

    # Lookups by id; a missing id raises KeyError.
    @cached_property
    def people_by_id(self) -> dict[str, Person]:
        return {p.id: p for p in self.identities.people}

    @cached_property
    def skills_by_id(self) -> dict[str, Skill]:
        return {s.id: s for s in self.skills}

    @cached_property
    def rewards_by_id(self) -> dict[str, Reward]:
        return {r.id: r for r in self.rewards}

    @cached_property
    def teams_by_id(self) -> dict[str, Team]:
        return {t.id: t for t in self.teams}

    @cached_property
    def modules_by_key(self) -> dict[str, tuple[Skill, Module]]:
        """'moodle:cm:<cmid>' and xAPI activity IRIs -> (skill, module)."""
        return {key: (s, m) for s in self.skills for m in s.modules for key in m.keys}

    def reward_for(self, skill: Skill) -> Reward:
        return self.rewards_by_id[skill.reward]

    def cooldown_days(self, skill: Skill) -> int:
        return self.rules.cooldown_days if skill.cooldown_days is None else skill.cooldown_days

    def teams_of(self, person_id: str) -> tuple[Team, ...]:
        return tuple(t for t in self.teams if person_id in t.members)

    def managers_of(self, person_id: str) -> tuple[str, ...]:
        found = (m for t in self.teams_of(person_id) for m in t.managers if m != person_id)
        return tuple(dict.fromkeys(found))

    def sprint_on(self, day: date) -> Sprint | None:
        return next((s for s in self.sprints if s.contains(day)), None)

    def sprint_people(self, sprint: Sprint) -> frozenset[str]:
        """Person ids taking part in a sprint, with teams expanded to their members."""
        people: set[str] = set()
        for ref in sprint.participants:
            team = self.teams_by_id.get(ref)
            people.update(team.members if team else (ref,))
        return frozenset(people)
