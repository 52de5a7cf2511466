"""Retries bounded by time, not attempts: an effect is dead only once its time budget is
spent, or at once on an answer that can never succeed; a paused target holds its effects
without spending their attempts; `skillrelay outbox retry` brings one back with a fresh
budget. Real store (SQLite and PostgreSQL), an injected clock, no real waiting."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import pytest

from connectors.delivery import JiraSender
from plugin import cli
from plugin.effects import Effect
from plugin.errors import ConfigError, RetriableError
from plugin.outbox_worker import DeliveryStats, OutboxWorker, exponential_backoff
from plugin.service import compose, options
from plugin.settings import EXAMPLE_MANIFEST
from plugin.store import OutboxItem, Store
from tests.jira_contract import JiraHarness
from tests.test_effects_support import FakeIssue, change, enqueue, make_award, plan

pytest_plugins = ["tests.jira_contract"]

T0 = datetime(2026, 11, 6, 9, 0, tzinfo=UTC)
UNAVAILABLE = RetriableError("jira", "Service Unavailable", 503)


def at(seconds: float, start: datetime = T0) -> datetime:
    return start + timedelta(seconds=seconds)


class Jira:
    """A sender answering 503 while `down`, recording what it delivered."""

    def __init__(self, down: bool = True) -> None:
        self.down = down
        self.calls = 0
        self.sent: list[str] = []

    def send(self, effect: Effect) -> None:
        self.calls += 1
        if self.down:
            raise UNAVAILABLE
        self.sent.append(effect.idempotency_key)


def awarded(*tickets: str) -> list[Effect]:
    effects = []
    for ticket in tickets:
        award = make_award(id=300 + int(ticket.split("-")[1]), ticket=ticket)
        effects += plan(change(award, "awarded"))
    return effects


def items(store: Store) -> list[OutboxItem]:
    return store.outbox.list(limit=1000)


def test_an_effect_is_dead_only_after_its_time_budget(store: Store) -> None:
    [comment] = awarded("PAY-1")[:1]
    enqueue(store, [comment], T0)
    jira = Jira()
    run = OutboxWorker(
        store,
        {"jira": jira},
        worker_id="w1",
        backoff=lambda n: 600.0,
        retry_budget=timedelta(hours=2),
    )
    now = T0
    while now < at(2 * 3600):
        assert run.run_once(now) == DeliveryStats(claimed=1, retried=1)
        [item] = items(store)
        assert (item.status, item.next_attempt_at) == ("pending", now + timedelta(minutes=10))
        now = item.next_attempt_at
    assert run.run_once(now) == DeliveryStats(claimed=1, dead=1)
    [item] = items(store)
    assert (item.status, item.attempts, jira.calls) == ("dead", 13, 13)
    assert item.last_error == (
        "gave up: not delivered within 2h (attempts: 13); last: jira (HTTP 503): "
        "Service Unavailable"
    )


def test_a_deferred_effect_spends_no_attempt(store: Store) -> None:
    effects = [e for e in awarded("PAY-1", "PAY-2") if e.target == "jira"]
    enqueue(store, effects, T0)
    run = OutboxWorker(store, {"jira": Jira()}, worker_id="w1", backoff=lambda n: 60.0)
    assert run.run_once(T0) == DeliveryStats(claimed=4, retried=1, deferred=3)
    assert [i.attempts for i in items(store)] == [1, 0, 0, 0]  # only the one tried
    assert {i.next_attempt_at for i in items(store)} == {at(60)}


def test_a_rate_limited_target_is_paused_across_batches(store: Store) -> None:
    """A 429 asking for 5 minutes: later batches leave Jira alone until then (effects queued
    meanwhile included, their attempts unspent), and the LRS is not held up."""
    first, second = awarded("PAY-1"), awarded("PAY-2")
    enqueue(store, [first[0]], T0)
    jira = Jira()
    jira.down = False

    class Throttled(Jira):
        def send(self, effect: Effect) -> None:
            self.calls += 1
            raise RetriableError("jira", "Too Many Requests", 429, retry_after=300)

    throttled = Throttled()
    senders = {"jira": throttled, "lrs": Jira(down=False)}
    run = OutboxWorker(store, senders, worker_id="w1", backoff=lambda n: 1.0)
    assert run.run_once(T0) == DeliveryStats(claimed=1, retried=1)
    enqueue(store, second, at(10))
    assert run.run_once(at(10)) == DeliveryStats(claimed=3, done=1, deferred=2)
    assert throttled.calls == 1  # Jira was not asked again inside its Retry-After
    waiting = store.outbox.list(status="pending")
    assert [(i.action, i.attempts, i.next_attempt_at) for i in waiting] == [
        ("comment", 1, at(300)),
        ("comment", 0, at(300)),
        ("label", 0, at(300)),
    ]
    assert waiting[1].last_error == (
        "waiting: jira paused until 2026-11-06T09:05:00+00:00: jira (HTTP 429): Too Many Requests"
    )
    run.senders["jira"] = jira
    assert run.run_once(at(300)) == DeliveryStats(claimed=3, done=3)


@pytest.mark.parametrize(
    ("index", "method", "what", "status", "reason"),
    [
        (
            1,
            "PUT",
            "issue",
            400,
            "jira (HTTP 400): label on PAY-101: Bad Request: Jira refused the request as "
            "invalid; it will not succeed as it is",
        ),
        (
            0,
            "POST",
            "comment",
            404,
            "jira (HTTP 404): comment on PAY-101: Not Found: the issue does not exist or the "
            "account cannot see it",
        ),
    ],
    ids=["400-label", "404-comment"],
)
def test_an_answer_that_can_never_succeed_is_dead_at_once_with_a_reason(
    store: Store,
    jira_cloud: JiraHarness,
    index: int,
    method: str,
    what: str,
    status: int,
    reason: str,
) -> None:
    issue = FakeIssue(jira_cloud)
    issue.fail(method, what, status)
    enqueue(store, [awarded("PAY-101")[index]], T0)
    run = OutboxWorker(
        store, {"jira": JiraSender(jira_cloud.client)}, worker_id="w1", clock=lambda: T0
    )
    assert run.run_once(T0) == DeliveryStats(claimed=1, dead=1)
    [item] = items(store)
    assert (item.status, item.attempts, item.last_error) == ("dead", 1, reason)


def test_outbox_retry_revives_an_effect_with_a_fresh_budget(
    store: Store,
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    [comment] = awarded("PAY-1")[:1]
    enqueue(store, [comment], T0)
    jira = Jira()
    run = OutboxWorker(
        store,
        {"jira": jira},
        worker_id="w1",
        backoff=lambda n: 1800.0,
        retry_budget=timedelta(hours=1),
    )
    for now in (T0, at(1800), at(3600)):
        run.run_once(now)
    [dead] = items(store)
    assert dead.status == "dead"

    modules = [m for m in cli.COMMAND_MODULES if m != "outbox"] + ["outbox"]
    monkeypatch.setattr(cli, "COMMAND_MODULES", modules)
    monkeypatch.setenv("SKILLRELAY_DATABASE_URL", store_url)
    revived_at = datetime.now(UTC)
    assert cli.main(["outbox", "retry", str(dead.id)]) == 0
    assert capsys.readouterr().out.strip() == (
        f"effect {dead.id} (jira/comment) is pending again, with a fresh retry budget"
    )
    [item] = items(store)
    assert (item.status, item.attempts) == ("pending", 0)
    assert item.created_at >= revived_at  # its budget starts again now

    # Still failing: it keeps its place for another hour (not dead at the next failure).
    now = item.next_attempt_at
    for _ in range(2):
        assert run.run_once(now) == DeliveryStats(claimed=1, retried=1)
        now = items(store)[0].next_attempt_at
    jira.down = False
    assert run.run_once(now) == DeliveryStats(claimed=1, done=1)
    assert jira.sent == [comment.idempotency_key]


def test_the_backoff_is_capped_at_an_hour_with_jitter() -> None:
    backoff = exponential_backoff(base=30, cap=3600)
    for attempt, low in [(1, 30), (2, 60), (3, 120), (7, 1920)]:
        assert low <= backoff(attempt) <= low + 30
    waits = {backoff(n) for n in range(8, 2000)}
    assert all(3570 <= w <= 3600 for w in waits)
    assert len(waits) > 100  # workers capped together do not retry in step
    assert exponential_backoff(base=1, cap=10, jitter=0)(3) == 4


def test_the_budget_and_the_lease_are_service_options(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    parser = argparse.ArgumentParser()
    options.add_common(parser)
    given = ["--manifest", str(EXAMPLE_MANIFEST), "--database", store_url, "--jira-dry-run"]
    assert options.settings(parser.parse_args(given)).retry_budget == 24 * 3600  # the default
    settings = options.settings(parser.parse_args([*given, "--retry-budget", "90m"]))
    env = {"LRS_USERNAME": "u", "LRS_PASSWORD": "p", "MOODLE_TOKEN": "t"}  # Moodle messages too
    opened = compose.open_parts(settings, env=env)
    try:
        with caplog.at_level("INFO", logger="skillrelay"):
            run = compose.outbox_worker(opened, settings)
    finally:
        opened.store.close()
    assert run.retry_budget == timedelta(minutes=90)
    assert "an effect is dead after failing for 90m" in caplog.text
    for text, seconds in (("45", 45), ("45s", 45), ("2h", 7200), ("2d", 172800)):
        assert options.span(text) == seconds
    for bad in ("soon", "0", "-1h"):
        with pytest.raises(argparse.ArgumentTypeError):
            options.span(bad)


def test_a_message_channel_without_its_secret_stops_the_start_naming_it(store_url: str) -> None:
    parser = argparse.ArgumentParser()
    options.add_common(parser)
    given = ["--manifest", str(EXAMPLE_MANIFEST), "--database", store_url, "--jira-dry-run"]
    settings = options.settings(parser.parse_args(given))
    opened = compose.open_parts(settings, env={"LRS_USERNAME": "u", "LRS_PASSWORD": "p"})
    try:
        with pytest.raises(ConfigError) as caught:
            compose.outbox_worker(opened, settings)
    finally:
        opened.store.close()
    assert "sources[moodle].token_env: environment variable MOODLE_TOKEN is not set" in str(
        caught.value
    )
