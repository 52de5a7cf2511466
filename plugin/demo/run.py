"""The demo, step by step: manifest, database, a real local LRS, sync, and what was seen."""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.local_lrs import RalphMissing, RalphServer, start_ralph
from connectors.xapi import LrsClient
from plugin.demo import service as demo_service
from plugin.demo.messages import SmtpSink, summary
from plugin.demo.report import LoopReport, idle, run_loop
from plugin.demo.say import say
from plugin.demo.statements import Step, logstore_statement
from plugin.demo.story import LEARNING
from plugin.manifest import Manifest, load_manifest
from plugin.settings import EXAMPLE_MANIFEST
from plugin.store import Store
from plugin.store.migrate import upgrade


def describe_sources(manifest: Manifest) -> str:
    lines = []
    if manifest.jira:
        j = manifest.jira
        lines.append(f"jira    {j.deployment} {j.base_url} (projects {', '.join(j.projects)})")
    if manifest.moodle:
        lines.append(f"moodle  {manifest.moodle.url}")
    if manifest.xapi:
        lines.append(f"lrs     {manifest.xapi.endpoint} (xAPI {manifest.xapi.xapi_version})")
    lines.append(
        "none of these is reachable offline: the demo uses a local LRS instead, leaves Moodle "
        "out\n(learners keep their Logstore accounts), shows Jira writes as a dry run and answers "
        '"apply it now" searches from a small offline backlog (plugin/demo/backlog.py)'
    )
    return "\n".join(lines)


def run_demo(workdir: Path, manifest_file: Path = EXAMPLE_MANIFEST) -> int:
    manifest = load_manifest(manifest_file)
    print(f"skillrelay demo — {manifest.organisation.name}\n")
    say(
        "manifest",
        f"{manifest_file.name}: {len(manifest.skills)} skills, "
        f"{sum(len(s.modules) for s in manifest.skills)} modules, {len(manifest.rewards)} "
        f"rewards, {len(manifest.teams)} teams, {len(manifest.sprints)} sprints",
    )
    if manifest.jira is None or manifest.xapi is None:
        say("manifest", "the demo needs a Jira source and an LRS source (xapi)")
        return 1
    workdir.mkdir(parents=True, exist_ok=True)
    db_file = workdir / "skillrelay.db"
    for stale in workdir.glob("skillrelay.db*"):
        stale.unlink()
    url = f"sqlite:///{db_file}"
    upgrade(url)
    say("database", f"{url} created at the latest schema")
    say("sources", describe_sources(manifest))
    lrs_dir = Path(tempfile.mkdtemp(prefix="skillrelay-demo-lrs-"))
    try:
        server = start_ralph(lrs_dir, username="demo", password="demo-password")  # noqa: S106
    except RalphMissing as exc:
        say("lrs", f"skipped: {exc}")
        shutil.rmtree(lrs_dir, ignore_errors=True)
        return 1
    try:
        return _with_lrs(manifest, manifest_file, workdir, url, server)
    finally:
        server.stop()
        shutil.rmtree(lrs_dir, ignore_errors=True)
        say("stopped", "the service and the local LRS")


def _with_lrs(
    manifest: Manifest, manifest_file: Path, workdir: Path, url: str, server: RalphServer
) -> int:
    say("lrs", f"a real Ralph LRS is running at {server.endpoint}")
    client = LrsClient(server.endpoint, auth=server.auth)
    statements = [logstore_statement(manifest, step) for step in [*LEARNING, *started_lately()]]
    client.send_statements(statements)
    say(
        "moodle",
        f"{len(statements)} completion statements written to the LRS, shaped as "
        "Moodle's Logstore xAPI plugin sends them",
    )
    sink = SmtpSink()
    sink.start()
    try:
        served = demo_service.demo_manifest(
            manifest_file, manifest, server.endpoint, workdir, smtp_port=sink.port
        )
        env = demo_service.service_env(manifest, server.auth)
        with demo_service.captured() as log:
            service = demo_service.start(served, url, env)
            try:
                report: LoopReport = run_loop(
                    load_manifest(served), url, service, client, log, len(statements)
                )
                demo_service.plan(service)
                _messages(url, sink, report)
            finally:
                service.shutdown()
    finally:
        sink.stop()
    return 0 if report.ok else 1


def started_lately() -> list[Step]:
    """Two modules opened a few days ago and left: the planner's kind reminders pick them up
    (one reads hers in Russian)."""
    now = datetime.now(UTC)
    return [
        Step("kofi.asante", "flags-progressive-rollout", "view", now - timedelta(days=4)),
        Step("farah.haddad", "sql-query-plans", "view", now - timedelta(days=5)),
    ]


def _messages(url: str, sink: SmtpSink, report: LoopReport) -> None:
    """Wait for the outbox to send what the planner's last tick planned, then show what
    people got."""
    with Store.open(url) as store:
        seen: list[tuple[int, int]] = []

        def settled() -> bool:
            # Settled once two looks a second apart agree, every e-mail sent has arrived
            # and the outbox is empty.
            notices = store.notices.list(limit=10_000)
            sent = sum(1 for n in notices if n.status == "sent" and n.channel == "email")
            seen.append((len(notices), sent))
            time.sleep(1.0)
            stable = len(seen) > 1 and seen[-1] == seen[-2]
            return stable and bool(notices) and len(sink.caught) >= sent and idle(store)

        if not demo_service.wait(settled, 30):
            report.fail("messages: the e-mails were not all delivered in time")
        say("messages", summary(store, sink))
