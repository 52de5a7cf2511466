"""`skillrelay serve` as a real process: webhooks and sync in, awards decided, effects out to
a real Ralph LRS (Jira as a dry run), then a clean SIGTERM. And its start-up checks."""

from __future__ import annotations

import argparse
import base64
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from connectors.xapi import LrsClient
from plugin.commands import serve
from plugin.errors import ConfigError, SkillrelayError
from plugin.service import compose
from plugin.service.http import free_port as closed_port  # Jira there is unreachable
from plugin.store import Store
from tests.peers.ralph import RalphServer
from tests.test_service_support import (
    BEN,
    FORWARD_SECRET,
    GEORGE,
    JIRA_SECRETS,
    child_env,
    completion,
    jira_done,
    launched,
    manifest_file,
)
from webhooks.signature import sign

COMPLETED = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
DONE = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)


@pytest.fixture
def database(tmp_path: Path, sqlite_template: Path) -> str:
    shutil.copyfile(sqlite_template, tmp_path / "serve.db")
    return f"sqlite:///{tmp_path / 'serve.db'}"


def wait_for_awards(store: Store, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = store.outbox.list(limit=1000)
        awards = store.awards.list()
        if len(awards) >= count and items and all(i.status == "done" for i in items):
            return
        assert not [i for i in items if i.status == "dead"], items
        time.sleep(0.1)
    raise AssertionError(f"{store.awards.list()} / {store.outbox.list()}")


@pytest.mark.ralph
@pytest.mark.parametrize("server", ["waitress", "granian"])
def test_serve_decides_delivers_and_stops_cleanly(
    tmp_path: Path, database: str, ralph_lrs: RalphServer, server: str
) -> None:
    lrs = LrsClient(ralph_lrs.endpoint, auth=ralph_lrs.auth)
    lrs.send_statements([completion("ben.carter", "flags-lifecycle", COMPLETED)])  # for sync
    jira_url = f"http://127.0.0.1:{closed_port()}"
    manifest = manifest_file(tmp_path, jira=jira_url, lrs=ralph_lrs.endpoint, min_in_progress=0)
    user, password = ralph_lrs.auth
    secrets = {**JIRA_SECRETS, "LRS_FORWARD_SECRET": FORWARD_SECRET}
    env = child_env(database, manifest, LRS_USERNAME=user, LRS_PASSWORD=password, **secrets)
    args = ["serve", "--port", "0", "--poll", "0.5", "--id", "serve-1", "--jira-dry-run"]
    args += ["--server", server]
    with launched(args, env, tmp_path / "serve.log") as child:
        base = child.wait_for(r"http: listening on (http://127\.0\.0\.1:\d+)").group(1)
        child.wait_for(r"sync: xapi fetched 1, new 1")
        # An LRS forwards with the inbound forward secret, never the credentials we read it with.
        basic = base64.b64encode(f"ralph:{FORWARD_SECRET}".encode()).decode()
        statement = completion("george.lin", "flags-progressive-rollout", COMPLETED)
        answer = requests.post(
            f"{base}/webhooks/xapi",
            json=statement,
            headers={"Authorization": f"Basic {basic}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        for issue, account, name in (("PAY-301", BEN, "Ben"), ("RISK-7", GEORGE, "George")):
            body = jira_done(issue, account, name, "skill-feature-flags", DONE)
            signature = sign(JIRA_SECRETS["JIRA_WEBHOOK_SECRET"], body)
            headers = {"Content-Type": "application/json", "X-Hub-Signature": signature}
            for _ in range(2):  # Jira delivers again: the second is a duplicate
                answer = requests.post(
                    f"{base}/webhooks/jira", data=body, headers=headers, timeout=10
                )
                assert answer.status_code == 200, answer.text

        with Store.open(database) as store:
            wait_for_awards(store, 2)
            awards = {(a.person_id, a.skill_id, a.ticket_key) for a in store.awards.list()}
            sent = [i.payload["statement"]["id"] for i in store.outbox.list() if i.target == "lrs"]
        assert awards == {
            ("ben.carter", "feature-flags", "PAY-301"),
            ("george.lin", "feature-flags", "RISK-7"),
        }
        assert len(sent) == 4  # applied and earned, for each award
        for id in sent:
            assert lrs.get_statement(id) is not None
        assert requests.get(f"{base}/readyz", timeout=5).status_code == 200
        metrics = requests.get(f"{base}/metrics", timeout=5).text
        assert "skillrelay_http_queued_requests 0.0" in metrics
        assert "skillrelay_http_queued_requests_peak " in metrics
        assert child.wait_for(r"jira dry run, not written: comment on PAY-301")

        code, took = child.terminate()
        log = child.log
    assert code == 0 and took < 10, log
    for line in (
        "workers: 1 `skillrelay worker` process(es) decide and deliver",
        "outbox: worker serve-1-w1 delivering to jira DRY RUN (--jira-dry-run",
        "pipeline: worker serve-1-w1",
        "sync: xapi every 300 s",
        "shutdown: SIGTERM; stopping within 10 s",
        "http: stopped accepting connections",
        "http: closed",
        "pipeline: stopped",
        "outbox: stopped",
        "sync: stopped",
        "store: closed",
        "shutdown: complete",
    ):
        assert line in log, line
    for secret in (password, FORWARD_SECRET, *JIRA_SECRETS.values()):
        assert secret not in log


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    serve.register(parser.add_subparsers())
    return parser.parse_args(["serve", *argv])


def test_serve_refuses_to_start_without_the_webhook_secret(
    tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = manifest_file(tmp_path, jira="http://127.0.0.1:9", lrs="http://127.0.0.1:9/xAPI")
    for name, value in child_env(database, manifest, LRS_USERNAME="u", LRS_PASSWORD="p").items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("JIRA_WEBHOOK_SECRET", raising=False)
    args = parse("--port", "0", "--no-sync", "--jira-dry-run")
    with pytest.raises(ConfigError) as refused:
        args.func(args)
    assert refused.value.exit_code == 2
    assert f"{manifest}: sources[jira].webhook_secret_env" in str(refused.value)
    assert "JIRA_WEBHOOK_SECRET is not set" in str(refused.value)

    # For a local demo the webhook app may take unsigned requests: then it starts.
    monkeypatch.setenv("SKILLRELAY_ALLOW_UNSIGNED", "true")
    settings = compose.Settings(manifest, database, "w", jira_dry_run=True)
    service = compose.serve(settings, compose.Http(port=0), compose.Workers(), None)
    assert service.shutdown()


def test_serve_never_drops_jira_writes_for_a_missing_token(
    tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = manifest_file(tmp_path, jira="http://127.0.0.1:9", lrs="http://127.0.0.1:9/xAPI")
    env = child_env(
        database, manifest, **JIRA_SECRETS, LRS_FORWARD_SECRET=FORWARD_SECRET,
        LRS_USERNAME="u", LRS_PASSWORD="p",
    )  # fmt: skip
    env.pop("JIRA_API_TOKEN", None)
    settings = compose.Settings(manifest, database, "w")
    with pytest.raises(ConfigError) as refused:
        compose.serve(settings, compose.Http(port=0), compose.Workers(), None, env)
    message = str(refused.value)
    assert message.startswith(
        f"{manifest}: sources[jira].auth.token_env: JIRA_API_TOKEN is not set: the outbox"
    )
    assert "--jira-dry-run" in message
    with Store.open(database) as store:
        assert store.outbox.list() == []  # nothing was started, nothing marked done

    # Asked for, the dry run starts; receiving only needs no Jira token at all.
    dry = compose.serve(
        compose.Settings(manifest, database, "w", jira_dry_run=True),
        compose.Http(port=0), compose.Workers(), None, env,
    )  # fmt: skip
    assert dry.shutdown()
    receive_only = compose.serve(
        settings, compose.Http(port=0), compose.Workers(False, False), None, env
    )
    assert receive_only.shutdown()


def test_serve_needs_the_lrs_credentials_when_it_delivers(
    tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = manifest_file(tmp_path, jira="http://127.0.0.1:9", lrs="http://127.0.0.1:9/xAPI")
    env = child_env(database, manifest, **JIRA_SECRETS, LRS_FORWARD_SECRET=FORWARD_SECRET)
    settings = compose.Settings(manifest, database, "w", jira_dry_run=True)
    with pytest.raises(ConfigError, match="LRS_USERNAME is not set"):
        compose.serve(settings, compose.Http(port=0), compose.Workers(), None, env)
    # Receiving only (workers elsewhere) with the LRS pulled by no one: no LRS secret needed.
    monkeypatch.setenv("SKILLRELAY_ALLOW_UNSIGNED", "true")
    receive_only = compose.Workers(False, False)
    service = compose.serve(settings, compose.Http(port=0), receive_only, None, env)
    assert service.http is not None
    port = int(service.http.address.rsplit(":", 1)[1])
    with pytest.raises(SkillrelayError, match=f"cannot listen on 127.0.0.1:{port}"):
        compose.serve(settings, compose.Http(port=port), receive_only, None, env)
    assert service.shutdown()
