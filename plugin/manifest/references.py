"""Checks across the manifest: unique ids and references that point at something that exists.

Each problem keeps the path of the offending value so the loader can name its YAML line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from plugin.manifest.base import Loc
from plugin.manifest.paths import render

if TYPE_CHECKING:
    from plugin.manifest.model import Manifest

Found = list[tuple[Loc, str]]
PEOPLE: Loc = ("identities", "people")
CHANNEL_SOURCE = {"jira_comment": "jira", "moodle_message": "moodle", "lrs_statement": "xapi"}


def choices(values: Iterable[object], limit: int = 15) -> str:
    shown = [str(v) for v in values]
    more = f", ... ({len(shown) - limit} more)" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more if shown else "(none defined)"


def _each(where: Loc, items: Sequence[object], attr: str) -> Iterable[tuple[Loc, object]]:
    return (((*where, i, attr), getattr(item, attr)) for i, item in enumerate(items))


def _unique(found: Found, what: str, items: Iterable[tuple[Loc, object]]) -> None:
    first: dict[object, Loc] = {}
    for loc, value in items:
        if value is None:
            continue
        key = value.lower() if isinstance(value, str) and what == "email" else value
        if key in first:
            found.append((loc, f"duplicate {what} {value!r}; already used at {render(first[key])}"))
        else:
            first[key] = loc


class Ids:
    """Ids to check references against: a set to look up (a manifest may name 100,000
    people and thousands of teams), the list in order for the message."""

    def __init__(self, ids: Iterable[str]) -> None:
        self.order = list(dict.fromkeys(ids))  # a duplicated id is reported once, elsewhere
        self.present = frozenset(self.order)


def _known(
    found: Found, what: str, items: Iterable[tuple[Loc, str]], known: list[str] | Ids
) -> None:
    ids = known if isinstance(known, Ids) else Ids(known)
    for loc, value in items:
        if value not in ids.present:
            found.append((loc, f"unknown {what} {value!r}; valid: {choices(ids.order)}"))


def _unique_ids(m: Manifest, found: Found) -> None:
    _unique(found, "source id", _each(("sources",), m.sources, "id"))
    _unique(found, "source type", _each(("sources",), m.sources, "type"))
    for attr in ("id", "email", "jira_account_id", "moodle_user_id"):
        what = "person id" if attr == "id" else attr
        _unique(found, what, _each(PEOPLE, m.identities.people, attr))
    _unique(found, "skill id", _each(("skills",), m.skills, "id"))
    for attr in ("id", "moodle_cmid", "xapi_activity"):
        what = "module id" if attr == "id" else attr
        modules = (_each(("skills", i, "modules"), s.modules, attr) for i, s in enumerate(m.skills))
        _unique(found, what, (item for each_skill in modules for item in each_skill))
    _unique(found, "reward id", _each(("rewards",), m.rewards, "id"))
    _unique(found, "team id", _each(("teams",), m.teams, "id"))
    _unique(found, "sprint id", _each(("sprints",), m.sprints, "id"))


def _skill_refs(m: Manifest, found: Found) -> None:
    people = Ids(p.id for p in m.identities.people)
    rewards = Ids(r.id for r in m.rewards)
    jira = m.jira
    for i, skill in enumerate(m.skills):
        _known(found, "reward", [(("skills", i, "reward"), skill.reward)], rewards)
        experts = [(("skills", i, "experts", j), e) for j, e in enumerate(skill.experts)]
        _known(found, "person", experts, people)
        if skill.tickets.custom_field_value is not None and (jira is None or not jira.skill_field):
            found.append(
                (
                    ("skills", i, "tickets", "custom_field_value"),
                    "needs skill_field (a custom field id) on the jira source",
                )
            )


def _team_refs(m: Manifest, found: Found) -> None:
    people = Ids(p.id for p in m.identities.people)
    for i, team in enumerate(m.teams):
        if team.id in people.present:
            found.append((("teams", i, "id"), f"team id {team.id!r} is also a person id"))
        for role in ("managers", "members"):
            refs = [(("teams", i, role, j), p) for j, p in enumerate(getattr(team, role))]
            _known(found, "person", refs, people)


def _sprint_refs(m: Manifest, found: Found) -> None:
    teams_and_people = Ids([t.id for t in m.teams] + [p.id for p in m.identities.people])
    skills = Ids(s.id for s in m.skills)
    for i, sprint in enumerate(m.sprints):
        refs = [(("sprints", i, "participants", j), p) for j, p in enumerate(sprint.participants)]
        _known(found, "team or person", refs, teams_and_people)
        focus = [(("sprints", i, "focus_skills", j), s) for j, s in enumerate(sprint.focus_skills)]
        _known(found, "skill", focus, skills)
    # Sort by start; each sprint must begin after every earlier one has ended.
    ordered = sorted(enumerate(m.sprints), key=lambda pair: (pair[1].start, pair[0]))
    latest = None
    for i, sprint in ordered:
        if latest is not None and sprint.start < latest.end:
            last_day = latest.end - timedelta(days=1)
            message = f"overlaps sprint {latest.id!r} ({latest.start} to {last_day})"
            found.append((("sprints", i, "start"), message))
        if latest is None or sprint.end > latest.end:
            latest = sprint


def _channel_refs(m: Manifest, found: Found) -> None:
    have = {s.type for s in m.sources}
    for i, channel in enumerate(m.notifications.channels):
        needed = CHANNEL_SOURCE.get(channel.type)
        if needed is not None and needed not in have:
            loc = ("notifications", "channels", i, "type")
            found.append((loc, f"{channel.type} needs a source of type {needed}"))


def _opt_out_refs(m: Manifest, found: Found) -> None:
    people = list(m.people_by_id)
    who = [(("notifications", "opt_out", p), p) for p in m.notifications.opt_out]
    _known(found, "person", who, people)


def check_references(m: Manifest) -> Found:
    found: Found = []
    checks = (_unique_ids, _skill_refs, _team_refs, _sprint_refs, _channel_refs, _opt_out_refs)
    for check in checks:
        check(m, found)
    return found
