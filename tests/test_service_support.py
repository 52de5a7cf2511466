"""What the service process tests share: launching `skillrelay serve|worker` as a child
process, reading its log, a manifest pointing at local peers, and a fake Jira (no tests here).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import requests

from connectors.delivery import refs_in
from connectors.jira_adf import to_plain_text
from plugin.demo.statements import Step, logstore_statement
from plugin.manifest import load_manifest
from plugin.settings import EXAMPLE_MANIFEST
from plugin.store import Store
from webhooks.signature import sign

REPO = Path(__file__).resolve().parent.parent
WEBHOOKS = REPO / "tests" / "fixtures" / "webhooks"
EXAMPLE = load_manifest(EXAMPLE_MANIFEST)
# Runs the real `skillrelay` entry point; registers the service commands if cli.py does not
# list them yet.
LAUNCH = (
    "import sys\n"
    "from plugin import cli\n"
    "for name in ('serve', 'worker'):\n"
    "    if name not in cli.COMMAND_MODULES:\n"
    "        cli.COMMAND_MODULES.append(name)\n"
    "sys.exit(cli.main(sys.argv[1:]))\n"
)
JIRA_SECRETS = {
    "JIRA_WEBHOOK_SECRET": "service-test-webhook-secret",
    "JIRA_AUTOMATION_SECRET": "service-test-automation-secret",
}
FORWARD_SECRET = "service-test-forward-secret"
BEN = "712020:4f6c1e2a-9b1d-4c3e-8a7f-2d5e6b8c9a01"  # Jira accounts in the example manifest
GEORGE = "712020:0b7d3c55-61e2-4a8f-9f1c-77a2e4d0c3b9"


def manifest_file(folder: Path, *, jira: str, lrs: str, min_in_progress: int = 30) -> Path:
    """The example manifest without Moodle (source and channel), its Jira at `jira`, its LRS
    at `lrs`."""
    text = EXAMPLE_MANIFEST.read_text()
    start = text.index("  - id: moodle\n")
    end = text.index("  - id: lrs\n")
    text = text[:start] + text[end:]
    moodle_channel = "    - type: moodle_message"
    start = text.index(moodle_channel)
    text = text[:start] + text[text.index("    - type:", start + len(moodle_channel)) :]
    for old, new in (
        ("base_url: https://northwind.atlassian.net", f"base_url: {jira}"),
        ("endpoint: https://lrs.northwind.example/xAPI", f"endpoint: {lrs.rstrip('/')}"),
        ("min_in_progress_minutes: 30", f"min_in_progress_minutes: {min_in_progress}"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    path = folder / "manifest.yaml"
    path.write_text(text)
    return path


def jira_done(
    issue: str, account: str, name: str, label: str, at: datetime, email: str | None = None
) -> bytes:
    """A Jira Cloud webhook: `issue`, assigned to `account`, labelled, moved to Done at `at`."""
    body = json.loads((WEBHOOKS / "cloud_issue_updated_status_done.json").read_text())
    fields = body["issue"]["fields"]
    for user in (body["user"], fields["assignee"], fields["reporter"]):
        user.update(accountId=account, displayName=name)
        if email:
            user["emailAddress"] = email
    project = issue.split("-")[0]
    body["issue"].update(key=issue, id=str(zlib.crc32(issue.encode()) % 10**6))
    fields["project"].update(key=project, name=project)
    fields.update(labels=[label], components=[], customfield_10050=None)
    body["timestamp"] = int(at.timestamp() * 1000)
    return json.dumps(body).encode()


def completion(person: str, module: str, at: datetime) -> dict[str, Any]:
    """A Logstore-shaped completion statement naming the learner by email (no Moodle here)."""
    found = EXAMPLE.people_by_id[person]
    statement = logstore_statement(EXAMPLE, Step(person, module, "complete", at))
    statement["actor"] = {
        "objectType": "Agent",
        "name": found.name,
        "mbox": f"mailto:{found.email}",
    }
    return statement


def child_env(database: str, manifest: Path, **secrets: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKILLRELAY_", "JIRA_"))}
    env.pop("LRS_USERNAME", None)
    env.pop("LRS_PASSWORD", None)
    env.update(SKILLRELAY_DATABASE_URL=database, SKILLRELAY_MANIFEST=str(manifest))
    env.update(secrets)
    return env


@dataclass
class Child:
    """A `skillrelay` child process; its stderr (the log) goes to a file we can read."""

    process: subprocess.Popen[bytes]
    log_file: Path

    @property
    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.log)
            if found:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in the log (exit {self.process.poll()}):\n{self.log}")

    def terminate(self, timeout: float = 15.0) -> tuple[int, float]:
        """SIGTERM; the exit code and how long the exit took."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def wait_until(check: Callable[[], bool], seconds: float) -> float:
    """How long `check` took to hold; fails the test after `seconds`."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, "not within the time allowed"
        time.sleep(0.02)
    return time.monotonic() - started


def post_done(url: str, key: str, at: datetime) -> None:
    """Ben's ticket `key`, labelled feature-flags, moved to Done at `at`: delivered to the
    `serve` at `url` as Jira Cloud would, and stored."""
    ben = EXAMPLE.people_by_id["ben.carter"]
    body = jira_done(key, BEN, ben.name, "skill-feature-flags", at, ben.email)
    headers = {
        "X-Hub-Signature": sign(JIRA_SECRETS["JIRA_WEBHOOK_SECRET"], body),
        "Content-Type": "application/json",
    }
    answer = requests.post(f"{url}/webhooks/jira", data=body, headers=headers, timeout=10)
    assert answer.status_code == 200 and answer.json()["status"] == "stored", answer.text


def decided(store: Store, count: int) -> Callable[[], bool]:
    """Whether `count` Jira deliveries are in the inbox, all decided."""

    def check() -> bool:
        items = store.inbox.list(source="jira")
        return len(items) == count and all(i.status == "processed" for i in items)

    return check


def receiver_then_worker_decide(tmp_path: Path, database: str, woken: str, at: datetime) -> None:
    """`serve --no-worker` receives, `worker --poll 60` decides, on one `database` (migrated):
    a delivery is decided within 5 s, so the worker was woken (its log said `woken` at
    start), not left to its next look a minute later."""
    manifest = manifest_file(tmp_path, jira="http://127.0.0.1:9", lrs="http://127.0.0.1:9/xAPI")
    env = child_env(database, manifest, **JIRA_SECRETS, LRS_FORWARD_SECRET=FORWARD_SECRET)
    receiver_args = ["serve", "--no-worker", "--no-sync", "--port", "0", "--jira-dry-run"]
    worker_args = ["worker", "--poll", "60", "--pipeline-only", "--id", "decider", "--jira-dry-run"]
    with (
        launched(receiver_args, env, tmp_path / "serve.log") as receiver,
        launched(worker_args, env, tmp_path / "worker.log") as worker,
        Store.open(database) as store,
    ):
        url = receiver.wait_for(r"http: listening on (http://\S+)").group(1)
        worker.wait_for(woken)
        worker.wait_for(r"pipeline: worker decider, batches of")
        time.sleep(0.5)  # the worker's first run (at its start) is over: it waits a minute
        post_done(url, "PAY-7", at)
        assert wait_until(decided(store, 1), 10) < 5.0, worker.log
        # The worker logs its decision just after committing it: read the log until it has.
        worker.wait_for(r"1 event\(s\) decided", timeout=5)
        assert worker.terminate()[0] == 0
        assert receiver.terminate()[0] == 0


@contextmanager
def launched(args: list[str], env: Mapping[str, str], log_file: Path) -> Iterator[Child]:
    """Run `skillrelay *args`; killed in the end whatever happened."""
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, "--log-level", "INFO", *args],
            cwd=REPO,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    child = Child(process, log_file)
    try:
        yield child
    finally:
        child.kill()


def run_once(args: list[str], env: Mapping[str, str], timeout: float = 30.0) -> str:
    """`skillrelay *args` to the end; its output (the test fails on a non-zero exit)."""
    done = subprocess.run(
        [sys.executable, "-c", LAUNCH, "--log-level", "INFO", *args],
        cwd=REPO,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


# --- a fake Jira Cloud: the endpoints JiraSender uses -----------------------------------


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


@dataclass
class JiraState:
    properties: dict[tuple[str, str], Any] = field(default_factory=dict)
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    labels: dict[str, set[str]] = field(default_factory=dict)
    refs: Counter[str] = field(default_factory=Counter)  # comments posted per ref key
    faults: list[Fault] = field(default_factory=list)  # answered to the next requests
    comment_delay: float = 0.0  # seconds a comment POST takes (the comment exists at once)
    posting: threading.Event = field(default_factory=threading.Event)  # a comment POST came
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


ISSUE = re.compile(r"^/rest/api/3/issue/([^/]+)(/.*)?$")


class JiraHandler(BaseHTTPRequestHandler):
    server: FakeJira

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any = None, headers: Mapping[str, str] = {}) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        size = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(size)) if size else None

    def _route(self, method: str) -> None:
        state = self.server.state
        body = self._body()
        path = urlsplit(self.path).path
        match = ISSUE.match(path)
        with state.lock:
            state.requests += 1
            if state.faults:
                fault = state.faults[0]
                fault.times -= 1
                if fault.times <= 0:
                    state.faults.pop(0)
                self._answer(fault.status, {"errorMessages": ["injected"]}, fault.headers)
                return
        if match is None:
            self._answer(404, {"errorMessages": ["no such resource"]})
            return
        issue, rest = unquote(match.group(1)), match.group(2) or ""
        if rest.startswith("/properties/"):
            self._property(method, issue, unquote(rest.removeprefix("/properties/")), body)
        elif rest == "/comment":
            self._comment(method, issue, body)
        elif rest == "" and method == "PUT":
            with state.lock:
                for op in (body or {}).get("update", {}).get("labels", []):
                    labels = state.labels.setdefault(issue, set())
                    if "add" in op:
                        labels.add(op["add"])
                    else:  # a revoked award's label comes off (a no-op when absent)
                        labels.discard(op["remove"])
            self._answer(204)
        else:
            self._answer(405, {"errorMessages": ["method not allowed"]})

    def _property(self, method: str, issue: str, key: str, body: Any) -> None:
        state = self.server.state
        with state.lock:
            if method == "PUT":
                created = (issue, key) not in state.properties
                state.properties[(issue, key)] = body
                self._answer(201 if created else 200)
            elif (issue, key) in state.properties:
                self._answer(200, {"key": key, "value": state.properties[(issue, key)]})
            else:
                self._answer(404, {"errorMessages": ["The property was not found."]})

    def _comment(self, method: str, issue: str, body: Any) -> None:
        state = self.server.state
        if method == "GET":
            with state.lock:
                found = list(state.comments.get(issue, []))
            page = {"startAt": 0, "maxResults": 100, "total": len(found), "comments": found}
            self._answer(200, page)
            return
        with state.lock:  # the comment exists as soon as Jira has the request
            comments = state.comments.setdefault(issue, [])
            comment = {"id": str(10000 + sum(map(len, state.comments.values()))), **body}
            comments.append(comment)
            state.refs.update(refs_in(to_plain_text(body["body"])))
        state.posting.set()
        time.sleep(state.comment_delay)  # ...but its answer is slow to come back
        self._answer(201, comment)

    def do_GET(self) -> None:
        self._route("GET")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_POST(self) -> None:
        self._route("POST")


class FakeJira(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), JiraHandler)
        self.state = JiraState()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client killed mid-request (the point of some tests) is not an error here

    def __enter__(self) -> FakeJira:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
