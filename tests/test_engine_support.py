"""A small manifest and event builders shared by the engine tests (no tests here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from plugin.engine import CompletionFact, Ref, TicketFact, TransitionFact, to_us
from plugin.manifest.model import Manifest

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday, the first day of sprint s1
MOODLE_URL = "https://lms.example.com"
ALICE_JIRA = Ref("jira", "acc-alice")
BOB_JIRA = Ref("jira", "acc-bob", "Bob@Example.com")
ALICE_MOODLE = Ref("moodle", "1")
BOB_MOODLE = Ref("moodle", "2")
NOBODY = Ref("jira", "acc-stranger")


def manifest_data(**rules: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "organisation": {"name": "Acme", "timezone": "UTC"},
        "sources": [
            {
                "id": "jira",
                "type": "jira",
                "deployment": "cloud",
                "base_url": "https://acme.atlassian.net",
                "auth": {"type": "basic", "email": "bot@example.com", "token_env": "JIRA_TOKEN"},
                "webhook_secret_env": "JIRA_SECRET",
                "projects": ["PAY", "WEB"],
                "skill_field": "customfield_10050",
            },
            {"id": "moodle", "type": "moodle", "url": MOODLE_URL, "token_env": "MOODLE_TOKEN"},
        ],
        "identities": {
            "match_by_email": True,
            "people": [
                {
                    "id": "alice",
                    "name": "Alice",
                    "email": "alice@example.com",
                    "jira_account_id": "acc-alice",
                    "moodle_user_id": 1,
                },
                {"id": "bob", "name": "Bob", "email": "bob@example.com", "moodle_user_id": 2},
                {
                    "id": "carol",
                    "name": "Carol",
                    "email": "carol@example.com",
                    "xapi_mbox": "mailto:carol@coach.example",
                },
                {
                    "id": "dave",
                    "name": "Dave",
                    "email": "dave@example.com",
                    "xapi_account": {"home_page": "https://sso.example", "name": "d42"},
                },
            ],
        },
        "skills": [
            {
                "id": "sql",
                "name": "SQL indexing",
                "modules": [
                    {
                        "id": "sql-plans",
                        "title": "Reading a query plan",
                        "minutes": 15,
                        "moodle_cmid": 11,
                        "xapi_activity": f"{MOODLE_URL}/mod/page/view.php?id=11",
                    },
                    {
                        "id": "sql-composite",
                        "title": "Composite indexes",
                        "minutes": 15,
                        "moodle_cmid": 12,
                    },
                ],
                "tickets": {
                    "labels": ["skill-sql"],
                    "components": ["Ledger DB"],
                    "custom_field_value": "SQL indexing",
                },
                "reward": "hour",
            },
            {
                "id": "flags",
                "name": "Feature flags",
                "modules": [
                    {"id": "flags-1", "title": "Flag lifecycle", "minutes": 10, "moodle_cmid": 21}
                ],
                "tickets": {"labels": ["skill-flags"], "jql": "project in (PAY, RISK)"},
                "reward": "points",
                "cooldown_days": 3,
            },
            {
                "id": "pm",
                "name": "Postmortems",
                "modules": [
                    {"id": "pm-1", "title": "Blameless timelines", "minutes": 10, "moodle_cmid": 31}
                ],
                "tickets": {"jql": 'issuetype = "Post-incident review"'},
                "reward": "points",
            },
        ],
        "rewards": [
            {
                "id": "hour",
                "name": "A paid hour to apply it",
                "kind": "paid_hour",
                "hours": 1,
                "points": 20,
                "approval": True,
                "budget": {"per_sprint": 2, "per_quarter": 3},
            },
            {"id": "points", "name": "50 points", "kind": "points", "points": 50},
        ],
        "rules": {"min_in_progress_minutes": 0, **rules},
        "teams": [
            {"id": "core", "name": "Core", "managers": ["carol"], "members": ["alice", "bob"]}
        ],
        "sprints": [
            {
                "id": f"s{i + 1}",
                "start": (T0 + timedelta(days=7 * i)).date().isoformat(),
                "length_days": 7,
            }
            for i in range(8)
        ],
    }


def make_manifest(**rules: Any) -> Manifest:
    return Manifest.model_validate(manifest_data(**rules))


def at(days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> int:
    return to_us(T0 + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds))


def completion(
    person: Ref = ALICE_MOODLE,
    when: int | None = None,
    module: str = "moodle:cm:11",
    state: str = "complete",
    key: str | None = None,
    source: str = "moodle",
) -> CompletionFact:
    when = at() if when is None else when
    key = key or f"c:{person.system}:{person.id}:{module}:{state}:{when}"
    return CompletionFact(key, source, person, module, state, when)


def ticket(
    key: str = "PAY-1",
    assignee: Ref | None = ALICE_JIRA,
    labels: tuple[str, ...] = ("skill-sql",),
    resolution: str | None = "Done",
    **extra: Any,
) -> TicketFact:
    fields = {
        "id": extra.pop("id", key.split("-")[1]),
        "project": key.split("-")[0],
        "summary": extra.pop("summary", f"Work on {key}"),
        "status": extra.pop("status", "Done"),
        "status_category": extra.pop("status_category", "done"),
    }
    return TicketFact(
        key=key, assignee=assignee, labels=labels, resolution=resolution, **fields, **extra
    )


def move(
    snap: TicketFact, before: str | None, after: str | None, when: int, key: str | None = None
) -> TransitionFact:
    return TransitionFact(key or f"jira:{snap.id}:{when}:{after}", snap, before, after, when)


def worked(snap: TicketFact, start: int, done: int) -> list[TransitionFact]:
    """A ticket taken into progress at `start` and finished at `done`."""
    return [move(snap, "new", "indeterminate", start), move(snap, "indeterminate", "done", done)]
