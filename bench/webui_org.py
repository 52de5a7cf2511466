"""A large ledger for the web UI benchmark: 100,000 people in teams of 50 (the first member
manages the team), 1,000,000 awards over a year in every state, one history row each, and a
few hundred dead outbox effects. Rows are inserted in bulk with SQLAlchemy Core: building a
million models would time the generator, not the pages."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from bench.report_org import Org, manifest_data
from plugin.store import Store
from plugin.store.schema import award_events, awards, outbox

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SKILLS = ("sql-indexing", "feature-flags", "incident-postmortems", "accessible-ui")
REWARDS = {"sql-indexing": "paid-learning-hour", "feature-flags": "points-50"}
# Share of awards in each state: most are settled, about 1 in 100 waits for a manager.
STATES = (
    ("fulfilled", 0.55),
    ("approved", 0.30),
    ("rejected", 0.08),
    ("pending_approval", 0.012),
    ("revoked", 0.05),
    ("revocation_flagged", 0.008),
)


def manifest(people: int) -> dict[str, Any]:
    """The example manifest with `people` generated people, teams of 50 managed by their first
    member (report_org's teams), and sprints every two weeks of the year."""
    data = manifest_data(Org(completers=0, others=0, bystanders=people))
    for team in data["teams"]:
        team["managers"] = [team["members"][0]]
    data["sprints"] = [
        {
            "id": f"s{n:02d}",
            "start": (START + timedelta(days=14 * n)).date(),
            "length_days": 14,
            "participants": [t["id"] for t in data["teams"][n * 10 : n * 10 + 10]],
            "focus_skills": list(SKILLS[:2]),
        }
        for n in range(26)
    ]
    return data


def _awards(people: int, count: int, seed: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    states = [s for s, _ in STATES]
    weights = [w for _, w in STATES]
    for n in range(count):
        person = rng.randrange(people)
        skill = SKILLS[n % len(SKILLS)]
        done = START + timedelta(minutes=rng.randrange(360 * 24 * 60))
        key = f"PAY-{n + 1}"
        yield {
            "person_id": f"p{person}",
            "skill_id": skill,
            "ticket_key": key,
            "reward_id": REWARDS.get(skill, "points-50"),
            "sprint_id": f"s{min(25, (done - START).days // 14):02d}",
            "points": 50,
            "state": rng.choices(states, weights)[0],
            "completion_key": f"stmt-{n}",
            "ticket_done_at": done,
            "created_at": done + timedelta(minutes=5),
            "updated_at": done + timedelta(minutes=5),
            "evidence": {
                "ticket": {"key": key, "summary": f"Ticket {n}", "matched": ["label skill"]},
                "completion": {
                    "at": (done - timedelta(days=3)).isoformat(),
                    "module": "moodle:cm:2101",
                    "title": "Reading a query plan",
                },
                "why": f"p{person} completed 'Reading a query plan'; {key} showed {skill} "
                "and entered Done inside the 30-day window — awarded",
            },
        }


def fill(store: Store, people: int, count: int, seed: int = 7, batch: int = 20_000) -> int:
    """Insert `count` awards with one history row each and some dead effects; returns the
    number of awards waiting for approval."""
    waiting = 0
    rows: list[dict[str, Any]] = []

    def flush() -> None:
        with store.transaction() as conn:
            ids = conn.execute(insert(awards).returning(awards.c.id), rows).scalars().all()
            history = [
                {
                    "award_id": i,
                    "from_state": None,
                    "to_state": r["state"],
                    "actor": "engine",
                    "note": None,
                    "at": r["created_at"],
                }
                for i, r in zip(ids, rows, strict=True)
            ]
            conn.execute(insert(award_events), history)
        rows.clear()

    for row in _awards(people, count, seed):
        waiting += row["state"] == "pending_approval"
        rows.append(row)
        if len(rows) >= batch:
            flush()
    if rows:
        flush()
    now = START + timedelta(days=360)
    dead = [
        {
            "idempotency_key": f"jira:comment:DEAD-{n}",
            "target": "jira",
            "action": "comment",
            "payload": {"issue": f"DEAD-{n}"},
            "status": "dead",
            "attempts": 12,
            "next_attempt_at": now,
            "last_error": "HTTP 403 from Jira",
            "created_at": now,
            "updated_at": now,
        }
        for n in range(300)
    ]
    with store.transaction() as conn:
        conn.execute(insert(outbox), dead)
    return waiting
