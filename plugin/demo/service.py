"""The service part of the demo: `skillrelay serve`'s composition, run in this process.

Webhooks on 127.0.0.1 (a free port), the pipeline, the outbox (the LRS for real, Jira as a
dry run) and the sync of the local LRS, in their own threads; stopped as `serve` stops.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from plugin.demo.backlog import offline_suggest
from plugin.manifest import Manifest, load_manifest
from plugin.service import compose
from plugin.service.run import Service

WEBHOOK_SECRET = "demo-webhook-secret"  # noqa: S105 - a demo value, never a real secret
SERVICE_LOG = "skillrelay.service"
DRY_RUN = "jira dry run, not written: "
PLANNER = "notify"  # the planner's loop: ticked by the demo at fixed points of its story


RUSSIAN = ("elena.petrova", "farah.haddad")  # read their messages in Russian


def demo_manifest(
    source: Path, manifest: Manifest, lrs_endpoint: str, folder: Path, smtp_port: int | None = None
) -> Path:
    """The manifest the demo's service runs on: its LRS is the local one, and Moodle (not
    reachable offline) is left out; each learner keeps the Logstore xAPI account Moodle
    names them by, so their completions in the LRS still resolve to them. Messages that no
    Jira mention carries go by e-mail to the demo's local SMTP sink."""
    yaml = YAML()
    data: Any = yaml.load(source.read_text())
    sources = data["sources"]
    for gone in [s for s in sources if s.get("type") == "moodle"]:
        sources.remove(gone)
    for found in data["sources"]:
        if found.get("type") == "xapi":
            found["endpoint"] = lrs_endpoint.rstrip("/")
    channels = data.get("notifications", {}).get("channels", [])
    for gone in [c for c in channels if c.get("type") == "moodle_message"]:
        channels.remove(gone)
    if smtp_port is not None:
        smtp = {"host": "127.0.0.1", "port": smtp_port, "security": "none"}
        channels.append({"type": "email", "smtp": {**smtp, "from": "skillrelay@northwind.example"}})
        data["notifications"]["budget"] = {"per_person_per_day": 3, "per_person_per_week": 6}
        for person in data["identities"]["people"]:
            if person["id"] in RUSSIAN:
                person["locale"] = "ru"
        # A sprint that starts tomorrow, so its participants get their invitation today.
        tomorrow = datetime.now(manifest.organisation.zone).date() + timedelta(days=1)
        teams = [t.id for t in manifest.teams][:1]
        data.setdefault("sprints", []).append(
            {
                "id": "demo-next",
                "start": tomorrow,
                "participants": teams,
                "focus_skills": ["sql-indexing", "feature-flags"],
            }
        )
    if manifest.moodle is not None:
        home = str(manifest.moodle.url).rstrip("/")
        for person in data["identities"]["people"]:
            user = person.get("moodle_user_id")
            if user is not None and not ({"xapi_mbox", "xapi_account"} & person.keys()):
                person["xapi_account"] = {"home_page": home, "name": str(user)}
    path = folder / "manifest.yaml"
    with path.open("w") as out:
        yaml.dump(data, out)
    return path


def service_env(manifest: Manifest, lrs_auth: tuple[str, str]) -> dict[str, str]:
    """This process's environment with the demo's secrets, and no Jira API token: Jira
    writes are a dry run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKILLRELAY_", "JIRA_"))}
    if manifest.jira is not None:
        env.pop(manifest.jira.auth.token_env, None)
        env[manifest.jira.webhook_secret_env] = WEBHOOK_SECRET
        if manifest.jira.automation_secret_env:
            env[manifest.jira.automation_secret_env] = "demo-automation-secret"
    xapi = manifest.xapi
    if xapi is not None:
        if xapi.forward_secret_env:
            env[xapi.forward_secret_env] = "demo-forward-secret"
        username_env = getattr(xapi.auth, "username_env", None)
        password_env = getattr(xapi.auth, "password_env", None)
        if username_env and password_env:
            env[username_env], env[password_env] = lrs_auth
    return env


class Captured(logging.Handler):
    """The service's log lines: the Jira dry-run renderings are kept for the report, warnings
    and errors go to stderr as they happen."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.dry_run: list[str] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        self.lines.append(text)
        if text.startswith(DRY_RUN):
            self.dry_run.append(text[len(DRY_RUN) :])
        if record.levelno >= logging.WARNING:
            print(f"service: {text}", file=sys.stderr)


@contextmanager
def captured() -> Iterator[Captured]:
    logger = logging.getLogger(SERVICE_LOG)
    handler = Captured()
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def start(manifest_file: Path, database: str, env: Mapping[str, str]) -> Service:
    """`serve --port 0 --poll 0.2 --id demo --jira-dry-run`, started in this process (no
    signal handlers: the demo stops it with `shutdown()`); "apply it now" searches the demo's
    offline backlog instead of Jira. The planner is not started: see `plan`."""
    manifest = load_manifest(manifest_file)
    settings = compose.Settings(
        manifest_file,
        database,
        "demo",
        poll=0.2,
        grace=5.0,
        jira_dry_run=True,
        offline_suggest=offline_suggest(manifest),
    )
    service = compose.serve(
        settings, compose.Http(port=0, threads=4), compose.Workers(), 300.0, env
    )
    for loop in service.loops:
        if loop.name != PLANNER:
            loop.start()
    if service.http is not None:
        service.http.start()
    return service


def plan(service: Service) -> None:
    """One planning tick of the notification planner, now. The demo's planner does not run
    on its clock: ticks that fell between the story's steps made the messages depend on the
    machine's speed (a busy machine planned a check-in after an award took its place)."""
    for loop in service.loops:
        if loop.name == PLANNER:
            loop.step()


def wait(until: Callable[[], bool], timeout: float, poll: float = 0.1) -> bool:
    """Poll `until` for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if until():
            return True
        time.sleep(poll)
    return until()
