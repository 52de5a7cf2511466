"""One sprint at a glance: who took part, what they learned, what they applied and earned."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from plugin.domain import Completion, CompletionState
from plugin.engine import IdentityResolver
from plugin.manifest import Manifest, Sprint
from plugin.pipeline.balances import points
from plugin.replay import EVENT
from plugin.store import Award, Store

COUNTING = (CompletionState.COMPLETE.value, CompletionState.PASSED.value)


@dataclass(frozen=True)
class Learned:
    person: str  # a manifest person id, or "? system:id" while nobody claims it
    skill: str
    module: str  # the module's title
    at: datetime


@dataclass(frozen=True)
class SprintSummary:
    sprint: Sprint
    participants: tuple[str, ...]
    learned: tuple[Learned, ...]  # modules completed or passed in the sprint, first time each
    awards: tuple[Award, ...]  # tickets first done in the sprint that earned an award
    by_state: dict[str, int]
    points: list[tuple[str, int]]


def completions_in(store: Store, manifest: Manifest, sprint: Sprint) -> list[Learned]:
    """Completions of the manifest's modules inside the sprint's local dates, by person."""
    zone = manifest.organisation.zone
    resolver = IdentityResolver(manifest, store.identities.learned())
    modules = manifest.modules_by_key
    first: dict[tuple[str, str], Learned] = {}
    for _, kind, payload in store.inbox.payloads(("completion",)):
        if kind != "completion":
            continue  # set aside by the pipeline
        if payload.get("state") not in COUNTING or payload.get("module") not in modules:
            continue  # cheap checks before the model is built
        try:
            event = EVENT.validate_python(payload)
        except ValidationError:
            continue
        if not isinstance(event, Completion) or not sprint.contains(
            event.at.astimezone(zone).date()
        ):
            continue
        skill, module = modules[event.module]
        ref = event.person
        person = resolver.resolve(ref) or f"? {ref.system}:{ref.id}"
        seen = first.get((person, module.id))
        if seen is None or event.at < seen.at:
            first[person, module.id] = Learned(person, skill.id, module.title, event.at)
    return sorted(first.values(), key=lambda c: (c.person, c.at))


def summarise(store: Store, manifest: Manifest, sprint: Sprint) -> SprintSummary:
    awards = tuple(
        sorted(store.awards.list(sprint=sprint.id), key=lambda a: (a.ticket_done_at, a.id))
    )
    return SprintSummary(
        sprint=sprint,
        participants=tuple(sorted(manifest.sprint_people(sprint))),
        learned=tuple(completions_in(store, manifest, sprint)),
        awards=awards,
        by_state=dict(sorted(Counter(a.state for a in awards).items())),
        points=points(store, sprint.id),
    )
