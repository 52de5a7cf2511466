"""Backfill benchmark for the rules engine (P4: under 60 s and 1 GB, re-measured).

1,000,000 completions and 1,000,000 ticket transitions over 100,000 people (at scale 1),
judged end to end by `evaluate_all`; then events added one by one to an engine that holds
the backfill. Synthetic data from a seeded RNG and a manifest built in code (validated once).

Three rounds; in each, two fresh processes in turning order, so each peak RSS is its own:
the backfill (the reference, one dict update per event, then `evaluate_all` over the same
events, then `Engine.load` and the one-by-one adds) and a worker's start (`Engine.load`
over the same events made one at a time, as a start reads the inbox). The tracemalloc
pass runs once, in a process of its own. Figures are medians with min and max.

    python -m bench backfill [--scale 0.01]
    python -m bench.bench_backfill [--scale 0.01] [--seed 7] [--adds 20000] [--rounds 3]
        [--no-trace]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from bench.report import spread
from plugin.engine import (
    CompletionFact,
    Engine,
    Fact,
    Ref,
    TicketFact,
    TransitionFact,
    evaluate_all,
    to_us,
)
from plugin.manifest.model import Manifest

REPO = Path(__file__).resolve().parent.parent
ROUNDS = 3
PARTS = ("evaluate", "stream")
TARGET_SECONDS = 60.0  # P4: the backfill in under a minute and 1 GB
GB = 10**9
Figures = dict[str, Any]
START_US = to_us(datetime(2026, 1, 1, tzinfo=UTC))
YEAR_US = 365 * 86_400_000_000
HOUR_US = 3_600_000_000
MOODLE = "https://lms.bench.example"
SKILLS, MODULES_PER_SKILL = 20, 3
LEARNT = 3  # skills a person's tickets may apply: the last few they learnt
STATES = ("complete",) * 15 + ("passed",) * 3 + ("failed",) * 2
PROJECTS = ("PAY", "WEB", "OPS")
REWARDS: list[dict[str, Any]] = [
    {"id": "points", "name": "Points", "kind": "points", "points": 50},
    {"id": "badge", "name": "Badge", "kind": "badge", "points": 10},
    {
        "id": "hour",
        "name": "Paid hour",
        "kind": "paid_hour",
        "hours": 1,
        "approval": True,
        "budget": {"per_sprint": 40, "per_quarter": 200},
    },
    {
        "id": "priority",
        "name": "Priority pick",
        "kind": "project_priority",
        "approval": True,
        "budget": {"per_sprint": 10},
    },
    {
        "id": "demo",
        "name": "Leadership demo",
        "kind": "leadership_demo",
        "budget": {"per_quarter": 30},
    },
    {"id": "seat", "name": "Masterclass seat", "kind": "masterclass_seat"},
]


def _cmid(skill: int, module: int) -> int:
    return 1000 + skill * 10 + module


def _skill(s: int) -> dict[str, Any]:
    return {
        "id": f"skill-{s}",
        "name": f"Skill {s}",
        "modules": [
            {
                "id": f"m-{s}-{m}",
                "title": f"Module {s}.{m}",
                "minutes": 15,
                "moodle_cmid": _cmid(s, m),
                "xapi_activity": f"{MOODLE}/mod/page/view.php?id={_cmid(s, m)}",
            }
            for m in range(MODULES_PER_SKILL)
        ],
        "tickets": {
            "labels": [f"skill-{s}"],
            "components": [f"Component {s}"],
            **({"jql": "project in (PAY, WEB)"} if s % 5 == 0 else {}),
        },
        "reward": REWARDS[s % len(REWARDS)]["id"],
        **({"cooldown_days": 7} if s % 4 == 0 else {}),
    }


def build_manifest(people: int) -> Manifest:
    """~20 skills, 60 modules, `people` people, 26 two-week sprints."""
    person = [
        {
            "id": f"p{i:06d}",
            "name": f"Person {i}",
            "email": f"p{i:06d}@bench.example",
            "moodle_user_id": i + 1,
            **({"jira_account_id": f"acc-{i}"} if i % 2 else {}),
        }
        for i in range(people)
    ]
    jira = {
        "id": "jira",
        "type": "jira",
        "deployment": "cloud",
        "base_url": "https://bench.atlassian.net",
        "auth": {"type": "basic", "email": "bot@bench.example", "token_env": "JIRA_TOKEN"},
        "webhook_secret_env": "JIRA_SECRET",
        "projects": list(PROJECTS),
    }
    moodle = {"id": "moodle", "type": "moodle", "url": MOODLE, "token_env": "MOODLE_TOKEN"}
    first = date(2026, 1, 5)
    return Manifest.model_validate(
        {
            "version": 1,
            "organisation": {"name": "Bench", "timezone": "Europe/London"},
            "sources": [jira, moodle],
            "identities": {"people": person},
            "skills": [_skill(s) for s in range(SKILLS)],
            "rewards": REWARDS,
            "rules": {"min_in_progress_minutes": 30, "max_awards_per_person_per_sprint": 3},
            "sprints": [
                {"id": f"sprint-{n:02d}", "start": (first + timedelta(days=14 * n)).isoformat()}
                for n in range(26)
            ],
        }
    )


class Generator:
    """Seeded synthetic events: people learn, then work tickets, many of which apply what
    they learnt (so windows, caps, cooldowns and budgets all bind). A third of the learners
    come through the LRS as Moodle's Logstore account; half the Jira accounts hide their
    id and resolve by e-mail."""

    def __init__(self, people: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.people = people
        self.learners = [
            Ref("xapi", f"account:{MOODLE}|{i + 1}")
            if i % 3 == 0
            else Ref("moodle", str(i + 1), f"p{i:06d}@bench.example")
            for i in range(people)
        ]
        self.assignees = [
            Ref("jira", f"acc-{i}")
            if i % 2
            else Ref("jira", f"hidden-{i}", f"p{i:06d}@bench.example")
            for i in range(people)
        ]
        # The last three (time << 5 | skill) each person learnt, oldest first: flat arrays,
        # not a list of tuples per person, so the generator's own state stays small.
        self.learnt = array("q", bytes(8 * LEARNT * people))
        self.learnt_count = bytearray(people)
        self.modules = [
            [f"moodle:cm:{_cmid(s, m)}" for m in range(MODULES_PER_SKILL)] for s in range(SKILLS)
        ]
        self.labels = [(f"skill-{s}",) for s in range(SKILLS)]
        self.components = [(f"Component {s}",) for s in range(SKILLS)]
        self.serial = 0

    def completion(self, person: int) -> CompletionFact:
        rng = self.rng
        self.serial += 1
        skill, module = rng.randrange(SKILLS), rng.randrange(MODULES_PER_SKILL)
        at = START_US + rng.randrange(YEAR_US)
        state = "incomplete" if rng.random() < 0.05 else rng.choice(STATES)
        if state in ("complete", "passed"):
            learnt, first, count = self.learnt, LEARNT * person, self.learnt_count[person]
            if count == LEARNT:
                learnt[first : first + LEARNT - 1] = learnt[first + 1 : first + LEARNT]
                count -= 1
            learnt[first + count] = at << 5 | skill
            self.learnt_count[person] = count + 1
        key = f"moodle:{person + 1}:{self.serial}"
        learner = self.learners[person]
        return CompletionFact(key, "moodle", learner, self.modules[skill][module], state, at)

    def ticket(self, person: int) -> list[TransitionFact]:
        rng = self.rng
        self.serial += 1
        count = self.learnt_count[person]
        if count and rng.random() < 0.6:
            packed = self.learnt[LEARNT * person + rng.randrange(count)]  # as rng.choice does
            skill, t1 = packed & 31, packed >> 5
            start = t1 + rng.randrange(20 * 24 * HOUR_US)
        else:
            skill, start = rng.randrange(SKILLS), START_US + rng.randrange(YEAR_US)
        shown = rng.random()
        project = rng.choice(PROJECTS)
        tid = str(self.serial)
        snap = TicketFact(
            id=tid,
            key=f"{project}-{tid}",
            project=project,
            summary=f"Ticket {tid}",
            status="Done",
            status_category="done",
            resolution="Duplicate" if rng.random() < 0.05 else "Done",
            assignee=self.assignees[person],
            labels=self.labels[skill] if shown < 0.7 else (),
            components=self.components[skill] if 0.7 <= shown < 0.8 else (),
        )
        done = start + rng.randrange(10 * 60_000_000, 72 * HOUR_US)
        moves = [("new", "indeterminate", start), ("indeterminate", "done", done)]
        if rng.random() < 0.2:
            back = done + rng.randrange(1, 48 * HOUR_US)
            moves.append(("done", "indeterminate", back))
            if rng.random() < 0.7:
                moves.append(("indeterminate", "done", back + rng.randrange(1, 24 * HOUR_US)))
        return [
            TransitionFact(f"jira:{tid}:{n}", snap, a, b, t) for n, (a, b, t) in enumerate(moves)
        ]

    def events(self, completions: int, transitions: int) -> Iterator[Fact]:
        """The completions, then the tickets' moves, made one at a time."""
        for i in range(completions):
            yield self.completion(i % self.people)
        made = 0
        while made < transitions:
            moves = self.ticket(self.rng.randrange(self.people))[: transitions - made]
            yield from moves
            made += len(moves)

    def backfill(self, completions: int, transitions: int) -> list[Fact]:
        found = list(self.events(completions, transitions))
        self.rng.shuffle(found)
        return found

    def stream(self, count: int) -> list[Fact]:
        """New events as they would arrive: a completion, then a ticket's moves in order."""
        found: list[Fact] = []
        while len(found) < count:
            person = self.rng.randrange(self.people)
            found.append(self.completion(person))
            found.extend(self.ticket(person))
        return found[:count]


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    began = time.perf_counter()
    result = work()
    return time.perf_counter() - began, result


def floor_loop(events: Iterable[Fact]) -> dict[str, Fact]:
    """The reference: read every event once and do one dict update per event."""
    seen: dict[str, Fact] = {}
    for event in events:
        seen[event.key] = event
    return seen


def rss_mib() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024 if sys.platform != "darwin" else kib / 2**20


def timed_cpu(work: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall and CPU seconds: CPU time is steadier on a shared machine."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def sizes(scale: float) -> tuple[int, int]:
    """(people, completions): as many ticket moves as completions."""
    return max(20, int(100_000 * scale)), max(200, int(1_000_000 * scale))


def generate(people: int, n: int, seed: int) -> tuple[Generator, list[Fact]]:
    gc.disable()  # millions of long-lived objects: the collector would only rescan them
    try:
        gen = Generator(people, seed)
        return gen, gen.backfill(n, n)
    finally:
        gc.enable()


def streamed(people: int, n: int, seed: int) -> Iterator[Fact]:
    """The events `generate` makes, made one at a time and never held together (as a
    worker's start reads them from the inbox), unshuffled: order does not matter."""
    return Generator(people, seed).events(n, n)


# --- the parts, each in a process of its own ---------------------------------------------------


def part_evaluate(scale: float, seed: int, adds: int) -> Figures:
    """The backfill: the reference, then evaluate_all over the same events; then Engine.load
    and one-by-one adds. Peak RSS is read right after evaluate_all."""
    people, n = sizes(scale)
    made, manifest = timed(lambda: build_manifest(people))
    generated, (gen, events) = timed(lambda: generate(people, n, seed))
    reference, _ = timed(lambda: len(floor_loop(events)))  # its dict freed before what follows
    wall, cpu, decisions = timed_cpu(lambda: evaluate_all(manifest, events))
    awarded = sum(1 for d in decisions if d.awarded)
    figures: Figures = {
        "people": people, "manifest_s": made, "generate_s": generated, "events": len(events),
        "reference_s": reference, "evaluate_s": wall, "evaluate_cpu_s": cpu,
        "decisions": len(decisions), "awarded": awarded, "rss_mib": rss_mib(),
    }  # fmt: skip
    del decisions
    engine = Engine(manifest)
    figures["load_s"], figures["load_cpu_s"], _ = timed_cpu(partial(engine.load, events))
    times: list[int] = []
    for event in gen.stream(adds):
        began = time.perf_counter_ns()
        engine.add(event)
        times.append(time.perf_counter_ns() - began)
    times.sort()
    figures["add_median_us"] = statistics.median(times) / 1e3
    figures["add_p99_us"] = times[min(len(times) - 1, int(len(times) * 0.99))] / 1e3
    figures["adds"] = len(times)
    return figures


def part_stream(scale: float, seed: int) -> Figures:
    """A worker's start: Engine.load over the events streamed; the process's peak RSS."""
    people, n = sizes(scale)
    manifest = build_manifest(people)
    engine = Engine(manifest)
    wall, cpu, _ = timed_cpu(lambda: engine.load(streamed(people, n, seed)))
    return {"stream_s": wall, "stream_cpu_s": cpu, "stream_rss_mib": rss_mib()}


def part_trace(scale: float, seed: int) -> Figures:
    """evaluate_all's own allocations at their peak (tracemalloc; the input excluded)."""
    people, n = sizes(scale)
    manifest = build_manifest(people)
    _, events = generate(people, n, seed)
    gc.collect()
    tracemalloc.start()
    evaluate_all(manifest, events)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"trace_peak_mib": peak / 2**20}


def in_process(part: str, scale: float, seed: int, adds: int) -> Figures:
    """Run one part in a fresh interpreter (its own peak RSS, nothing left by another part)."""
    args = [sys.executable, "-m", "bench.bench_backfill", "--part", part, "--scale", str(scale),
            "--seed", str(seed), "--adds", str(adds)]  # fmt: skip
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"backfill part {part} failed:\n{done.stderr[-3000:]}")
    figures: Figures = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def measure(
    scale: float, seed: int = 7, adds: int = 20_000, trace: bool = True, rounds: int = ROUNDS
) -> list[Figures]:
    """Each round's figures: the two parts, in a turning order, then (once) the trace."""
    found: list[Figures] = []
    for r in range(rounds):
        parts = PARTS[r % 2 :] + PARTS[: r % 2]
        figures: Figures = {}
        for part in parts:
            figures.update(in_process(part, scale, seed, adds))
        found.append(figures)
    if trace:
        found[0].update(in_process("trace", scale, seed, adds))
    return found


# --- report -------------------------------------------------------------------------------------


def table(rounds: list[Figures]) -> str:
    def of(key: str) -> list[float]:
        return [float(r[key]) for r in rounds]

    first = rounds[0]
    ratio = [r["evaluate_s"] / r["reference_s"] for r in rounds]
    per_event = [r["reference_s"] / r["events"] * 1e9 for r in rounds]
    rows: list[tuple[str, str, str]] = [
        ("manifest built and validated", spread(of("manifest_s"), ".2f", " s"),
         f"{first['people']:,} people, {SKILLS} skills, {SKILLS * MODULES_PER_SKILL} modules"),
        ("synthetic events generated", spread(of("generate_s"), ".1f", " s"),
         f"{first['events']:,} events"),
        ("reference: 1 dict update per event", spread(of("reference_s"), ".2f", " s"),
         f"{statistics.median(per_event):.0f} ns/event"),
        ("**evaluate_all** (end to end)", f"**{spread(of('evaluate_s'), '.1f', ' s')}**",
         f"CPU {spread(of('evaluate_cpu_s'), '.1f', ' s')}; {first['decisions']:,} "
         f"decisions, {first['awarded']:,} awarded"),
        ("evaluate_all / reference, per round", spread(ratio, ".1f", "×"), ""),
        ("**peak RSS of the backfill** (ru_maxrss after evaluate_all)",
         f"**{spread(of('rss_mib'), ',.0f', ' MiB')}**",
         "the manifest, the input events held in a list, and the engine"),
        ("Engine.load (state only, no decision list)", spread(of("load_s"), ".1f", " s"),
         f"CPU {spread(of('load_cpu_s'), '.1f', ' s')}"),
        (f"**Engine.add** one by one ({first['adds']:,} events after the backfill)",
         f"**median {spread(of('add_median_us'), '.0f', ' µs')}**",
         f"p99 {spread(of('add_p99_us'), '.0f', ' µs')}"),
        ("peak RSS of a worker's start: Engine.load over the events streamed",
         spread(of("stream_rss_mib"), ",.0f", " MiB"),
         "as a start reads the inbox, never holding them all; "
         f"{spread(of('stream_s'), '.1f', ' s')} with making them"),
    ]  # fmt: skip
    if "trace_peak_mib" in first:
        rows.append(("evaluate_all peak (tracemalloc), once", f"{first['trace_peak_mib']:.0f} MiB",
                     "the engine's own allocations; the input events excluded"))  # fmt: skip
    lines = [
        f"{len(rounds)} rounds, each part in a fresh process (the backfill with its reference "
        "in one, a worker's start in another, in turning order); median (min–max).",
        "",
        "| measure | result | notes |",
        "|---|---|---|",
        *(f"| {name} | {value} | {note} |" for name, value, note in rows),
        "",
        _verdict(rounds),
    ]
    return "\n".join(lines) + "\n"


def _verdict(rounds: list[Figures]) -> str:
    slowest = max(r["evaluate_s"] for r in rounds)
    largest = max(r["rss_mib"] for r in rounds) * 2**20
    start = max(r["stream_rss_mib"] for r in rounds) * 2**20
    time_ok = "met" if slowest < TARGET_SECONDS else "**missed**"
    rss_ok = "met" if largest < GB else "**missed**"
    return (
        f"P4 (kept where it was, re-measured): the backfill in under {TARGET_SECONDS:.0f} s, "
        f"{time_ok} (slowest round {slowest:.1f} s); in under 1 GB, {rss_ok} (largest peak "
        f"{largest / 1e9:.2f} GB, {largest / 2**20:,.0f} MiB). A worker's start on the same "
        f"events peaks at {start / 1e9:.2f} GB ({start / 2**20:,.0f} MiB), "
        f"{'over' if start >= GB else 'under'} 1 GB: its engine keeps every event it read, "
        "for the one-by-one adds that follow."
    )


def run(scale: float) -> str:
    """The Markdown section for `python -m bench` (see bench/__main__.py)."""
    return table(measure(scale, adds=max(100, int(20_000 * min(1.0, scale * 10)))))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_backfill")
    parser.add_argument("--scale", type=float, default=1.0, help="1: 1M completions + 1M moves")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--adds", type=int, default=20_000, help="events for Engine.add")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc pass")
    parser.add_argument("--part", choices=(*PARTS, "trace"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.part is not None:  # a part in its own process: one line of JSON
        figures = (
            part_evaluate(args.scale, args.seed, args.adds)
            if args.part == "evaluate"
            else part_stream(args.scale, args.seed)
            if args.part == "stream"
            else part_trace(args.scale, args.seed)
        )
        print(json.dumps(figures))
        return 0
    command = " ".join(["python -m bench.bench_backfill", *(argv or sys.argv[1:])])
    print(f"Command: `{command}`\n")
    print(table(measure(args.scale, args.seed, args.adds, not args.no_trace, args.rounds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
