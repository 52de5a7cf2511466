""" "Apply it now": one JQL search for open tickets that show the skill, checked against the
Jira Cloud contract, and the suggestion a learner gets after a completion."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from plugin.notify.scheduler import Scheduler
from plugin.notify.suggest import skill_jql, suggester
from plugin.notify.words import Words
from plugin.store import Store
from tests.jira_contract import JiraHarness
from tests.test_notify_scheduler import manifest_with
from tests.test_pipeline_support import MANIFEST, NOW, completion, put

pytest_plugins = ["tests.jira_contract"]

SQL = MANIFEST.skills_by_id["sql-indexing"]


def test_the_search_asks_for_the_skills_open_tickets_for_the_person_or_nobody() -> None:
    jql = skill_jql(MANIFEST, SQL, "5b10ac8d82e05b22cc7d4ef5")
    assert jql is not None
    assert jql.startswith(
        '(labels in ("skill-sql-indexing") OR component in ("Ledger DB") '
        'OR cf[10050] = "SQL indexing")'
    )
    assert "statusCategory != Done" in jql
    assert '(assignee = "5b10ac8d82e05b22cc7d4ef5" OR assignee is EMPTY)' in jql
    assert 'project in ("PAY", "RISK", "WEB")' in jql and jql.endswith("ORDER BY updated DESC")


def test_one_contract_checked_search_gives_the_tickets_as_links(jira_cloud: JiraHarness) -> None:
    issues = [
        {"id": "10001", "key": "PAY-7", "fields": {"summary": "Slow ledger query"}},
        {"id": "10002", "key": "PAY-9", "fields": {"summary": "Index the payouts table"}},
    ]
    jira_cloud.mock.post(jira_cloud.url("rest/api/3/search/jql"), json={"issues": issues})
    suggest = suggester(MANIFEST, jira_cloud.client.search_first)
    found = suggest("sql-indexing", "ben.carter")
    base = str(MANIFEST.jira.base_url).rstrip("/") if MANIFEST.jira else ""
    assert found == [
        {"key": "PAY-7", "summary": "Slow ledger query", "url": f"{base}/browse/PAY-7"},
        {"key": "PAY-9", "summary": "Index the payouts table", "url": f"{base}/browse/PAY-9"},
    ]
    body = jira_cloud.sent_json()
    assert body["maxResults"] == 3 and body["fields"] == ["summary"]
    assert "statusCategory != Done" in body["jql"]


def test_a_completion_brings_a_suggestion_with_open_tickets(store: Store) -> None:
    put(store, [completion("ben.carter")])
    asked: list[tuple[str, str]] = []

    def suggest(skill: str, person: str) -> list[dict[str, str]]:
        asked.append((skill, person))
        return [{"key": "PAY-7", "summary": "Slow ledger query", "url": "https://j/browse/PAY-7"}]

    manifest = manifest_with(budget={"per_person_per_day": 5, "per_person_per_week": 10})
    later = NOW + timedelta(hours=1)
    Scheduler(store, manifest, Words(), suggest=suggest, clock=lambda: later).tick()
    Scheduler(store, manifest, Words(), suggest=suggest, clock=lambda: later).tick()
    assert asked == [("sql-indexing", "ben.carter")]  # once, however many ticks
    [notice] = store.notices.list(person="ben.carter")
    assert (notice.kind, notice.status, notice.channel) == (
        "apply_suggestion",
        "sent",
        "moodle_message",
    )
    [effect] = [i for i in store.outbox.list(limit=100) if i.idempotency_key.startswith("notify:")]
    assert "PAY-7" in effect.payload["text"] and effect.payload["links"][0]["text"].startswith(
        "PAY-7"
    )


def test_no_open_ticket_drops_the_suggestion_saying_so(store: Store) -> None:
    put(store, [completion("ben.carter")])
    manifest = manifest_with()
    Scheduler(store, manifest, Words(), suggest=lambda s, p: [], clock=lambda: NOW).tick()
    [notice] = store.notices.list(person="ben.carter")
    assert (notice.status, notice.reason) == ("dropped", "no open ticket shows SQL indexing")


def tick_during_search(store: Store, other: Callable[[], object]) -> list[bool]:
    """A planner's tick whose Jira search runs `other` in another thread, as a webhook request
    or a second planner would run meanwhile; whether `other` finished within 2 s."""
    finished: list[bool] = []
    threads: list[threading.Thread] = []

    def suggest(skill: str, person: str) -> list[dict[str, str]]:
        threads.append(threading.Thread(target=other))
        threads[-1].start()
        threads[-1].join(timeout=2)
        finished.append(not threads[-1].is_alive())
        return [{"key": "PAY-7", "summary": "Slow ledger query", "url": "https://j/browse/PAY-7"}]

    later = NOW + timedelta(hours=1)
    Scheduler(store, manifest_with(), Words(), suggest=suggest, clock=lambda: later).tick()
    for thread in threads:
        thread.join()
    return finished


def test_deliveries_are_stored_while_jira_is_searched(store: Store) -> None:
    """The search is a request to Jira (seconds when Jira is slow, longer when it asks to
    wait): no write transaction may be open meanwhile, or on SQLite every webhook waits."""
    put(store, [completion("ben.carter")])
    added: list[int] = []
    finished = tick_during_search(
        store, lambda: added.append(put(store, [completion("chloe.nguyen")]))
    )
    assert finished == [True] and added == [1]
    [notice] = store.notices.list(person="ben.carter")
    assert (notice.kind, notice.status) == ("apply_suggestion", "sent")


def test_another_planner_is_not_held_up_by_a_search_and_a_notice_is_decided_once(
    store: Store,
) -> None:
    """A second planner (another process) ticks while the first waits for Jira: it is not
    held up, and when it decides the suggestion first, the first planner does not send it."""
    put(store, [completion("ben.carter")])
    later = NOW + timedelta(hours=1)
    other = Scheduler(store, manifest_with(), Words(), suggest=lambda s, p: [], clock=lambda: later)
    finished = tick_during_search(store, other.tick)
    assert finished == [True]
    [notice] = store.notices.list(person="ben.carter")
    assert (notice.status, notice.reason) == ("dropped", "no open ticket shows SQL indexing")
    assert not [i for i in store.outbox.list(limit=100) if i.idempotency_key.startswith("notify:")]
