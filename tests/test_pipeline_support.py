"""Events for the example manifest's people, and a pipeline to drain them (no tests here)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from ruamel.yaml import YAML

from plugin.domain import Completion, CompletionState, PersonRef, Ticket, TicketTransition
from plugin.manifest import Manifest, load_manifest
from plugin.pipeline import Pipeline, PipelineStats
from plugin.settings import EXAMPLE_MANIFEST
from plugin.store import Award, OutboxItem, Store

MANIFEST = load_manifest(EXAMPLE_MANIFEST)
JIRA = "https://northwind.atlassian.net"
T0 = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)  # in sprint 2026-11-a (2 to 15 November)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SQL = "moodle:cm:2101"  # Reading a query plan (sql-indexing -> paid hour, approval)
FLAGS = "moodle:cm:2201"  # Flag lifecycle (feature-flags -> 50 points, no approval)
MOODLE_IDS = {
    "ben.carter": 102,
    "chloe.nguyen": 103,
    "diego.ramirez": 104,
    "farah.haddad": 106,
    "george.lin": 107,
    "kofi.asante": 111,
}
DONE = ("indeterminate", "done")
LABELS = {SQL: "skill-sql-indexing", FLAGS: "skill-feature-flags"}


def learner(person: str) -> PersonRef:
    return PersonRef(system="moodle", id=str(MOODLE_IDS[person]))


def assignee(person: str) -> PersonRef:
    """How Jira names them: Ben and George by account id, the others by e-mail."""
    found = MANIFEST.people_by_id[person]
    if found.jira_account_id:
        return PersonRef(system="jira", id=found.jira_account_id)
    return PersonRef(system="jira", id=f"acc-{person}", email=found.email)


def completion(
    person: str,
    module: str = SQL,
    at: datetime = T0,
    state: CompletionState = CompletionState.COMPLETE,
) -> Completion:
    ref = learner(person)
    key = f"{ref.id}:{module.rsplit(':', 1)[-1]}:{state.value}:{int(at.timestamp())}"
    return Completion(
        source="moodle", natural_key=key, person=ref, module=module, state=state, at=at
    )


def ticket(key: str, person: str | PersonRef, module: str = SQL) -> Ticket:
    ref = person if isinstance(person, PersonRef) else assignee(person)
    return Ticket(
        id=str(10_000 + int(key.split("-")[1])),
        key=key,
        project=key.split("-")[0],
        summary=f"Work on {key}",
        status="Done",
        status_category="done",
        resolution="Done",
        assignee=ref,
        labels=(LABELS[module],),
    )


def move(t: Ticket, before: str, after: str, at: datetime) -> TicketTransition:
    return TicketTransition(
        natural_key=f"jira:{t.id}:{int(at.timestamp())}:{after}",
        ticket=t,
        from_category=before,
        to_category=after,
        at=at,
    )


def worked(t: Ticket, done: datetime, hours: float = 2) -> list[TicketTransition]:
    """In progress `hours` before `done` (the example wants 30 minutes at least), then done."""
    return [move(t, "new", "indeterminate", done - timedelta(hours=hours)), move(t, *DONE, done)]


def reopen(t: Ticket, at: datetime) -> TicketTransition:
    return move(t, "done", "indeterminate", at)


def put(store: Store, events: Iterable[Completion | TicketTransition]) -> int:
    """Store events as sync and the webhooks do; how many were new."""
    return sum(
        store.inbox.add(e.source, e.kind, e.natural_key, payload=e.model_dump(mode="json"))
        for e in events
    )


def pipeline(store: Store, manifest: Manifest = MANIFEST, worker: str = "w1") -> Pipeline:
    return Pipeline(
        store, manifest, worker_id=worker, jira_base_url=JIRA, deployment="cloud", clock=lambda: NOW
    )


def drain(p: Pipeline, limit: int = 500) -> PipelineStats:
    """run_once until nothing is left; the stats added up."""
    total = PipelineStats()
    while True:
        stats = p.run_once(limit)
        for name in vars(total):
            setattr(total, name, getattr(total, name) + getattr(stats, name))
        if stats.claimed == 0:
            return total


def award_of(store: Store, person: str, ticket_key: str) -> Award:
    [found] = [a for a in store.awards.list(person=person) if a.ticket_key == ticket_key]
    return found


def effect_keys(store: Store) -> list[str]:
    return [item.idempotency_key for item in outbox(store)]


def outbox(store: Store) -> list[OutboxItem]:
    return store.outbox.list(limit=10_000)


def manifest_with(**budget: Any) -> Manifest:
    """The example manifest with another budget for the paid learning hour."""
    data = YAML(typ="safe").load(EXAMPLE_MANIFEST.read_text())
    for reward in data["rewards"]:
        if reward["id"] == "paid-learning-hour":
            reward["budget"] = budget
    return Manifest.model_validate(data)


def northwind(store: Store) -> dict[str, int]:
    """Three awards in sprint 2026-11-a; ticket key -> award id.

    PAY-101: Ben, SQL indexing, paid hour, pending approval (manager amara.okafor);
    PAY-202: Chloe, feature flags, 50 points, approved at once;
    RISK-7: Farah, SQL indexing, paid hour, pending approval (manager elena.petrova).
    """
    day = T0 + timedelta(days=1)
    put(store, [completion("ben.carter"), *worked(ticket("PAY-101", "ben.carter"), day)])
    flags = ticket("PAY-202", "chloe.nguyen", FLAGS)
    put(store, [completion("chloe.nguyen", FLAGS), *worked(flags, day + timedelta(hours=1))])
    risk = ticket("RISK-7", "farah.haddad")
    put(store, [completion("farah.haddad"), *worked(risk, day + timedelta(hours=2))])
    drain(pipeline(store))
    return {a.ticket_key: a.id for a in store.awards.list()}
