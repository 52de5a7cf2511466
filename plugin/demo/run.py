"""The demo, step by step: manifest, database, a real local LRS, sync, and what was seen."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from connectors.local_lrs import RalphMissing, RalphServer, start_ralph
from connectors.xapi import LrsClient, XapiSource
from plugin.demo.statements import logstore_statement
from plugin.demo.story import LEARNING
from plugin.events_view import EventViewer, render
from plugin.manifest import Manifest, load_manifest
from plugin.runtime import xapi_modules
from plugin.settings import EXAMPLE_MANIFEST
from plugin.store import Store
from plugin.store.migrate import upgrade
from plugin.sync import SourceSummary, sync_source


def say(step: str, text: str) -> None:
    lines = text.splitlines() or [""]
    print(f"{step:<10} {lines[0]}")
    for line in lines[1:]:
        print(f"{'':<10} {line}")


def summary(s: SourceSummary) -> str:
    errors = f", {len(s.errors)} unreadable" if s.errors else ""
    stopped = f" — stopped: {s.stopped}" if s.stopped else ""
    return (
        f"{s.source}: fetched {s.fetched}, new {s.new}, duplicates {s.duplicates}{errors}{stopped}"
    )


def describe_sources(manifest: Manifest) -> str:
    lines = []
    if manifest.jira:
        j = manifest.jira
        lines.append(f"jira    {j.deployment} {j.base_url} (projects {', '.join(j.projects)})")
    if manifest.moodle:
        lines.append(f"moodle  {manifest.moodle.url}")
    if manifest.xapi:
        lines.append(f"lrs     {manifest.xapi.endpoint} (xAPI {manifest.xapi.xapi_version})")
    lines.append("none of these is reachable offline: the demo uses a local LRS instead")
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
        return 1
    try:
        return _with_lrs(manifest, url, server)
    finally:
        server.stop()
        shutil.rmtree(lrs_dir, ignore_errors=True)


def _with_lrs(manifest: Manifest, url: str, server: RalphServer) -> int:
    say("lrs", f"a real Ralph LRS is running at {server.endpoint}")
    client = LrsClient(server.endpoint, auth=server.auth)
    statements = [logstore_statement(manifest, step) for step in LEARNING]
    client.send_statements(statements)
    say(
        "moodle",
        f"{len(statements)} completion statements written to the LRS, shaped as "
        "Moodle's Logstore xAPI plugin sends them",
    )
    source = XapiSource(client, xapi_modules(manifest))
    now = datetime.now(UTC)
    with Store.open(url) as store:
        first = sync_source(source, store, now)
        again = sync_source(source, store, now)
        say("sync", f"{summary(first)}\nagain:  {summary(again)} (the overlap is absorbed)")
        items = store.inbox.list(limit=1000)
    viewer = EventViewer(manifest)
    print()
    print(render([viewer.row(item) for item in reversed(items)]))
    print()
    return 0 if first.ok and again.ok else 1
