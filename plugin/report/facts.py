"""What the report counts, read once from the inbox: who learned which module when, and
each ticket's work (who did it, which skills it shows, when it started, finished, reopened).

Read from the stored payloads as plain dicts, not domain models: a report over millions of
events would spend most of its time building pydantic models it only reads a few fields of.
A row that lacks what the report needs is skipped, as the engine skips unreadable events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from plugin.engine import IdentityResolver
from plugin.engine.facts import Ref, TicketFact, to_us
from plugin.engine.matching import SkillMatcher
from plugin.manifest import Manifest
from plugin.store import Store

COUNTING = frozenset(("complete", "passed"))
IN_PROGRESS = "indeterminate"


@dataclass(slots=True)
class Learning:
    """One person's progress on one module: first event of any kind, first completion."""

    person: str
    skill: str
    module: str  # the manifest module id
    started: int  # microseconds since the epoch
    completed: int | None = None


@dataclass(slots=True)
class Work:
    """One ticket, as the report sees it: its first finish and what came before and after."""

    key: str
    url: str | None
    person: str | None  # the assignee when it was done, resolved
    skills: tuple[str, ...]
    issue_type: str | None
    started: int | None  # first move into "in progress"
    done: int | None  # first move into done after `started` (or at all)
    reopened: bool  # moved out of done after `done`

    @property
    def cycle(self) -> int | None:
        """Microseconds from the first "in progress" to done, when both are known."""
        if self.started is None or self.done is None or self.done < self.started:
            return None
        return self.done - self.started


@dataclass
class Activity:
    learning: dict[tuple[str, str], Learning] = field(default_factory=dict)  # (person, module)
    work: list[Work] = field(default_factory=list)
    unresolved: int = 0  # events of people no manifest person claims


@dataclass(frozen=True, slots=True)
class _Finish:
    """A move into done, reduced at once to what the report reads of its snapshot."""

    key: str
    url: str | None
    person: str | None
    skills: tuple[str, ...]
    issue_type: str | None
    counts: bool  # not closed with an excluded resolution (Duplicate, Won't Do…)


@dataclass(slots=True)
class _Ticket:
    """A backfill has millions of moves: per ticket only the first move into progress, the
    moves into done (candidates for the finish) and the times it left done are kept."""

    started: int | None = None
    finishes: dict[int, _Finish] = field(default_factory=dict)
    left_done: list[int] = field(default_factory=list)


def _time(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return to_us(datetime.fromisoformat(value))
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


class PeopleCache:
    """Person refs to manifest ids, each distinct ref looked up once."""

    def __init__(self, manifest: Manifest, store: Store) -> None:
        self.resolver = IdentityResolver(manifest, store.identities.learned())
        self.cache: dict[tuple[str, str, str | None], str | None] = {}

    def __call__(self, ref: Any) -> str | None:
        system: Any
        ident: Any
        email: Any
        if isinstance(ref, Ref):
            system, ident, email = ref.system, ref.id, ref.email
        elif isinstance(ref, Mapping):
            system, ident, email = ref.get("system"), ref.get("id"), ref.get("email")
        else:
            return None
        if not isinstance(system, str) or not isinstance(ident, str):
            return None
        key = (system, ident, email if isinstance(email, str) else None)
        if key not in self.cache:
            emails = (key[2],) if key[2] else ()
            self.cache[key] = self.resolver.lookup(system, ident, emails)
        return self.cache[key]


def read_activity(store: Store, manifest: Manifest) -> Activity:
    people = PeopleCache(manifest, store)
    modules = manifest.modules_by_key
    activity = Activity()
    tickets: dict[str, _Ticket] = {}
    reader = _Moves(manifest, people)
    for _, kind, payload in store.inbox.payloads(("completion", "ticket")):
        if kind == "completion":
            _learned(payload, modules, people, activity)
        elif kind == "ticket":
            reader.add(payload, tickets)
    for ticket in tickets.values():
        work = _work(ticket)
        if work is not None:
            activity.work.append(work)
    return activity


def _learned(
    payload: Mapping[str, Any], modules: Mapping[str, Any], people: PeopleCache, activity: Activity
) -> None:
    found = modules.get(payload.get("module"))  # type: ignore[arg-type]
    at = _time(payload.get("at"))
    if found is None or at is None:
        return
    person = people(payload.get("person"))
    if person is None:
        activity.unresolved += 1
        return
    skill, module = found
    entry = activity.learning.get((person, module.id))
    if entry is None:
        entry = activity.learning[person, module.id] = Learning(person, skill.id, module.id, at)
    entry.started = min(entry.started, at)
    if payload.get("state") in COUNTING and (entry.completed is None or at < entry.completed):
        entry.completed = at


class _Moves:
    def __init__(self, manifest: Manifest, people: PeopleCache) -> None:
        self.matcher = SkillMatcher(manifest)
        self.people = people
        self.done = manifest.rules.done_status_category
        self.excluded = {r.casefold() for r in manifest.rules.excluded_resolutions}

    def add(self, payload: Mapping[str, Any], tickets: dict[str, _Ticket]) -> None:
        snapshot, at = payload.get("ticket"), _time(payload.get("at"))
        if not isinstance(snapshot, Mapping) or at is None:
            return
        ident = snapshot.get("id")
        if not isinstance(ident, str):
            return
        entry = tickets.get(ident)
        if entry is None:
            entry = tickets[ident] = _Ticket()
        to = payload.get("to_category")
        if to == IN_PROGRESS and (entry.started is None or at < entry.started):
            entry.started = at
        if payload.get("from_category") == self.done:
            entry.left_done.append(at)
        if to == self.done and at not in entry.finishes:
            entry.finishes[at] = self._finish(snapshot)

    def _finish(self, snapshot: Mapping[str, Any]) -> _Finish:
        fact = _fact(snapshot)
        resolution = fact.resolution
        return _Finish(
            key=fact.key,
            url=_text(snapshot.get("url")),
            person=self.people(fact.assignee),
            skills=self.matcher.skills(fact),
            issue_type=_text(snapshot.get("issue_type")),
            counts=resolution is None or resolution.casefold() not in self.excluded,
        )


def _fact(snapshot: Mapping[str, Any]) -> TicketFact:
    assignee = snapshot.get("assignee")
    ref = None
    if isinstance(assignee, Mapping) and isinstance(assignee.get("id"), str):
        ref = Ref(str(assignee.get("system")), assignee["id"], _text(assignee.get("email")))
    fields = snapshot.get("fields")
    return TicketFact(
        id=str(snapshot.get("id")),
        key=str(snapshot.get("key")),
        project=_text(snapshot.get("project")),
        summary=_text(snapshot.get("summary")),
        status=_text(snapshot.get("status")),
        status_category=_text(snapshot.get("status_category")),
        resolution=_text(snapshot.get("resolution")),
        assignee=ref,
        labels=_strings(snapshot.get("labels")),
        components=_strings(snapshot.get("components")),
        fields=dict(fields) if isinstance(fields, Mapping) else {},
    )


def _work(ticket: _Ticket) -> Work | None:
    started = ticket.started
    after = [at for at in ticket.finishes if started is None or at >= started]
    if not after:
        return None  # never done: nothing the report measures
    done = min(after)
    finish = ticket.finishes[done]
    if not finish.skills or not finish.counts:
        return None  # shows no skill, or closed as a duplicate / won't do
    return Work(
        key=finish.key,
        url=finish.url,
        person=finish.person,
        skills=finish.skills,
        issue_type=finish.issue_type,
        started=started,
        done=done,
        reopened=any(at > done for at in ticket.left_done),
    )


def completions(activity: Activity) -> Iterable[Learning]:
    return (entry for entry in activity.learning.values() if entry.completed is not None)
