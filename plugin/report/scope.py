"""Who and what a report is about: people, skills and a period, checked against the manifest."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from plugin.engine.facts import to_us
from plugin.errors import SkillrelayError
from plugin.manifest import Manifest, Sprint


class BadArgument(SkillrelayError):
    exit_code = 2


@dataclass(frozen=True)
class Scope:
    people: frozenset[str]
    skills: tuple[str, ...]
    start: date | None  # local dates, end exclusive
    end: date | None
    weeks: int  # before/after window
    sprint: Sprint | None = None
    team: str | None = None
    person: str | None = None

    def bounds(self, manifest: Manifest) -> tuple[int | None, int | None]:
        zone = manifest.organisation.zone

        def at(day: date | None) -> int | None:
            return None if day is None else to_us(datetime.combine(day, time(), zone))

        return at(self.start), at(self.end)


def _known(kind: str, value: str, ids: Iterable[str]) -> str:
    ids = list(ids)
    if value in ids:
        return value
    close = difflib.get_close_matches(value, ids, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise BadArgument(f"unknown {kind} {value!r}{hint}")


def day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadArgument(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from None


def make_scope(
    manifest: Manifest,
    *,
    skill: str | None = None,
    team: str | None = None,
    sprint: str | None = None,
    person: str | None = None,
    start: date | None = None,
    to: date | None = None,
    weeks: int = 8,
) -> Scope:
    """The scope for the report's arguments; BadArgument names the one that is wrong."""
    if weeks < 1:
        raise BadArgument("--weeks: must be at least 1")
    skills = tuple(s.id for s in manifest.skills)
    if skill is not None:
        skills = (_known("skill", skill, skills),)
    people = frozenset(manifest.people_by_id)
    found_sprint = None
    if sprint is not None:
        sprints = {s.id: s for s in manifest.sprints}
        found_sprint = sprints[_known("sprint", sprint, sprints)]
        people = manifest.sprint_people(found_sprint) or people
        start = start or found_sprint.start
        to = to or found_sprint.end - timedelta(days=1)
    if team is not None:
        people &= set(manifest.teams_by_id[_known("team", team, manifest.teams_by_id)].members)
    if person is not None:
        people &= {_known("person", person, manifest.people_by_id)}
    if start is not None and to is not None and start > to:
        raise BadArgument(f"--from {start} is after --to {to}")
    end = to + timedelta(days=1) if to is not None else None
    return Scope(people, skills, start, end, weeks, found_sprint, team, person)
