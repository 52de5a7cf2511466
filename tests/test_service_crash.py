"""Worker processes delivering effects: a SIGKILL mid-delivery, a flaky Jira, an LRS that is
down for a while. Whatever happens, each effect lands exactly once at its target."""

from __future__ import annotations

import shutil
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from connectors.xapi import LrsClient
from plugin.effects import Effect
from plugin.store import Store
from tests.peers.ralph import RalphServer
from tests.test_effects_support import (
    change,
    enqueue,
    flags_award,
    make_award,
    plan,
    store_award,
)
from tests.test_service_support import (
    FakeJira,
    Fault,
    child_env,
    launched,
    manifest_file,
    run_once,
)

pytestmark = pytest.mark.ralph


def seed(store: Store) -> list[Effect]:
    """Three awards on three tickets, "awarded": comments, labels and LRS statements."""
    awards = [
        flags_award(),
        make_award(ticket="PAY-102"),
        replace(flags_award(), person_id="george.lin", ticket_key="RISK-7"),
    ]
    effects: list[Effect] = []
    for award in awards:
        effects += plan(change(store_award(store, award), "awarded"))
    enqueue(store, effects)
    return effects


@pytest.fixture
def database(tmp_path: Path, sqlite_template: Path) -> str:
    shutil.copyfile(sqlite_template, tmp_path / "service.db")
    return f"sqlite:///{tmp_path / 'service.db'}"


def worker_env(database: str, tmp_path: Path, jira: FakeJira, lrs: RalphServer) -> dict[str, str]:
    manifest = manifest_file(tmp_path, jira=jira.url, lrs=lrs.endpoint)
    user, password = lrs.auth
    return child_env(
        database, manifest, JIRA_API_TOKEN="jira-token", LRS_USERNAME=user, LRS_PASSWORD=password
    )


def wait_until_delivered(store: Store, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = Counter(item.status for item in store.outbox.list(limit=1000))
        if set(statuses) == {"done"}:
            return
        assert "dead" not in statuses, store.outbox.list(status="dead")
        time.sleep(0.1)
    raise AssertionError(f"not delivered in {timeout} s: {store.outbox.list(limit=1000)}")


def assert_once_each(effects: list[Effect], jira: FakeJira, lrs: RalphServer) -> None:
    comments = [e.idempotency_key for e in effects if e.action == "comment"]
    assert jira.state.refs == Counter({key: 1 for key in comments})
    for effect in effects:
        if effect.action == "label":
            assert effect.payload["label"] in jira.state.labels[effect.payload["issue"]]
    client = LrsClient(lrs.endpoint, auth=lrs.auth)
    stored = Counter(s.id for page in client.statements() for s in page.statements)
    sent = [e.payload["statement"]["id"] for e in effects if e.target == "lrs"]
    assert sent and stored == Counter({id: 1 for id in sent})


def test_a_worker_killed_mid_delivery_is_taken_over_after_its_lease(
    tmp_path: Path, database: str, ralph_lrs: RalphServer
) -> None:
    with Store.open(database) as store, FakeJira() as jira:
        effects = seed(store)
        jira.state.comment_delay = 3.0  # the first comment POST is still open when we kill
        env = worker_env(database, tmp_path, jira, ralph_lrs)
        args = ["worker", "--outbox-only", "--lease", "1.5", "--poll", "0.2"]
        with launched([*args, "--id", "first"], env, tmp_path / "first.log") as first:
            first.wait_for(r"outbox: worker first delivering to jira cloud http://127\.0\.0\.1")
            assert jira.state.posting.wait(20), first.log
            first.process.kill()  # SIGKILL: no handler runs, nothing is released
            first.process.wait(5)
        in_flight = store.outbox.list(status="in_flight")
        assert [item.action for item in in_flight][:1] == ["comment"]
        assert sum(jira.state.refs.values()) == 1  # Jira has the comment; we never heard back

        # The next worker takes the lapsed leases: the comment is found, not posted again.
        # SIGTERM while its next comment is on the way: that one is finished and recorded,
        # the rest of its batch is handed back.
        jira.state.comment_delay = 1.0
        jira.state.posting.clear()
        with launched([*args, "--id", "second"], env, tmp_path / "second.log") as second:
            assert jira.state.posting.wait(20), second.log
            code, took = second.terminate()
            assert code == 0 and took < 10, second.log
        assert "shutdown: complete" in second.log
        assert store.outbox.list(status="in_flight") == []
        assert sum(jira.state.refs.values()) == 2
        done = [item for item in store.outbox.list() if item.status == "done"]
        assert {"comment"} <= {item.action for item in done}
        assert len(done) < len(effects)  # some were handed back undelivered

        jira.state.comment_delay = 0.0
        drained = run_once([*args, "--once", "--id", "third"], env)
        assert "drained: 0 inbox event(s) decided" in drained
        assert_once_each(effects, jira, ralph_lrs)
        assert {item.status for item in store.outbox.list()} == {"done"}


def test_jira_throttling_and_an_lrs_outage_are_waited_out(
    tmp_path: Path, database: str, ralph_lrs: RalphServer
) -> None:
    with Store.open(database) as store, FakeJira() as jira:
        effects = seed(store)
        jira.state.faults += [Fault(429, {"Retry-After": "1"}), Fault(503, times=2)]
        env = worker_env(database, tmp_path, jira, ralph_lrs)
        ralph_lrs.stop()
        args = ["worker", "--outbox-only", "--poll", "0.2", "--retry-base", "0.2"]
        try:
            with launched(args, env, tmp_path / "worker.log") as worker:
                worker.wait_for(r"outbox: .* delivered, [1-9]\d* to retry")
                worker.wait_for(r"outbox \d+: retry at \S+: xapi: connection failed")
                ralph_lrs.start()
                wait_until_delivered(store, 30)
                code, _ = worker.terminate()
                assert code == 0, worker.log
        finally:
            ralph_lrs.start()
        assert jira.state.faults == []
        assert all(item.attempts > 1 for item in store.outbox.list() if item.target == "lrs")
        assert_once_each(effects, jira, ralph_lrs)
