"""One person's review over a period: what they learned, where they applied it, what they earned.

Every date is a local date in the organisation's zone; the period's last day is included.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from plugin.domain import Completion
from plugin.engine import IdentityResolver
from plugin.errors import ConfigError
from plugin.manifest import Manifest
from plugin.pipeline.reconcile import ENGINE_ACTOR
from plugin.pipeline.sprint import COUNTING
from plugin.replay import EVENT
from plugin.store import Award, AwardEvent, Store
from plugin.store.ledger import COUNTED_STATES, EARNED_STATES
from plugin.store.notices import CheckIn


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # included

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class TeamLine:
    name: str
    managers: tuple[str, ...]  # "Name (id)"


@dataclass(frozen=True)
class ModuleDone:
    title: str
    skill: str
    minutes: int
    on: date


@dataclass(frozen=True)
class Application:
    skill: str
    ticket: str
    url: str | None
    done_on: date
    module: str | None  # the module whose completion qualified it
    award_id: int


@dataclass(frozen=True)
class Step:
    from_state: str | None
    to_state: str
    actor: str  # ENGINE_ACTOR, or a person's id
    actor_name: str
    at: datetime  # in the organisation's zone
    note: str | None


@dataclass(frozen=True)
class AwardLine:
    id: int
    skill: str
    ticket: str
    done_on: date
    reward: str
    points: int
    state: str
    steps: tuple[Step, ...]


CHECKIN = "check-in"  # a Note's step that records a manager's check-in, not a state change


@dataclass(frozen=True)
class Note:
    award_id: int
    ticket: str
    step: Step


@dataclass(frozen=True)
class Totals:
    modules: int
    skills_applied: int
    by_state: tuple[tuple[str, int], ...]
    points: int  # granted and not taken back, as the ledger counts them


@dataclass(frozen=True)
class Review:
    person_id: str
    person_name: str
    teams: tuple[TeamLine, ...]
    period: Period
    zone: str
    generated_at: datetime
    modules: tuple[ModuleDone, ...]
    applications: tuple[Application, ...]
    awards: tuple[AwardLine, ...]
    notes: tuple[Note, ...]
    totals: Totals

    @property
    def empty(self) -> bool:
        return not (self.modules or self.awards)


def check_person(manifest: Manifest, person: str) -> None:
    if person in manifest.people_by_id:
        return
    close = difflib.get_close_matches(person, list(manifest.people_by_id), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(f"unknown person {person!r}: not in the manifest{hint}")


def label(manifest: Manifest, person_id: str) -> str:
    found = manifest.people_by_id.get(person_id)
    return f"{found.name} ({person_id})" if found else person_id


def local(at: datetime, zone: tzinfo) -> datetime:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone)


def modules_done(store: Store, manifest: Manifest, person: str, period: Period) -> list[ModuleDone]:
    """The first completion of each module by this person, kept when it falls in the period:
    doing a module again later is not new learning."""
    zone = manifest.organisation.zone
    resolver = IdentityResolver(manifest, store.identities.learned())
    modules = manifest.modules_by_key
    first: dict[str, ModuleDone] = {}
    for _, kind, payload in store.inbox.payloads(("completion",)):
        if kind != "completion":
            continue  # set aside by the pipeline
        if payload.get("state") not in COUNTING or payload.get("module") not in modules:
            continue
        try:
            event = EVENT.validate_python(payload)
        except ValidationError:
            continue
        if not isinstance(event, Completion) or resolver.resolve(event.person) != person:
            continue
        skill, module = modules[event.module]
        on = local(event.at, zone).date()
        seen = first.get(module.id)
        if seen is None or on < seen.on:
            first[module.id] = ModuleDone(module.title, skill.name, module.minutes, on)
    found = [m for m in first.values() if period.contains(m.on)]
    return sorted(found, key=lambda m: (m.on, m.title))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(*values: Any) -> str | None:
    return next((v for v in values if isinstance(v, str) and v.strip()), None)


def ticket_url(award: Award, manifest: Manifest) -> str | None:
    """The link the pipeline stored with the award, else one built from the Jira source."""
    evidence = _dict(award.evidence)
    stored = _text(_dict(evidence.get("ticket")).get("url"), evidence.get("ticket_url"))
    # Only web links: the evidence is data, and a `javascript:` href would run when clicked.
    if stored and stored.startswith(("https://", "http://")):
        return stored
    jira = manifest.jira
    if jira is None:
        return None
    return f"{jira.base_url.rstrip('/')}/browse/{quote(award.ticket_key, safe='')}"


def qualifying_module(award: Award) -> str | None:
    evidence = _dict(award.evidence)
    module, completion = _dict(evidence.get("module")), _dict(evidence.get("completion"))
    return _text(module.get("title"), completion.get("title"))


def step(event: AwardEvent, manifest: Manifest, zone: tzinfo) -> Step:
    name = event.actor if event.actor == ENGINE_ACTOR else label(manifest, event.actor)
    at = local(event.at, zone)
    return Step(event.from_state, event.to_state, event.actor, name, at, event.note)


def gather(store: Store, manifest: Manifest, person: str, period: Period, now: datetime) -> Review:
    check_person(manifest, person)
    zone = manifest.organisation.zone
    skills = manifest.skills_by_id
    rewards = manifest.rewards_by_id
    awards = sorted(
        (
            a
            for a in store.awards.list(person=person)
            if period.contains(local(a.ticket_done_at, zone).date())
        ),
        key=lambda a: (a.ticket_done_at, a.id),
    )
    checkins: dict[int, list[CheckIn]] = {}
    for c in store.checkins.list():
        checkins.setdefault(c.award_id, []).append(c)
    lines: list[AwardLine] = []
    applications: list[Application] = []
    notes: list[Note] = []
    for a in awards:
        skill = skills[a.skill_id].name if a.skill_id in skills else a.skill_id
        done_on = local(a.ticket_done_at, zone).date()
        steps = tuple(step(e, manifest, zone) for e in store.awards.events(a.id))
        reward = rewards[a.reward_id].name if a.reward_id in rewards else a.reward_id
        line = AwardLine(a.id, skill, a.ticket_key, done_on, reward, a.points, a.state, steps)
        lines.append(line)
        # A ticket shows the skill applied unless the award was turned down or taken back.
        if a.state in COUNTED_STATES:
            url = ticket_url(a, manifest)
            module = qualifying_module(a)
            applications.append(Application(skill, a.ticket_key, url, done_on, module, a.id))
        # A person's note on a move is a manager's word; the engine's notes are reason codes.
        notes += [Note(a.id, a.ticket_key, s) for s in steps if s.actor != ENGINE_ACTOR and s.note]
        for c in checkins.get(a.id, ()):
            if c.done_at is not None and c.done_by is not None:
                who = label(manifest, c.done_by)
                met = Step(None, CHECKIN, c.done_by, who, local(c.done_at, zone), c.note or "")
                notes.append(Note(a.id, a.ticket_key, met))
    modules = modules_done(store, manifest, person, period)
    teams = tuple(
        TeamLine(t.name, tuple(label(manifest, m) for m in t.managers))
        for t in manifest.teams_of(person)
    )
    totals = Totals(
        modules=len(modules),
        skills_applied=len({a.skill for a in applications}),
        by_state=tuple(sorted(Counter(a.state for a in awards).items())),
        points=sum(a.points for a in awards if a.state in EARNED_STATES),
    )
    return Review(
        person_id=person,
        person_name=manifest.people_by_id[person].name,
        teams=teams,
        period=period,
        zone=manifest.organisation.timezone,
        generated_at=local(now, zone),
        modules=tuple(modules),
        applications=tuple(sorted(applications, key=lambda x: (x.skill, x.done_on, x.award_id))),
        awards=tuple(lines),
        notes=tuple(sorted(notes, key=lambda n: (n.step.at, n.award_id))),
        totals=totals,
    )
