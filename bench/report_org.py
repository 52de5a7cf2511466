"""A synthetic organisation for the report: people who complete a module and people who do
the same kind of tickets without it, with a known effect planted on the completers' cycle
time after their completion (and noise everywhere). Shared by the tests and the benchmark.

Payloads are written as the sources store them (the domain events' JSON), straight into the
inbox in batches: building two million pydantic models would time the generator, not us.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ruamel.yaml import YAML

from plugin.manifest import Manifest
from plugin.settings import EXAMPLE_MANIFEST
from plugin.store import InboxEvent, Store

SKILL = "sql-indexing"
MODULE = "moodle:cm:2101"
LABEL = "skill-sql-indexing"
MIDDLE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # completions spread around it
JIRA = "https://northwind.atlassian.net"


@dataclass(frozen=True)
class Org:
    completers: int = 40
    others: int = 40
    effect: float = 0.75  # completers' cycle time after completion, as a share of before
    tickets: int = 6  # per person on each side of the split
    weeks: int = 8
    seed: int = 7
    bystanders: int = 0  # people in the manifest with no activity (the benchmark's bulk)


def manifest(org: Org) -> Manifest:
    return Manifest.model_validate(manifest_data(org))


def manifest_data(org: Org) -> dict[str, Any]:
    """The example manifest with generated people, one team per 50, two sprints."""
    data = YAML(typ="safe").load(EXAMPLE_MANIFEST.read_text())
    total = org.completers + org.others + org.bystanders
    data["identities"]["people"] = [
        {
            "id": f"p{i}",
            "name": f"Person {i}",
            "email": f"p{i}@northwind.example",
            "moodle_user_id": 100_000 + i,
            "jira_account_id": f"acc-{i}",
        }
        for i in range(total)
    ]
    data["teams"] = [
        {"id": f"team-{t}", "name": f"Team {t}", "managers": [], "members": members}
        for t, members in enumerate(
            [f"p{i}" for i in range(s, min(s + 50, total))] for s in range(0, total, 50)
        )
    ]
    for skill in data["skills"]:
        skill["experts"] = []  # the example's experts are not among the generated people
    for sprint in data.get("sprints", []):
        sprint["participants"] = [t["id"] for t in data["teams"][:2]]
    found: dict[str, Any] = data
    return found


def _completion(i: int, at: datetime, n: int) -> InboxEvent:
    ref = {"system": "moodle", "id": str(100_000 + i), "email": None, "display_name": None}
    key = f"{100_000 + i}:2101:complete:{int(at.timestamp())}:{n}"
    payload = {
        "kind": "completion",
        "source": "moodle",
        "natural_key": key,
        "person": ref,
        "module": MODULE,
        "state": "complete",
        "at": at.isoformat(),
    }
    return InboxEvent("moodle", "completion", key, payload, at)


def _ticket(i: int, n: int, kind: str) -> dict[str, Any]:
    tid = f"{i * 1000 + n}"
    key = f"PAY-{i * 1000 + n}"
    return {
        "id": tid,
        "key": key,
        "project": "PAY",
        "summary": f"Work on {key}",
        "status": "Done",
        "status_category": "done",
        "resolution": "Done",
        "issue_type": kind,
        "assignee": {"system": "jira", "id": f"acc-{i}", "email": None, "display_name": None},
        "labels": [LABEL],
        "components": [],
        "fields": {},
        "updated": None,
        "resolution_date": None,
        "url": f"{JIRA}/browse/{key}",
    }


def _move(ticket: dict[str, Any], before: str, after: str, at: datetime) -> InboxEvent:
    key = f"jira:{ticket['id']}:{int(at.timestamp())}:{after}"
    payload = {
        "kind": "ticket",
        "source": "jira",
        "natural_key": key,
        "ticket": ticket,
        "from_category": before,
        "to_category": after,
        "at": at.isoformat(),
        "by": None,
        "from_status": None,
        "to_status": None,
    }
    return InboxEvent("jira", "ticket", key, payload, at)


def events(org: Org) -> Iterator[InboxEvent]:
    rng = random.Random(org.seed)
    span = timedelta(weeks=org.weeks)
    for i in range(org.completers + org.others):
        completer = i < org.completers
        # Completions spread over four weeks; the others are split at the middle, which is
        # the completers' median completion date the report uses for them.
        split = MIDDLE + timedelta(days=rng.uniform(-14, 14)) if completer else MIDDLE
        if completer:
            yield _completion(i, split, 0)
        base = math.exp(rng.gauss(math.log(3.0), 0.4))  # this person's typical days
        for n in range(2 * org.tickets):
            after = n >= org.tickets
            offset = rng.uniform(0.05, 0.95) * span
            done = split + offset if after else split - offset
            days = base * math.exp(rng.gauss(0, 0.3))
            if after and completer:
                days *= org.effect
            kind = "Bug" if rng.random() < 0.3 else "Story"
            ticket = _ticket(i, n, kind)
            yield _move(ticket, "new", "indeterminate", done - timedelta(days=days))
            yield _move(ticket, "indeterminate", "done", done)
            if rng.random() < 0.1:
                yield _move(ticket, "done", "indeterminate", done + timedelta(hours=3))


def fill(store: Store, org: Org, batch: int = 5000) -> int:
    """Store the organisation's events; how many."""
    total, chunk = 0, []
    for event in events(org):
        chunk.append(event)
        if len(chunk) == batch:
            total += store.inbox.add_many(chunk)[0]
            chunk = []
    return total + store.inbox.add_many(chunk)[0]
