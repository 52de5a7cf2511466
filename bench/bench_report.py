"""The full report over 100,000 people and about 2,000,000 events, time and peak memory.

The organisation (bench/report_org.py) is stored once in a SQLite file, then each round runs,
in fresh child processes so each peak RSS is its own: the reference (read every payload of
the inbox and do nothing with it: the floor any report over the inbox pays), the report as
JSON, and the report as HTML with its plots. Rounds are interleaved; min/median/max shown.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report_org import Org, fill, manifest, manifest_data
from plugin.store import Store, migrate

ROUNDS = 3
CHILD = """
import sys
from plugin.store import Store
with Store.open(sys.argv[1]) as store:
    n = sum(1 for _ in store.inbox.payloads(("completion", "ticket")))
print(n)
"""
# The report as `skillrelay report` makes it, with the manifest read from JSON: parsing a
# 100,000-person YAML manifest is the manifest loader's cost (see the README), not the report's.
REPORT = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from plugin.commands.report import render
from plugin.manifest import Manifest
from plugin.report.facts import read_activity
from plugin.report.measures import build
from plugin.report.scope import make_scope
from plugin.store import Store
url, manifest_file, fmt, out = sys.argv[1:5]
manifest = Manifest.model_validate_json(Path(manifest_file).read_text())
with Store.open(url) as store:
    activity = read_activity(store, manifest)
    awards = store.awards.list()
report = build(activity, awards, manifest, make_scope(manifest), datetime.now(UTC))
Path(out).write_text(render(report, fmt, "en"), encoding="utf-8")
"""


def _org(scale: float) -> Org:
    active = int(39_000 * scale)
    return Org(completers=active, others=active, bystanders=int(22_000 * scale), seed=11)


def _child(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(args[1:4])} exited {proc.returncode}")
    return wall, usage.ru_maxrss / 1024


def _spread(values: list[float], unit: str = "s") -> str:
    return f"{statistics.median(values):.1f} {unit} (min {min(values):.1f}, max {max(values):.1f})"


def run(scale: float) -> str:
    org = _org(scale)
    here = Path(tempfile.mkdtemp(prefix="report-bench-"))
    db = here / "store.db"
    url = f"sqlite:///{db}"
    started = time.perf_counter()
    manifest(org)  # validated as the report will
    migrate.upgrade(url)
    with Store.open(url) as store:
        events = fill(store, org)
    made = time.perf_counter() - started
    manifest_file = here / "manifest.json"
    manifest_file.write_text(json.dumps(manifest_data(org), default=str), encoding="utf-8")
    env = dict(os.environ)
    py = sys.executable
    sides = {
        "reference": [py, "-c", CHILD, url],
        "json": [py, "-c", REPORT, url, str(manifest_file), "json", str(here / "r.json")],
        "html": [py, "-c", REPORT, url, str(manifest_file), "html", str(here / "r.html")],
    }
    walls: dict[str, list[float]] = {k: [] for k in sides}
    peaks: dict[str, list[float]] = {k: [] for k in sides}
    ratios: dict[str, list[float]] = {"json": [], "html": []}
    for _ in range(ROUNDS):
        for name, args in sides.items():
            wall, rss = _child(args, env)
            walls[name].append(wall)
            peaks[name].append(rss)
        for name in ratios:
            ratios[name].append(walls[name][-1] / walls["reference"][-1])
    size = (here / "r.html").stat().st_size
    people = org.completers + org.others + org.bystanders
    rows = [
        ("organisation stored (once)", f"{made:.0f} s", f"{people:,} people, {events:,} events"),
        (
            "reference: read every payload",
            _spread(walls["reference"]),
            _spread(peaks["reference"], "MiB"),
        ),
        (
            "**report, JSON**",
            f"**{_spread(walls['json'])}**",
            f"peak RSS {_spread(peaks['json'], 'MiB')}",
        ),
        (
            "**report, HTML with plots**",
            f"**{_spread(walls['html'])}**",
            f"peak RSS {_spread(peaks['html'], 'MiB')}; {size / 1024:.0f} KiB file",
        ),
        (
            "ratio JSON / reference",
            f"{statistics.median(ratios['json']):.2f}x",
            f"min {min(ratios['json']):.2f}, max {max(ratios['json']):.2f}",
        ),
        (
            "ratio HTML / reference",
            f"{statistics.median(ratios['html']):.2f}x",
            f"min {min(ratios['html']):.2f}, max {max(ratios['html']):.2f}",
        ),
    ]
    table = ["| measure | result | notes |", "|---|---|---|"]
    table += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return (
        f"\n{ROUNDS} interleaved rounds, each side a fresh process (wall time, peak RSS from "
        "wait4). SQLite file; every skill of the example manifest.\n\n" + "\n".join(table) + "\n"
    )
