"""The production server under load: webhook ingest throughput, and Jira-to-LRS latency.

1. Ingest. `skillrelay serve` as a child process (waitress, `--threads 4`, SQLite in a temp
   dir, pipeline and outbox threads running as in production, sync off) takes distinct
   signed Jira deliveries (`X-Hub-Signature: sha256=<hmac>`, a delivery identifier each)
   from a load generator in another process (`bench/service_load.py`: keep-alive
   connections in K threads, closed loop, a warm-up first). The reference is a bare Flask
   view that only reads the body and answers 200, under the same waitress server class and
   thread count, in the same run. Then `serve --no-worker` (receive only) with the same load,
   to tell the request path from the workers competing with it, and a fresh `serve` paced
   open loop at half the rate ours reached, for its latency.
2. End to end. A real Ralph LRS (`connectors.local_lrs.start_ralph`), `serve` delivering
   to it. Every person first gets a module completion (forwarded statements, POST
   /webhooks/xapi); then one delivery a person, paced at `rate`, completes a ticket
   labelled with that skill: the pipeline awards it and the outbox writes the "performed"
   (applied) statement, whose id is UUIDv5 of the award's natural key
   (plugin.effects.statements). The time from sending the delivery to the statement being
   readable from Ralph is taken by polling Ralph for those ids; each id is then read back
   on its own (GET ?statementId=) to check that it arrived.

    python -m bench service [--scale 0.05]
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

if not __package__:  # run as `python bench/bench_service.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.service_load import SECRET_ENV, Deliveries
from connectors.local_lrs import RalphServer, start_ralph
from connectors.xapi import LrsClient
from connectors.xapi_statements import statement_id
from plugin.demo.statements import Step, logstore_statement
from plugin.manifest import load_manifest
from plugin.service.http import free_port as closed_port  # a port nothing listens on
from plugin.settings import EXAMPLE_MANIFEST
from plugin.store import migrate

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "webhooks" / "cloud_issue_updated_status_done.json"
SECRETS = {
    "JIRA_WEBHOOK_SECRET": "bench-webhook-secret",
    "JIRA_AUTOMATION_SECRET": "bench-automation-secret",
    "LRS_FORWARD_SECRET": "bench-forward-secret",
}
THREADS = 4  # waitress request threads, both servers
CLIENTS = 8  # load generator connections (closed loop)
OPEN_CLIENTS = 16  # load generator threads (open loop)
INGEST_SECONDS = 10.0
WARMUP_SECONDS = 1.0
E2E_RATE = 50.0  # deliveries a second
E2E_SECONDS = 20.0
SKILL, LABEL, MODULE = "feature-flags", "skill-feature-flags", "flags-lifecycle"
START_TIMEOUT = 30.0


# --- child processes --------------------------------------------------------------------------


@dataclass
class Child:
    process: subprocess.Popen[bytes]
    log_file: Path
    url: str = ""
    exit_code: int | None = None

    @property
    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def cpu(self) -> float:
        """CPU seconds of the process and its children so far (a server that runs its
        workers as child processes counts whole)."""
        return process_cpu(self.process.pid)


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, its live children and its reaped ones
    (Linux /proc; 0 elsewhere)."""
    total = _stat_cpu(pid, children=True)
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and _stat(int(entry.name))[1:2] == [str(pid)]:
            total += _stat_cpu(int(entry.name))
    return total


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name; none if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _stat_cpu(pid: int, *, children: bool = False) -> float:
    """utime + stime (and the reaped children's cutime + cstime) in seconds."""
    fields = _stat(pid)
    if not fields:
        return 0.0
    ticks = sum(int(f) for f in fields[11 : 15 if children else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def child(
    args: Sequence[str], env: Mapping[str, str], log_file: Path, ready: str = "", *,
    listens: bool = True,
) -> Iterator[Child]:  # fmt: skip
    """Start `python *args`, wait for its `listening on <url>` line (unless it `listens` on no
    port) and `ready`, when it prints one once it serves; stopped (SIGTERM, then killed)
    however it ends."""
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    found = Child(process, log_file)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            log = found.log
            match = re.search(r"(?:listening on|Listening at:) (http://[\w.:\[\]]+)", log)
            if (match or not listens) and ready in log:
                found.url = match.group(1) if match else ""
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{args[:3]} did not start:\n{found.log[-3000:]}")
            time.sleep(0.05)
        yield found
        process.send_signal(signal.SIGTERM)
        found.exit_code = process.wait(20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def worker(env: Mapping[str, str], log_file: Path, name: str) -> AbstractContextManager[Child]:
    """A `skillrelay worker` process (its default --poll; on PostgreSQL the inbox's
    notifications wake it), started once its pipeline runs; stopped (SIGTERM) at the end."""
    args = ["-m", "plugin", "--log-level", "INFO", "worker", "--id", name, "--jira-dry-run"]
    return child(args, env, log_file, f"pipeline: worker {name}, batches of", listens=False)


def serve_args(*extra: str) -> list[str]:
    return ["-m", "plugin", "--log-level", "INFO", "serve", "--port", "0", "--no-sync",
            "--threads", str(THREADS), "--id", "bench", "--jira-dry-run", *extra]  # fmt: skip


def base_env(database: str, manifest: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKILLRELAY_", "JIRA_"))}
    for name in ("LRS_USERNAME", "LRS_PASSWORD", "LRS_FORWARD_SECRET"):
        env.pop(name, None)
    env.update(SKILLRELAY_DATABASE_URL=database, SKILLRELAY_MANIFEST=str(manifest))
    env.update(SECRETS)
    env.update(more)
    env[SECRET_ENV] = SECRETS["JIRA_WEBHOOK_SECRET"]
    return env


# --- fixtures: the manifest, the database, the deliveries ---------------------------------------


def person(i: int) -> tuple[str, str, str]:
    """(id, name, email) of generated person i."""
    return f"bench-{i:05d}", f"Bench Person {i}", f"bench-{i:05d}@bench.example"


def write_manifest(folder: Path, *, jira: str, lrs: str, people: int) -> Path:
    """The example manifest without Moodle (source and channel), Jira at `jira` (unreachable:
    with no API token the Jira effects are a logged dry run), the LRS at `lrs`, no minimum
    time in progress, and `people` more people matched by email (one award each, so no
    per-person cap or notification budget is in play)."""
    text = EXAMPLE_MANIFEST.read_text()
    text = text[: text.index("  - id: moodle\n")] + text[text.index("  - id: lrs\n") :]
    channel = "    - type: moodle_message"
    start = text.index(channel)
    text = text[:start] + text[text.index("    - type:", start + len(channel)) :]
    for old, new in (
        ("base_url: https://northwind.atlassian.net", f"base_url: {jira}"),
        ("endpoint: https://lrs.northwind.example/xAPI", f"endpoint: {lrs.rstrip('/')}"),
        ("min_in_progress_minutes: 30", "min_in_progress_minutes: 0"),
        ("  people:\n", "  people:\n" + "".join(
            f"    - id: {pid}\n      name: {name}\n      email: {email}\n"
            for pid, name, email in map(person, range(people))
        )),
    ):  # fmt: skip
        if old not in text:
            raise AssertionError(f"the example manifest changed: no {old!r}")
        text = text.replace(old, new, 1)
    path = folder / "manifest.yaml"
    path.write_text(text)
    return path


class Databases:
    """Fresh migrated SQLite files, copied from one migrated once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.template = folder / "template.db"
        migrate.upgrade(f"sqlite:///{self.template}")
        self.made = 0

    def fresh(self) -> tuple[str, Path]:
        self.made += 1
        path = self.folder / f"store-{self.made}.db"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}", path


def offline_manifest(folder: Path) -> Path:
    """`write_manifest` with Jira and the LRS on closed ports and no extra people: for
    benchmarks that only receive and decide, never deliver."""
    return write_manifest(
        folder,
        jira=f"http://127.0.0.1:{closed_port()}",
        lrs=f"http://127.0.0.1:{closed_port()}/xAPI",
        people=0,
    )


def inbox_counts(path: Path) -> dict[str, int]:
    """Jira events (not delivery markers) in the inbox, by status."""
    with sqlite3.connect(path, timeout=30) as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM inbox WHERE source = 'jira' AND kind != 'delivery' "
            "GROUP BY status"
        ).fetchall()
    conn.close()
    return {status: n for status, n in rows}


def template_file(folder: Path) -> Path:
    """The delivery template: a Cloud "issue moved to Done" webhook, labelled for the skill."""
    body = json.loads(FIXTURE.read_text())
    fields = body["issue"]["fields"]
    for user in (body["user"], fields["assignee"], fields["reporter"]):
        user.update(accountId="__ACCOUNT__", displayName="__NAME__", emailAddress="__EMAIL__")
    body["issue"].update(key="__KEY__", id="__ISSUE_ID__")
    fields["project"].update(key="PAY", name="PAY")
    fields.update(labels=[LABEL], components=[], customfield_10050=None)
    body["changelog"]["id"] = "__CHANGELOG_ID__"
    body["timestamp"] = "__TIMESTAMP__"
    path = folder / "delivery.json"
    path.write_text(json.dumps(body))
    return path


# --- statistics ---------------------------------------------------------------------------------


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`, in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank] * 1000


# --- 1. ingest -----------------------------------------------------------------------------------


def load(
    url: str, template: Path, env: Mapping[str, str], *, duration: float, warmup: float,
    rate: float | None = None, clients: int = CLIENTS, run: str = "load",
) -> dict[str, Any]:  # fmt: skip
    args = [sys.executable, "-m", "bench.service_load", "load", "--url", url,
            "--template", str(template), "--clients", str(clients), "--duration", str(duration),
            "--warmup", str(warmup), "--run", run]  # fmt: skip
    if rate is not None:
        args += ["--rate", f"{rate:.3f}"]
    done = subprocess.run(
        args, cwd=REPO, env=dict(env), capture_output=True, timeout=duration + warmup + 120
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{done.stderr.decode()[-3000:]}")
    figures: dict[str, Any] = json.loads(done.stdout)
    figures["rps"] = figures["ok"] / figures["elapsed"]
    return figures


def measure_ingest(
    duration: float = INGEST_SECONDS, warmup: float = WARMUP_SECONDS, *, open_loop: bool = True,
    receive_only: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """The figures per side: bare, ours, ours receive-only and ours open loop."""
    results: dict[str, Any] = {"duration": duration, "warmup": warmup}
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        folder = Path(tmp)
        dbs = Databases(folder)
        template = template_file(folder)
        manifest = offline_manifest(folder)
        lrs_env = {"LRS_USERNAME": "bench", "LRS_PASSWORD": "bench-password"}

        def side(name: str, args: list[str], path: Path | None, **kw: Any) -> None:
            env = base_env(database, manifest, **lrs_env)
            with child(args, env, folder / f"{name}.log") as server:
                cpu = server.cpu()
                figures = load(server.url, template, env, duration=duration, warmup=warmup,
                               run=name, **kw)  # fmt: skip
                figures["server_cpu"] = server.cpu() - cpu
                if path is not None:
                    figures["inbox_at_end"] = inbox_counts(path)
            if path is not None:
                figures["inbox"] = inbox_counts(path)
                figures["exit_code"] = server.exit_code
            results[name] = figures

        database, _ = dbs.fresh()
        side("bare", ["-m", "bench.service_load", "bare", "--threads", str(THREADS)], None)
        side("signed", ["-m", "bench.service_load", "signed", "--threads", str(THREADS)], None)
        side("floor", ["-m", "bench.service_load", "floor", "--threads", str(THREADS),
                       "--folder", str(folder)], None)  # fmt: skip
        database, path = dbs.fresh()
        side("ours", serve_args(), path)
        if receive_only:
            database, path = dbs.fresh()
            side("ours_receive_only", serve_args("--no-worker"), path)
        if open_loop:
            rate = results["ours"]["rps"] / 2
            results["open_rate"] = rate
            database, path = dbs.fresh()
            side("ours_open", serve_args(), path, rate=rate, clients=OPEN_CLIENTS)
    return results


# --- 2. end to end ---------------------------------------------------------------------------


def applied_id(person_id: str, ticket_key: str) -> str:
    """plugin.effects.statements: UUIDv5 of the award's natural key, ":applied"."""
    return statement_id(f"skillrelay:award:{person_id}:{SKILL}:{ticket_key}:applied")


def completions(manifest_file: Path, people: int, at: datetime) -> list[dict[str, Any]]:
    manifest = load_manifest(manifest_file)
    found = []
    for i in range(people):
        pid, name, email = person(i)
        statement = logstore_statement(manifest, Step(pid, MODULE, "complete", at))
        statement["actor"] = {"objectType": "Agent", "name": name, "mbox": f"mailto:{email}"}
        found.append(statement)
    return found


def wait_decided(path: Path, total: int, source: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(path, timeout=30) as conn:
            left, done = conn.execute(
                "SELECT sum(status = 'new'), sum(status != 'new') FROM inbox "
                "WHERE source = ? AND kind != 'delivery'",
                (source,),
            ).fetchone()
        conn.close()
        if not left and (done or 0) >= total:
            return
        time.sleep(0.1)
    raise RuntimeError(f"the pipeline did not decide {total} {source} event(s) in {timeout} s")


def outbox_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path, timeout=30) as conn:
        rows = conn.execute(
            "SELECT target || ':' || status, count(*) FROM outbox GROUP BY target, status"
        ).fetchall()
    conn.close()
    return {key: n for key, n in rows}


class Poller:
    """Finds the expected statements in Ralph: GET /statements?since=... (following `more`),
    `since` one second before the oldest delivery not yet seen (Ralph's fs backend filters
    `since` on the statement's `timestamp`, here the ticket's done time, which is when the
    delivery was sent; it ignores `verb`). One request a round finds every statement stored
    since, where a GET per id would cost Ralph a scan of its whole file per id and round."""

    def __init__(self, server: RalphServer, expected: dict[str, int], n: int) -> None:
        self.server = server
        self.expected = expected
        self.sent_at: list[float | None] = [None] * n
        self.done_ms: list[int | None] = [None] * n
        self.seen_at: list[float | None] = [None] * n
        self.sent_wall: list[float | None] = [None] * n  # time.time() when sent
        self.stored_at: list[float | None] = [None] * n  # the LRS's `stored`, epoch seconds
        self.rounds: list[tuple[float, float]] = []  # (when, seconds the round took)
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="poller", daemon=True)

    def _pending_since(self) -> int | None:
        pending = [
            ms
            for ms, sent, seen in zip(self.done_ms, self.sent_at, self.seen_at, strict=True)
            if ms is not None and sent is not None and seen is None
        ]
        return min(pending) if pending else None

    def _run(self) -> None:
        session = requests.Session()
        session.auth = self.server.auth
        session.headers["X-Experience-API-Version"] = "1.0.3"
        try:
            while not self.stop.is_set():
                oldest = self._pending_since()
                if oldest is None:
                    time.sleep(0.002)
                    continue
                since = datetime.fromtimestamp(oldest / 1000 - 1.0, tz=UTC)
                url: str | None = urljoin(self.server.endpoint, "statements")
                params: dict[str, str] | None = {
                    "since": since.isoformat().replace("+00:00", "Z"),
                    "ascending": "true",
                    "limit": "100",
                }
                began = time.monotonic()
                while url:
                    answer = session.get(url, params=params, timeout=30)
                    answer.raise_for_status()
                    body = answer.json()
                    now = time.monotonic()
                    for statement in body["statements"]:
                        i = self.expected.get(statement["id"])
                        if i is not None and self.seen_at[i] is None:
                            self.seen_at[i] = now
                            stored = datetime.fromisoformat(
                                statement["stored"].replace("Z", "+00:00")
                            )
                            self.stored_at[i] = stored.timestamp()
                    more = body.get("more")
                    url, params = (urljoin(self.server.root, more), None) if more else (None, None)
                self.rounds.append((began, time.monotonic() - began))
        except BaseException as exc:  # reported by the caller
            self.error = exc
        finally:
            session.close()


def measure_e2e(
    rate: float = E2E_RATE, duration: float = E2E_SECONDS, server: RalphServer | None = None,
    settle: float = 30.0,
) -> dict[str, Any]:  # fmt: skip
    """Deliveries paced at `rate` for `duration` s; the latency of each "performed" statement."""
    n = max(1, round(rate * duration))
    with tempfile.TemporaryDirectory(prefix="bench-service-e2e-") as tmp:
        folder = Path(tmp)
        own = server is None
        if server is None:
            server = start_ralph(folder / "ralph")
        else:
            server.clear()
            if not server.running:
                server.start()
        try:
            return _e2e(folder, server, rate, n, settle)
        finally:
            if own:
                server.stop()


def _e2e(folder: Path, server: RalphServer, rate: float, n: int, settle: float) -> dict[str, Any]:
    dbs = Databases(folder)
    database, path = dbs.fresh()
    manifest = write_manifest(
        folder, jira=f"http://127.0.0.1:{closed_port()}", lrs=server.endpoint, people=n
    )
    user, password = server.auth
    env = base_env(database, manifest, LRS_USERNAME=user, LRS_PASSWORD=password)
    deliveries = Deliveries(
        template_file(folder).read_text(), SECRETS["JIRA_WEBHOOK_SECRET"],
        project="PAY", first=200_000, run="e2e",
    )  # fmt: skip
    keys = [deliveries.key(i) for i in range(n)]
    expected = {applied_id(person(i)[0], keys[i]): i for i in range(n)}
    figures: dict[str, Any] = {"n": n, "rate": rate}
    with child(serve_args(), env, folder / "serve-e2e.log") as serve:
        # Every person completed a module of the skill yesterday (forwarded by the LRS).
        statements = completions(manifest, n, datetime.now(UTC) - timedelta(days=1))
        bearer = {"Authorization": f"Bearer {SECRETS['LRS_FORWARD_SECRET']}"}
        began = time.monotonic()
        for start in range(0, n, 200):
            answer = requests.post(
                f"{serve.url}/webhooks/xapi", json=statements[start : start + 200],
                headers=bearer, timeout=60,
            )  # fmt: skip
            answer.raise_for_status()
        wait_decided(path, n, "xapi", timeout=120)
        figures["preload_seconds"] = time.monotonic() - began
        probe = LrsClient(server.endpoint, auth=server.auth)
        figures["ralph_get_empty_ms"] = _timed_get(probe, applied_id("nobody", "PAY-0"))

        poller = Poller(server, expected, n)
        poller.thread.start()
        failures: list[str] = []
        lock = threading.Lock()
        t0 = time.monotonic() + 0.1
        next_index = iter(range(n))

        def send() -> None:
            with requests.Session() as session:
                for i in next_index:  # one shared iterator: each i once
                    wait = t0 + i / rate - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    _, name, email = person(i)
                    at_ms = int(time.time() * 1000)
                    body, headers = deliveries.request(
                        i, account=f"bench-account-{i}", name=name, email=email, at_ms=at_ms
                    )
                    poller.done_ms[i] = at_ms
                    sent = time.monotonic()
                    poller.sent_at[i] = sent
                    poller.sent_wall[i] = time.time()
                    answer = session.post(
                        f"{serve.url}/webhooks/jira", data=body, headers=headers, timeout=30
                    )
                    if answer.status_code != 200 or answer.json().get("status") != "stored":
                        with lock:
                            failures.append(f"{i}: {answer.status_code} {answer.text[:200]}")

        senders = [threading.Thread(target=send, daemon=True) for _ in range(4)]
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join()
        figures["send_seconds"] = time.monotonic() - t0
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline and poller.error is None:
            if all(seen is not None for seen in poller.seen_at):
                break
            time.sleep(0.05)
        poller.stop.set()
        poller.thread.join(30)
        if poller.error is not None:
            raise RuntimeError(f"polling Ralph failed: {poller.error!r}")
        figures["wall_seconds"] = time.monotonic() - t0
        figures["failures"] = failures
        # From sending the delivery to the LRS storing the statement (its `stored`, set by
        # Ralph on this machine's clock): what polling adds (up to a round) is left out.
        figures["latencies"] = [
            stored - sent
            for sent, stored in zip(poller.sent_wall, poller.stored_at, strict=True)
            if sent is not None and stored is not None
        ]
        figures["seen_latencies"] = [
            seen - sent
            for sent, seen in zip(poller.sent_at, poller.seen_at, strict=True)
            if sent is not None and seen is not None
        ]
        figures["arrived"] = len(figures["latencies"])
        figures["rounds"] = [took for _, took in poller.rounds]
        # Each statement read back on its own, by id.
        by_id: list[float] = []
        missing = 0
        for sid in expected:
            began = time.monotonic()
            if probe.get_statement(sid) is None:
                missing += 1
            by_id.append(time.monotonic() - began)
        figures["by_id_missing"] = missing
        figures["by_id"] = by_id
        figures["outbox"] = outbox_counts(path)
        figures["lrs_lines"] = server.statements_file.read_bytes().count(b"\n")
    figures["exit_code"] = serve.exit_code
    return figures


def _timed_get(client: LrsClient, sid: str) -> float:
    began = time.monotonic()
    client.get_statement(sid)
    return (time.monotonic() - began) * 1000


# --- report ----------------------------------------------------------------------------------


def report(ingest: dict[str, Any], e2e: dict[str, Any]) -> str:
    lines = [
        f'**1. Ingest.** Distinct signed Jira Cloud deliveries (one "issue moved to Done" '
        f"each, {FIXTURE.stat().st_size:,}-byte fixture shape, HMAC-SHA256 `X-Hub-Signature` "
        f"and a delivery identifier) from a load generator in its own process "
        f"(`bench/service_load.py`, {CLIENTS} keep-alive connections, closed loop, "
        f"{ingest['warmup']:g} s warm-up, then {ingest['duration']:g} s). Every server is "
        f"waitress with {THREADS} request threads (the same `HttpServer` class); `serve` "
        "runs with SQLite in a temp dir and its pipeline and outbox threads, sync off "
        "(`--no-sync`). The delivered people are unknown to the manifest, so the pipeline "
        "decides each event and queues no effect.",
        "",
        "| Side | Requests/s | Stored | Errors | p50 ms | p99 ms | Server CPU ms/request |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    names = {
        "bare": "bare Flask view (reads the body, 200)",
        "signed": "signed: + HMAC check and JSON decode (stores nothing)",
        "floor": "floor: + the body stored under its delivery id, SQLite, group commit",
        "ours": "`skillrelay serve` (workers on)",
        "ours_receive_only": "`skillrelay serve --no-worker` (receive only)",
    }
    for key, label in names.items():
        side = ingest.get(key)
        if side is None:
            continue
        total = side["ok"] + side["errors"] + side["warmup_sent"]
        lines.append(
            f"| {label} | {side['rps']:,.0f} | {side['ok']:,} | {side['errors']} | "
            f"{pct(side['service'], 50):.1f} | {pct(side['service'], 99):.1f} | "
            f"{side['server_cpu'] * 1000 / max(1, total):.2f} |"
        )
    bare, ours = ingest["bare"], ingest["ours"]
    ratio = ours["rps"] / bare["rps"]
    verdict = "met" if ratio >= 0.8 else "**missed**"
    lines += [
        "",
        f"**Ratio (ours / bare), requests/s: {ratio:.2f}×** (target ≥ 0.8: {verdict}).",
    ]
    if "ours_receive_only" in ingest:
        lines[-1] += f" Receive only: {ingest['ours_receive_only']['rps'] / bare['rps']:.2f}× bare."
    if "signed" in ingest:
        lines[-1] += (
            f" Checking the signature and decoding the JSON alone (signed) reaches "
            f"{ingest['signed']['rps'] / bare['rps']:.2f}× bare."
        )
    if "floor" in ingest:
        floor = ingest["floor"]["rps"]
        lines[-1] += (
            f" The floor (the least a durable, authenticated receiver does) reaches "
            f"{floor / bare['rps']:.2f}× bare; ours is {ratio * bare['rps'] / floor:.2f}× the "
            "floor"
        )
        if "ours_receive_only" in ingest:
            lines[-1] += f" ({ingest['ours_receive_only']['rps'] / floor:.2f}× receive only)"
        lines[-1] += "."
    if "ours_open" in ingest:
        side = ingest["ours_open"]
        lines += [
            "",
            f"Open loop at half ours' maximum ({ingest['open_rate']:.0f} requests/s for "
            f"{ingest['duration']:g} s, {OPEN_CLIENTS} sender threads, latency from when "
            f"each request was due): **p50 {pct(side['latencies'], 50):.1f} ms, p99 "
            f"{pct(side['latencies'], 99):.1f} ms** (max {pct(side['latencies'], 100):.1f} "
            f"ms); {side['ok']:,} stored, {side['errors']} errors; latest start "
            f"{side['late_max'] * 1000:.1f} ms behind schedule.",
        ]
    lat = e2e["latencies"]
    rounds = e2e["rounds"]
    seen = e2e.get("seen_latencies", [])
    lines += [
        "",
        f'**2. End to end,** Jira delivery → "performed" statement stored in a real '
        f"Ralph LRS (ralph-malph 5.1.0, fs backend): {e2e['n']:,} deliveries paced at "
        f"{e2e['rate']:g}/s ({e2e['send_seconds']:.1f} s), each completing a ticket labelled "
        f"`{LABEL}` for a different person who completed `{MODULE}` a day earlier (preloaded "
        f"as forwarded statements, POST /webhooks/xapi, decided before the clock starts: "
        f"{e2e['preload_seconds']:.1f} s). Same `serve` set-up (4 threads, SQLite, workers on, "
        f"default `--poll 2`: the webhook wakes the pipeline, the pipeline the outbox); the "
        f"Jira effects are a logged dry run (`--jira-dry-run`). Latency is from sending the "
        f"delivery to the `stored` time Ralph gives the statement (same machine, same clock).",
        "",
        "| Arrived | p50 ms | p95 ms | p99 ms | max ms | Rejected deliveries |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {e2e['arrived']:,} / {e2e['n']:,} | {pct(lat, 50):.0f} | {pct(lat, 95):.0f} | "
        f"{pct(lat, 99):.0f} | {pct(lat, 100):.0f} | {len(e2e['failures'])} |",
        "",
        f"p95 target < 500 ms: {'met' if pct(lat, 95) < 500 else '**missed**'}. Outbox at "
        f"the end: {_counts(e2e['outbox'])}. Every id read back by `GET ?statementId=`: "
        f"{len(e2e['by_id']) - e2e['by_id_missing']:,} found, {e2e['by_id_missing']} missing.",
    ]
    lines += ["", "Notes:", ""]
    open_side = ingest.get("ours_open", {})
    receive = ingest.get("ours_receive_only", {})
    inbox = ours.get("inbox_at_end", {})
    lines += [
        f"- Every acknowledged delivery is in the inbox: ours {_counts(ours['inbox'])} "
        f"(= {ours['ok'] + ours['warmup_ok']:,} stored answers incl. warm-up); when the "
        f"load stopped the pipeline had decided {inbox.get('processed', 0):,} of "
        f"{sum(inbox.values()):,}. Receive-only: {_counts(receive.get('inbox', {}))}; "
        f"open loop: {_counts(open_side.get('inbox', {}))}.",
        f"- Where ours' time goes: server CPU per request is {_cpu(ours)} ms (receive only "
        f"{_cpu(receive) if receive else '–'} ms) against {_cpu(bare)} ms bare and "
        f"{_cpu(ingest['floor']) if 'floor' in ingest else '–'} ms for the floor. The "
        "request path verifies the HMAC, decodes the JSON, parses and validates the delivery "
        "into its event (pydantic), and stores the event (a delivery without one: a marker "
        "row for its id); concurrent "
        "requests are committed together (one transaction a group, `plugin/store/"
        "group_commit.py`), written by one multi-row insert on a driver connection of their "
        "own (`plugin/store/intake.py`). SQLite has one writer: the request groups, the "
        "pipeline's claims and decisions and the outbox's updates take turns. The GIL "
        "serialises the Python work of all threads: the server uses at most one core, shared "
        "with the pipeline.",
        *_ladder(ingest),
        f"- The load generator shares this {os.cpu_count()}-core machine: its CPU time was "
        f"{bare['client_cpu']:.1f} s (bare) and {ours['client_cpu']:.1f} s (ours) over "
        f"{ingest['duration']:g} s, so the bare figure is partly bounded by the client.",
        f"- Ralph's fs backend reads its whole file on every request: a GET took "
        f"{e2e['ralph_get_empty_ms']:.0f} ms on the empty file and a median "
        f"{pct(e2e['by_id'], 50):.0f} ms (p99 {pct(e2e['by_id'], 99):.0f} ms) per id at the "
        f"end ({e2e['lrs_lines']:,} statements: performed and earned). The xAPI POSTs check "
        "ids against the file the same way, so the outbox's writes slow as the file grows.",
        f"- Detection: {len(rounds):,} polling rounds (`GET /statements?since=` one second "
        f"before the oldest unseen delivery's time, matched by id), median "
        f"{pct(rounds, 50):.0f} ms, p99 {pct(rounds, 99):.0f} ms a round. Counted when the "
        f"first round that returns it answers (stored, then found by a poll), the p50/p95 "
        f"would be {pct(seen, 50):.0f}/{pct(seen, 95):.0f} ms: the rounds add up to one "
        "round to each figure. Polling each id instead would cost Ralph a full scan per id "
        "per round.",
        f"- Shutdown after each run: exit codes {ours['exit_code']} (ingest), "
        f"{e2e['exit_code']} (end to end).",
    ]
    return "\n".join(lines) + "\n"


def _ladder(ingest: Mapping[str, Any]) -> list[str]:
    """What each step every durable, authenticated receiver must take costs here, from the
    reference apps: the reason the 0.8 target is out of reach on this server."""
    if not {"bare", "signed", "floor"} <= ingest.keys():
        return []
    bare, signed, floor = (ingest[k] for k in ("bare", "signed", "floor"))
    return [
        f"- What the required work costs on this server, measured in this run: checking the "
        f"signature and decoding the JSON take server CPU from {_cpu(bare)} to {_cpu(signed)} "
        f"ms a request ({signed['rps'] / bare['rps']:.2f}× bare's requests/s), and storing "
        f"the body durably with group commit takes it to {_cpu(floor)} ms "
        f"({floor['rps'] / bare['rps']:.2f}×). The floor does nothing else (no parsing, no "
        "duplicate check beyond its key, no metrics, no answer body), so no receiver that "
        "must authenticate, decode and durably store before answering reaches 0.8× a bare "
        "view on this Python/waitress/SQLite stack; a faster server would lower the ratio "
        "further, as the fixed work would weigh more against a cheaper bare request.",
    ]


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "none"


def _cpu(side: Mapping[str, Any]) -> str:
    total = side["ok"] + side["errors"] + side["warmup_sent"]
    return f"{side['server_cpu'] * 1000 / max(1, total):.2f}"


def run(scale: float) -> str:
    ingest = measure_ingest(
        max(0.5, INGEST_SECONDS * scale), min(WARMUP_SECONDS, max(0.2, WARMUP_SECONDS * scale))
    )
    e2e = measure_e2e(E2E_RATE, max(1.0, E2E_SECONDS * scale))
    return report(ingest, e2e)


if __name__ == "__main__":
    print(run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0))
