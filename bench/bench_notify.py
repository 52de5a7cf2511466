"""Planning one day's messages for 100,000 people × 60 modules (time and peak memory), and the
cost per message through the outbox.

The organisation is bench_backfill's manifest (20 skills × 3 modules, `people` people) with
two channels (Moodle message, then e-mail), a budget of 2 a day and 5 a week, and reminders
3 days after a start, every 4 days, 3 at most. Its SQLite store is filled once: every person
opened 3 random modules at random times over the last 10 days (a `progress` event each) and
completed one of them (a `completion`), payloads written as the domain events' JSON straight
into the inbox. Each round copies that file and runs, each side in a fresh child process (so
each peak RSS, from wait4, is that side's own):

1. plan: one `Scheduler.tick()` at a fixed "now", with a suggester returning one fixed ticket;
2. deliver: an `OutboxWorker` with no-op senders for e-mail and Moodle, `run_once` until it
   claims nothing, on the store the plan left;
3. the reference, on a fresh copy: read every progress and completion payload and do nothing
   with it, then queue as many outbox rows as the plan sent, with the same payload size, by
   `enqueue_many` in batches (one transaction, as the tick).

Rounds are interleaved; min/median/max shown.

    python -m bench notify [--scale 0.02]
    python -m bench.bench_notify [--scale 0.02] [--rounds 3]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.bench_backfill import MODULES_PER_SKILL, SKILLS, build_manifest
from plugin.manifest.model import Manifest
from plugin.manifest.notifications import Notifications

ROUNDS = 3
PEOPLE = 100_000
PROFILE_PEOPLE = 2_000  # the profiled tick's organisation at most (cProfile slows everything)
NOW = datetime(2026, 3, 11, 10, 0, tzinfo=UTC)  # a Wednesday, mid-sprint
OPENED, SPAN_DAYS = 3, 10  # modules each person opened, over the last days
BATCH = 5000
FLOOR_BATCH = 1000
KINDS = ("progress", "completion")
ROOT = Path(__file__).resolve().parent.parent
NOTIFICATIONS: dict[str, Any] = {
    "channels": [
        {"type": "moodle_message"},
        {
            "type": "email",
            "smtp": {
                "host": "127.0.0.1",
                "port": 2525,
                "security": "none",
                "from": "relay@bench.example",
            },
        },
    ],
    "budget": {"per_person_per_day": 2, "per_person_per_week": 5},
    "reminders": {"after_days": 3, "every_days": 4, "max": 3},
}
TICKET = {
    "key": "PAY-7",
    "summary": "Slow ledger query",
    "url": "https://bench.atlassian.net/browse/PAY-7",
}


def manifest(people: int) -> Manifest:
    """bench_backfill's manifest with the notifications section (validated on its own: the
    rest was validated by build_manifest, and nothing in it refers to notifications)."""
    built = build_manifest(people)
    return built.model_copy(update={"notifications": Notifications.model_validate(NOTIFICATIONS)})


def suggest(skill: str, person: str) -> list[dict[str, str]]:
    """One open ticket for every "apply it now", without a network."""
    return [TICKET]


# --- the organisation's events ----------------------------------------------------------


def _json_time(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")  # as model_dump(mode="json") writes it


def events(people: int, seed: int = 7) -> Any:
    """InboxEvents, person by person: OPENED progress events and one completion each."""
    from plugin.store import InboxEvent

    rng = random.Random(seed)
    cmids = [1000 + s * 10 + m for s in range(SKILLS) for m in range(MODULES_PER_SKILL)]
    span = SPAN_DAYS * 86_400
    for i in range(people):
        uid = str(i + 1)
        ref = {"system": "moodle", "id": uid, "email": None, "display_name": None}
        opened = [
            (cmid, NOW - timedelta(seconds=rng.uniform(0, span)))
            for cmid in rng.sample(cmids, OPENED)
        ]
        for n, (cmid, at) in enumerate(opened):
            key = f"bench-{uid}-{cmid}-{n}"
            payload = {
                "kind": "progress",
                "source": "moodle",
                "natural_key": key,
                "person": ref,
                "module": f"moodle:cm:{cmid}",
                "verb": "viewed",
                "at": _json_time(at),
            }
            yield InboxEvent("moodle", "progress", key, payload, at)
        cmid, opened_at = opened[rng.randrange(OPENED)]
        at = opened_at + (NOW - opened_at) * rng.random()
        key = f"{uid}:{cmid}:complete:{int(at.timestamp())}"
        payload = {
            "kind": "completion",
            "source": "moodle",
            "natural_key": key,
            "person": ref,
            "module": f"moodle:cm:{cmid}",
            "state": "complete",
            "at": _json_time(at),
        }
        yield InboxEvent("moodle", "completion", key, payload, at)


def fill(path: Path, people: int) -> int:
    """A migrated SQLite store at `path` holding the organisation's events; how many."""
    from plugin.store import Store, migrate

    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    total, chunk = 0, []
    with Store.open(url) as store:
        for event in events(people):
            chunk.append(event)
            if len(chunk) == BATCH:
                total += store.inbox.add_many(chunk)[0]
                chunk = []
        total += store.inbox.add_many(chunk)[0]
    return total


def copy_store(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")


def drop_store(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# --- the sides, each run in its own process ---------------------------------------------


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _hwm_mib() -> float | None:
    """This process's own peak RSS (Linux's VmHWM, which exec does not carry over)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def side_setup(db: str, people: int) -> dict[str, Any]:
    """The manifest built once (timed: the plan side builds it again), the store filled."""
    began = time.perf_counter()
    built = manifest(people)
    made = time.perf_counter() - began
    modules = sum(len(s.modules) for s in built.skills)
    del built
    began = time.perf_counter()
    stored = fill(Path(db), people)
    filled = time.perf_counter() - began
    size = Path(db).stat().st_size / 2**20
    return {"made": made, "modules": modules, "stored": stored, "fill": filled, "size": size}


def _timed(work: Callable[[], Any]) -> tuple[float, float, Any]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def plan_day(scheduler: Any) -> tuple[Any, int, float]:
    """Tick until a tick leaves nothing due: a day's planning, a bounded share per tick (each
    tick is one write transaction). The summed stats, the ticks, the longest tick (s)."""
    from plugin.notify.scheduler import TickStats

    total, ticks, longest = TickStats(), 0, 0.0
    while True:
        started = time.perf_counter()
        stats = scheduler.tick()
        longest = max(longest, time.perf_counter() - started)
        ticks += 1
        for name in vars(total):
            setattr(total, name, getattr(total, name) + getattr(stats, name))
        if stats.sent + stats.digested + stats.dropped + stats.planned == 0:
            return total, ticks, longest


def side_plan(db: str, people: int) -> dict[str, Any]:
    from sqlalchemy import text

    from plugin.notify.scheduler import Scheduler
    from plugin.notify.words import Words
    from plugin.store import Store

    found = manifest(people)
    with Store.open(f"sqlite:///{db}") as store:
        scheduler = Scheduler(store, found, Words(), suggest=suggest, clock=lambda: NOW)
        before = _rss_mib()
        wall, cpu, (stats, ticks, longest) = _timed(lambda: plan_day(scheduler))
        with store.transaction() as conn:
            rows, size = conn.execute(
                text("SELECT count(*), coalesce(avg(length(payload)), 0) FROM outbox")
            ).one()
            kinds = dict(
                conn.execute(text("SELECT kind, count(*) FROM notifications GROUP BY kind")).all()
            )
    return {
        "wall": wall,
        "cpu": cpu,
        "rss_before": before,
        "planned": stats.planned,
        "sent": stats.sent,
        "ticks": ticks,
        "longest": longest,
        "digested": stats.digested,
        "dropped": stats.dropped,
        "held": stats.held,
        "queued": int(rows),
        "payload_bytes": float(size),
        "kinds": kinds,
    }


class NoOp:
    """A sender that delivers nothing, instantly."""

    def send(self, effect: Any) -> None:
        return None


def side_deliver(db: str) -> dict[str, Any]:
    from plugin.outbox_worker import OutboxWorker
    from plugin.store import Store

    with Store.open(f"sqlite:///{db}") as store:
        worker = OutboxWorker(store, {"email": NoOp(), "moodle": NoOp()}, worker_id="bench")
        before = _rss_mib()

        def deliver() -> tuple[int, int, int]:
            done = other = batches = 0
            while True:
                stats = worker.run_once()
                if not stats.claimed:
                    return done, other, batches
                batches += 1
                done += stats.done
                other += stats.retried + stats.dead + stats.deferred + stats.lost

        wall, cpu, (done, other, batches) = _timed(deliver)
    return {
        "wall": wall,
        "cpu": cpu,
        "rss_before": before,
        "done": done,
        "other": other,
        "batches": batches,
    }


def side_floor(db: str, rows: int, size: int) -> dict[str, Any]:
    from plugin.store import Store

    with Store.open(f"sqlite:///{db}") as store:
        before = _rss_mib()
        read_wall, read_cpu, read = _timed(lambda: sum(1 for _ in store.inbox.payloads(KINDS)))
        pad = max(0, size - len(json.dumps({"pad": ""})))
        payload = {"pad": "x" * pad}

        def enqueue() -> int:
            queued = 0
            with store.transaction() as conn:
                for start in range(0, rows, FLOOR_BATCH):
                    effects = [
                        (f"floor:{n}", "email", "send", payload)
                        for n in range(start, min(rows, start + FLOOR_BATCH))
                    ]
                    queued += store.outbox.enqueue_many(effects, conn=conn)
            return queued

        write_wall, write_cpu, queued = _timed(enqueue)
    return {
        "read_wall": read_wall,
        "read_cpu": read_cpu,
        "read": read,
        "write_wall": write_wall,
        "write_cpu": write_cpu,
        "queued": queued,
        "rss_before": before,
    }


def child_main(argv: Sequence[str]) -> int:
    side, out, *args = argv
    if side == "plan":
        result = side_plan(args[0], int(args[1]))
    elif side == "deliver":
        result = side_deliver(args[0])
    elif side == "floor":
        result = side_floor(args[0], int(args[1]), int(args[2]))
    elif side == "setup":
        result = side_setup(args[0], int(args[1]))
    elif side == "profile":
        result = {"notes": profile(Path(args[0]), int(args[1]))}
    else:
        raise SystemExit(f"unknown side {side!r}")
    result["hwm"] = _hwm_mib()
    Path(out).write_text(json.dumps(result), encoding="utf-8")
    return 0


def _env() -> dict[str, str]:
    """The children import this tree, whatever the working directory."""
    env = dict(os.environ)
    paths = [str(ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def child(side: str, args: Sequence[str], here: Path) -> dict[str, Any]:
    """Run one side in a fresh process: its own figures, and its peak RSS (MiB) from wait4."""
    out = here / f"{side}.json"
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.bench_notify", "--child", side, str(out), *args]
    proc = subprocess.Popen(command, env=_env(), cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"the {side} side exited {proc.returncode}")
    found: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    print(f"notify: {side} {json.dumps(found)}", file=sys.stderr, flush=True)
    found["rss"] = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2**20
    return found


# --- the profile ------------------------------------------------------------------------

# Where a tick's time goes, by the cumulative time of these (file, function) pairs.
PHASES = (
    ("progress.py", "read_started", "reading the inbox (read_started)"),
    ("rhythm.py", "stalled", "planning reminders"),
    ("notices.py", "add_many", "storing the notices"),
    ("budget.py", "decide", "the budget"),
    ("scheduler.py", "_send", "queueing the sent (`_send`)"),
    ("words.py", "render", "of which rendering"),
    ("outbox.py", "enqueue_many", "of which `enqueue_many`"),
    ("notices.py", "mark", "`notices.mark` (all callers)"),
)


def _name(key: tuple[str, int, str]) -> str:
    file, _, func = key
    if file == "~":
        return func.strip("<>").replace("built-in method ", "").replace("method ", "")
    path = Path(file)
    return f"{path.parent.name}/{path.name}:{func}"


def _own(table: dict[Any, Any], count: int = 5) -> str:
    total = sum(row[2] for row in table.values())
    top = sorted(table.items(), key=lambda item: item[1][2], reverse=True)[:count]
    return ", ".join(f"`{_name(key)}` {row[2] / total:.0%}" for key, row in top)


def _cumulative(table: dict[Any, Any], file: str, func: str) -> float:
    return sum(row[3] for key, row in table.items() if key[0].endswith(file) and key[2] == func)


def profile(here: Path, people: int, batches: int = 3) -> str:
    """One tick under cProfile at a small scale, then the first few delivery batches: the
    line for the section's notes."""
    from plugin.notify.scheduler import Scheduler
    from plugin.notify.words import Words
    from plugin.outbox_worker import OutboxWorker
    from plugin.store import Store

    db = here / "profile.db"
    fill(db, people)
    found = manifest(people)

    with Store.open(f"sqlite:///{db}") as store:
        scheduler = Scheduler(store, found, Words(), suggest=suggest, clock=lambda: NOW)
        planning = cProfile.Profile()
        planning.enable()
        stats, _, _ = plan_day(scheduler)
        planning.disable()
        worker = OutboxWorker(store, {"email": NoOp(), "moodle": NoOp()}, worker_id="bench")
        delivering = cProfile.Profile()
        done = 0
        delivering.enable()
        for _ in range(batches):
            done += worker.run_once().done
        delivering.disable()
    drop_store(db)
    plan = pstats.Stats(planning).stats  # type: ignore[attr-defined]
    tick = _cumulative(plan, "scheduler.py", "tick")
    phases = "; ".join(
        f"{label} {_cumulative(plan, file, func) / tick:.0%}" for file, func, label in PHASES
    )
    calls = sum(row[1] for row in plan.values())
    deliver = pstats.Stats(delivering).stats  # type: ignore[attr-defined]
    run_once = _cumulative(deliver, "outbox_worker.py", "run_once")
    start = _cumulative(deliver, "outbox.py", "start")
    commits = sum(
        row[1] for key, row in deliver.items() if "commit' of 'sqlite3.Connection" in key[2]
    )
    return (
        f"Profile (cProfile, one tick, {people:,} people, {stats.planned:,} planned, "
        f"{stats.sent:,} sent; {calls / max(stats.planned, 1):,.0f} function calls per planned "
        f"message): of the tick, {phases}. Top own time: {_own(plan)}. Delivery (the first "
        f"{batches} batches, {done:,} messages): `Outbox.start` {start / run_once:.0%} of "
        f"`run_once`, {commits / max(done, 1):.1f} commits per message; top own time: "
        f"{_own(deliver, 3)}."
    )


# --- the section ------------------------------------------------------------------------


def _spread(values: Sequence[float], unit: str = "s", digits: int = 1) -> str:
    med, lo, hi = statistics.median(values), min(values), max(values)
    return f"{med:,.{digits}f} {unit} (min {lo:,.{digits}f}, max {hi:,.{digits}f})"


def _per(total: Sequence[float], count: int) -> str:
    """Microseconds per item: median (min, max)."""
    each = [t / max(count, 1) * 1e6 for t in total]
    return _spread(each, "µs", 0)


def _ratio(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.1f}x (min {min(values):.1f}, max {max(values):.1f})"


def measure(scale: float, rounds: int = ROUNDS) -> str:
    people = max(20, int(PEOPLE * scale))
    here = Path(tempfile.mkdtemp(prefix="notify-bench-"))
    try:
        return _measure(here, people, rounds)
    finally:
        shutil.rmtree(here, ignore_errors=True)


def _measure(here: Path, people: int, rounds: int) -> str:
    began = time.perf_counter()
    filled = here / "filled.db"
    # Everything heavy runs in children: Linux carries a parent's peak RSS over into its
    # child's (wait4's ru_maxrss), so this process stays small.
    setup = child("setup", [str(filled), str(people)], here)
    work = here / "round.db"
    plans: list[dict[str, Any]] = []
    delivers: list[dict[str, Any]] = []
    floors: list[dict[str, Any]] = []
    for _ in range(rounds):
        copy_store(filled, work)
        plan = child("plan", [str(work), str(people)], here)
        plans.append(plan)
        delivers.append(child("deliver", [str(work)], here))
        copy_store(filled, work)
        rows, payload = plan["queued"], round(plan["payload_bytes"])
        floors.append(child("floor", [str(work), str(rows), str(payload)], here))
        drop_store(work)
    profiled = max(20, min(PROFILE_PEOPLE, people // 10))
    notes = [child("profile", [str(here), str(profiled)], here)["notes"]]
    notes.append(
        f"This process's own peak RSS was {_rss_mib():.0f} MiB, below every side's: a "
        "parent's peak carries over into its child's wait4 figure. The whole run took "
        f"{(time.perf_counter() - began) / 60:.1f} min."
    )
    return section(people, setup, plans, delivers, floors, notes)


def section(
    people: int,
    setup: dict[str, Any],
    plans: list[dict[str, Any]],
    delivers: list[dict[str, Any]],
    floors: list[dict[str, Any]],
    notes: list[str],
) -> str:
    modules = setup["modules"]
    first = plans[0]
    counts = ("planned", "sent", "digested", "dropped", "held")
    same = all(all(p[c] == first[c] for c in counts) for p in plans)
    planned, sent, queued = first["planned"], first["sent"], first["queued"]
    delivered = [d["done"] for d in delivers]
    reads = [f["read_wall"] for f in floors]
    writes = [f["write_wall"] for f in floors]
    plan_walls = [p["wall"] for p in plans]
    deliver_walls = [d["wall"] for d in delivers]
    plan_ratio = [p / (r + w) for p, r, w in zip(plan_walls, reads, writes, strict=True)]
    deliver_ratio = [d / w for d, w in zip(deliver_walls, writes, strict=True)]
    others = max(d["other"] for d in delivers)
    kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(first["kinds"].items()))
    rows = [
        (
            "manifest (built again by the plan side)",
            f"{setup['made']:.1f} s",
            f"{people:,} people, {modules} modules; before its clock starts",
        ),
        (
            "store filled (once, in its own process; copied per round)",
            f"{setup['fill']:.0f} s",
            f"{setup['stored']:,} inbox events (progress and completion), "
            f"SQLite {setup['size']:.0f} MiB",
        ),
        (
            "**plan a day**: `Scheduler.tick()` until nothing is due",
            f"**{_spread(plan_walls)}**",
            f"CPU {_spread([p['cpu'] for p in plans])}; {first['ticks']} ticks",
        ),
        (
            "longest tick (one write transaction)",
            _spread([p["longest"] for p in plans]),
            "what another writer may wait for on SQLite",
        ),
        (
            "what the ticks decided",
            f"{planned:,} planned",
            f"{sent:,} sent, {first['digested']:,} digested, {first['dropped']:,} dropped, "
            f"{first['held']:,} held; notices: {kinds}"
            + ("" if same else "; **the counts differed between rounds**"),
        ),
        ("plan, per planned message", _per(plan_walls, planned), ""),
        ("plan, per sent message", _per(plan_walls, sent), f"{queued:,} outbox rows queued"),
        (
            "plan, peak RSS",
            _spread([p["rss"] for p in plans], "MiB", 0),
            f"{_spread([p['rss_before'] for p in plans], 'MiB', 0)} before the tick "
            "(interpreter, manifest, store)",
        ),
        (
            "**deliver**: `OutboxWorker.run_once` until empty, no-op senders",
            f"**{_spread(deliver_walls)}**",
            f"CPU {_spread([d['cpu'] for d in delivers])}; {min(delivered):,} delivered "
            f"in {delivers[0]['batches']:,} batches" + (f"; {others:,} not done" if others else ""),
        ),
        ("deliver, per message", _per(deliver_walls, max(delivered)), ""),
        ("deliver, peak RSS", _spread([d["rss"] for d in delivers], "MiB", 0), ""),
        (
            "reference: read every inbox payload",
            _spread(reads, "s", 2),
            f"{floors[0]['read']:,} payloads, {_per(reads, floors[0]['read'])} each",
        ),
        (
            f"reference: `enqueue_many` {queued:,} rows of {first['payload_bytes']:.0f} bytes",
            _spread(writes, "s", 2),
            f"batches of {FLOOR_BATCH:,}, one transaction; {_per(writes, queued)} each",
        ),
        ("reference, peak RSS", _spread([f["rss"] for f in floors], "MiB", 0), ""),
        (
            "**ratio plan / (read + enqueue)**",
            f"**{_ratio(plan_ratio)}**",
            "per round",
        ),
        (
            "**ratio deliver / enqueue**",
            f"**{_ratio(deliver_ratio)}**",
            "per round",
        ),
    ]
    table = ["| measure | result | notes |", "|---|---|---|"]
    table += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    intro = (
        f"{len(plans)} interleaved rounds (plan, deliver, reference), each side a fresh "
        "process (wall and CPU time of the work alone, peak RSS of the process from wait4), "
        f"each round on a copy of the same SQLite file. {people:,} people each opened "
        f"{OPENED} of the {modules} modules over the {SPAN_DAYS} days before the fixed "
        f'"now" ({NOW:%Y-%m-%d %H:%M} UTC) and completed one; budget 2 a day, 5 a week; '
        "reminders after 3 days, every 4, at most 3; channels Moodle message, then e-mail; "
        "the suggester returns one fixed ticket (no network)."
    )
    listed = "".join(f"- {note}\n" for note in notes)
    return f"\n{intro}\n\n" + "\n".join(table) + f"\n\nNotes:\n\n{listed}"


def run(scale: float) -> str:
    """The Markdown section for `python -m bench` (see bench/__main__.py)."""
    return measure(scale)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--child"]:
        return child_main(args[1:])
    parser = argparse.ArgumentParser(prog="python -m bench.bench_notify")
    parser.add_argument("--scale", type=float, default=1.0, help=f"1: {PEOPLE:,} people")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parsed = parser.parse_args(args)
    print(measure(parsed.scale, parsed.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
