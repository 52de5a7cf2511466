"""Scale-out on a real PostgreSQL: two `worker --once` processes drain one inbox at once.

Together they must reach exactly what one engine reading the whole inbox decides (caps and
budgets included: the decider lock serialises them), with one award per (person, skill,
ticket), and deliver every effect once.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.xapi import LrsClient
from plugin.manifest import load_manifest
from plugin.replay import engine_from_inbox
from plugin.store import Store, migrate
from tests.peers.ralph import RalphServer
from tests.test_service_support import (
    EXAMPLE,
    JIRA_SECRETS,
    LAUNCH,
    REPO,
    FakeJira,
    child_env,
    completion,
    jira_done,
    manifest_file,
)
from webhooks import create_app
from webhooks.signature import sign

pytestmark = [pytest.mark.postgres, pytest.mark.ralph]

# Sprint 2026-11-a: payments-core and risk-platform. Four tickets each, two per skill, so the
# cap of three awards per person per sprint decides which ticket misses out.
PEOPLE = [
    "amara.okafor",
    "ben.carter",
    "chloe.nguyen",
    "diego.ramirez",
    "elena.petrova",
    "farah.haddad",
]
SKILLS = {"flags-lifecycle": "skill-feature-flags", "sql-query-plans": "skill-sql-indexing"}
START = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def fill_inbox(store: Store, manifest_path: Path) -> int:
    """Completions and Done tickets, through the webhook app as Jira and the LRS send them."""
    manifest = load_manifest(manifest_path)
    env = {
        **JIRA_SECRETS,
        "LRS_FORWARD_SECRET": "scale-test-forward-secret",
        "LRS_USERNAME": "u",
        "LRS_PASSWORD": "p",
    }
    client = create_app({"TESTING": True}, store=store, manifest=manifest, env=env).test_client()
    bearer = {"Authorization": "Bearer scale-test-forward-secret"}
    stored = 0
    for n, person in enumerate(PEOPLE):
        found = EXAMPLE.people_by_id[person]
        for k, (module, label) in enumerate(SKILLS.items()):
            statement = completion(person, module, START + timedelta(minutes=n))
            answer = client.post("/webhooks/xapi", json=statement, headers=bearer)
            assert answer.status_code == 200, answer.json
            stored += 1
            for t in range(2):
                issue = f"PAY-{100 + n * 10 + k * 2 + t}"
                at = START + timedelta(days=1, hours=n, minutes=k * 10 + t)
                body = jira_done(issue, f"acct-{person}", found.name, label, at, found.email)
                headers = {"X-Hub-Signature": sign(JIRA_SECRETS["JIRA_WEBHOOK_SECRET"], body)}
                answer = client.post(
                    "/webhooks/jira",
                    data=body,
                    headers={**headers, "Content-Type": "application/json"},
                )
                assert answer.status_code == 200, answer.json
                stored += 1
    return stored


def test_two_workers_drain_one_inbox_on_postgresql(
    tmp_path: Path, postgres_db_url: str, ralph_lrs: RalphServer
) -> None:
    migrate.upgrade(postgres_db_url)
    with FakeJira() as jira, Store.open(postgres_db_url) as store:
        manifest = manifest_file(tmp_path, jira=jira.url, lrs=ralph_lrs.endpoint, min_in_progress=0)
        assert fill_inbox(store, manifest) == len(PEOPLE) * 6
        user, password = ralph_lrs.auth
        env = child_env(
            postgres_db_url,
            manifest,
            JIRA_API_TOKEN="jira-token",
            LRS_USERNAME=user,
            LRS_PASSWORD=password,
            **JIRA_SECRETS,
            LRS_FORWARD_SECRET="scale-test-forward-secret",
        )
        command = [sys.executable, "-c", LAUNCH, "--log-level", "INFO", "worker", "--once"]
        logs = [tmp_path / f"{name}.log" for name in ("w1", "w2")]
        workers = []
        try:
            for log in logs:
                with log.open("w") as out:
                    workers.append(
                        subprocess.Popen(
                            [*command, "--id", log.stem, "--batch", "3"],
                            cwd=REPO,
                            env=env,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                        )
                    )
            for w in workers:
                w.wait(45)
        finally:
            for w in workers:
                w.kill()
                w.wait(5)
        output = [log.read_text() for log in logs]
        assert [w.returncode for w in workers] == [0, 0], "\n".join(output)
        assert all("drained: " in text for text in output)

        awards = store.awards.list()
        keys = Counter((a.person_id, a.skill_id, a.ticket_key) for a in awards)
        assert keys and max(keys.values()) == 1
        engine, _ = engine_from_inbox(store, load_manifest(manifest))
        expected = {
            (d.person, d.skill_info.id if d.skill_info else None, d.ticket) for d in engine.awards()
        }
        assert set(keys) == expected
        assert Counter(a.person_id for a in awards).most_common(1)[0][1] == 3  # the cap held

        items = store.outbox.list(limit=10_000)
        assert items and {i.status for i in items} == {"done"}
        assert {i.claimed_by for i in items} <= {None}
        comments = [i.idempotency_key for i in items if i.action == "comment"]
        assert jira.state.refs == Counter({key: 1 for key in comments})
        lrs = LrsClient(ralph_lrs.endpoint, auth=ralph_lrs.auth)
        stored = Counter(s.id for page in lrs.statements() for s in page.statements)
        for item in items:
            if item.target == "lrs":
                assert stored[item.payload["statement"]["id"]] == 1
