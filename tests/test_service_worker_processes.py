"""`serve --worker-processes`: `serve` decides and delivers in `skillrelay worker` processes
it starts, starts again when one dies, and stops on SIGTERM; a worker so started stops by
itself when its `serve` is killed. Real processes on the real PostgreSQL, and on SQLite."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from plugin.service import compose
from plugin.store import Store, migrate
from plugin.store.engine import parse_url
from tests.test_service_support import (
    FORWARD_SECRET,
    JIRA_SECRETS,
    LAUNCH,
    REPO,
    Child,
    child_env,
    decided,
    launched,
    manifest_file,
    post_done,
    wait_until,
)

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
SERVE = ["serve", "--no-sync", "--port", "0", "--jira-dry-run", "--id", "front"]
STARTED = r"workers: process 1 started \(pid (\d+)\)"


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for its parent to read its exit)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def serving(child: Child) -> str:
    """The URL, once the server answers: after `serve` has set its signal handlers (a
    SIGTERM before them ends the process as the default action does)."""
    url = child.wait_for(r"http: listening on (http://\S+)").group(1)
    assert requests.get(f"{url}/healthz", timeout=20).status_code == 200
    return url


@pytest.fixture
def env(tmp_path: Path, postgres_db_url: str) -> dict[str, str]:
    migrate.upgrade(postgres_db_url)
    manifest = manifest_file(tmp_path, jira="http://127.0.0.1:9", lrs="http://127.0.0.1:9/xAPI")
    env = child_env(postgres_db_url, manifest, **JIRA_SECRETS, LRS_FORWARD_SECRET=FORWARD_SECRET)
    env.update(LRS_USERNAME="u", LRS_PASSWORD="p")  # the outbox's LRS sender, never used here
    return env


def test_serve_on_postgresql_decides_in_a_worker_process_and_stops_it(
    tmp_path: Path, env: dict[str, str]
) -> None:
    database = env["SKILLRELAY_DATABASE_URL"]
    with launched(SERVE, env, tmp_path / "serve.log") as serve, Store.open(database) as store:
        url = serve.wait_for(r"http: listening on (http://\S+)").group(1)
        pid = int(serve.wait_for(STARTED).group(1))
        serve.wait_for(r"pipeline: worker front-w1, batches of")
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert b"worker" in command and b"--parent" in command
        assert str(serve.process.pid).encode() in command
        assert not any(database.encode() in part for part in command)  # passwords stay off ps
        # serve itself decides nothing: no pipeline of its own in its threads.
        assert "pipeline: worker front," not in serve.log

        post_done(url, "PAY-7", NOW)
        assert wait_until(decided(store, 1), 10) < 5.0, serve.log
        serve.wait_for(r"1 event\(s\) decided", timeout=5)  # the worker writes to serve's log

        code, took = serve.terminate()
        assert code == 0 and took < 10, serve.log
        assert not alive(pid)
        assert re.search(r"workers: process 1 \(pid \d+\) exited with 0", serve.log), serve.log


def test_a_worker_process_that_dies_is_started_again(tmp_path: Path, env: dict[str, str]) -> None:
    database = env["SKILLRELAY_DATABASE_URL"]
    with launched(SERVE, env, tmp_path / "serve.log") as serve, Store.open(database) as store:
        url = serve.wait_for(r"http: listening on (http://\S+)").group(1)
        first = int(serve.wait_for(STARTED).group(1))
        serve.wait_for(r"pipeline: worker front-w1, batches of")
        os.kill(first, signal.SIGKILL)
        serve.wait_for(r"workers: process 1 \(pid \d+\) exited with -9 after [\d.]+ s; starting")
        post_done(url, "PAY-8", NOW)  # stored while no worker runs: decided by the next one
        second = int(
            serve.wait_for(rf"workers: process 1 started \(pid (?!{first}\))(\d+)\)").group(1)
        )
        assert second != first
        assert wait_until(decided(store, 1), 20) < 15.0, serve.log
        assert serve.terminate()[0] == 0, serve.log
        assert not alive(second)


def test_a_worker_process_stops_when_its_serve_is_killed(
    tmp_path: Path, env: dict[str, str]
) -> None:
    with launched(SERVE, env, tmp_path / "serve.log") as serve:
        pid = int(serve.wait_for(STARTED).group(1))
        serve.wait_for(r"pipeline: worker front-w1, batches of")
        serve.process.kill()
        serve.process.wait(10)
        wait_until(lambda: not alive(pid), 10)
        assert re.search(r"the serve process \(pid \d+\) is gone; stopping", serve.log), serve.log


def test_zero_processes_keep_the_workers_in_serve_and_no_worker_excludes_them(
    tmp_path: Path, env: dict[str, str]
) -> None:
    with launched([*SERVE, "--worker-processes", "0"], env, tmp_path / "serve.log") as serve:
        serving(serve)
        serve.wait_for(r"pipeline: worker front, batches of")
        assert serve.terminate()[0] == 0
        assert "workers: process" not in serve.log
    both = [sys.executable, "-c", LAUNCH, *SERVE, "--no-worker", "--worker-processes", "1"]
    done = subprocess.run(both, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert "--no-worker and --worker-processes: choose one" in done.stderr


def test_a_missing_secret_stops_serve_before_any_worker_process_starts(
    tmp_path: Path, env: dict[str, str]
) -> None:
    del env["LRS_PASSWORD"]
    args = [sys.executable, "-c", LAUNCH, "--log-level", "INFO", *SERVE]
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert "LRS_PASSWORD is not set" in done.stderr
    assert "workers: process" not in done.stderr


def test_serve_on_sqlite_decides_in_a_worker_process_woken_by_its_watcher(
    tmp_path: Path,
) -> None:
    """On one SQLite file too: the worker's watcher sees the stored delivery, so it is
    decided long before the worker's next poll (60 s)."""
    database = f"sqlite:///{tmp_path / 'store.db'}"
    migrate.upgrade(database)
    manifest = manifest_file(tmp_path, jira="http://127.0.0.1:9", lrs="http://127.0.0.1:9/xAPI")
    env = child_env(database, manifest, **JIRA_SECRETS, LRS_FORWARD_SECRET=FORWARD_SECRET)
    env.update(LRS_USERNAME="u", LRS_PASSWORD="p")
    with (
        launched([*SERVE, "--poll", "60"], env, tmp_path / "serve.log") as serve,
        Store.open(database) as store,
    ):
        url = serving(serve)
        pid = int(serve.wait_for(STARTED).group(1))
        serve.wait_for(r"watch: woken by other processes' rows in inbox, outbox")
        serve.wait_for(r"pipeline: worker front-w1, batches of")
        assert "pipeline: worker front," not in serve.log
        post_done(url, "PAY-7", NOW)
        assert wait_until(decided(store, 1), 10) < 5.0, serve.log
        assert serve.terminate()[0] == 0, serve.log
        assert not alive(pid)


def test_a_sqlite_database_in_memory_keeps_the_workers_in_serve(tmp_path: Path) -> None:
    """No other process can open it, so no worker process is started for it."""
    memory, file = parse_url("sqlite://"), parse_url(f"sqlite:///{tmp_path / 'x.db'}")
    postgresql = parse_url("postgresql://u@127.0.0.1:5432/d")
    default = compose.Workers(processes=None)
    assert [compose.worker_processes(default, u) for u in (memory, file, postgresql)] == [0, 1, 1]
    assert compose.worker_processes(compose.Workers(processes=2), memory) == 2
    nothing = compose.Workers(pipeline=False, outbox=False, processes=None)
    assert compose.worker_processes(nothing, file) == 0
