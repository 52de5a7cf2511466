"""Webhook ingest near the stack's limit: same-run ratios over interleaved rounds, with a
compiled load generator (wrk, bench/wrk_load.py) that is not the bottleneck.

Each round starts every side afresh (a new process, a new SQLite file or a new PostgreSQL
database) and loads it with wrk for a warm-up, then for the measured seconds, from distinct
pre-signed Jira Cloud "issue moved to Done" deliveries (the same bodies for every side; the
warm-up uses other ones, so nothing measured is a repeat). The sides' order turns each
round. Sides on SQLite:

- bare: a Flask view that reads the body and answers 200 (waitress, 4 request threads);
- floor: + the HMAC check, the JSON decode and the body stored under its delivery id in
  SQLite with group commit (the least a durable, authenticated receiver does), a Flask view;
- floor_wsgi: the floor's steps as a bare WSGI app, without Flask, as skillrelay serves its
  two webhook routes (webhooks.direct): a comparison, not a target;
- receive: `skillrelay serve --no-worker` (8 connections), and at 3x the clients (24);
- serve: `skillrelay serve` with its pipeline and outbox workers, in the `skillrelay worker`
  process it starts (its default; 8 connections);
- receive_full: receive with SQLite `synchronous=FULL` (what surviving power loss costs);
- floor_granian: the floor's steps as an RSGI app on granian (the body read on the event
  loop, the group commit in a thread of its own), as skillrelay's webhook routes run there;
- granian, granian_serve, granian24: receive, serve and receive at 24 connections on
  `serve --server granian`; granian_inproc: serve with its workers in its own threads
  (`--worker-processes 0`); split: the receiver and a `skillrelay worker` as two commands.

Sides on PostgreSQL (one server, started here for the whole run, at the SQLite sides'
durability, see PG_SETTINGS; a fresh database per run, made from a migrated template):

- floor_pg: the floor, storing in PostgreSQL (one driver connection, group commit);
- receive_pg: `serve --no-worker` (8 connections);
- receive2_pg: two `serve --no-worker` processes on one database, each on its own port
  and loaded by its own wrk (4 connections and 1 thread each, run together: the same 8
  connections and 2 wrk threads as the other sides); their throughputs are added up.

Targets (issue "Ingest and pull near the stack's limit"): T1 receive >= 0.8x floor, on
SQLite and on PostgreSQL, and on granian against the floor on granian; T2 receive >= 0.65x
bare and serve >= 0.45x bare; T3 receive at 24 connections >= 0.9x receive at 8; on
PostgreSQL, the server process's CPU per request <= 1.1x that on SQLite (receive only), and
two receive-only processes >= 1.3x one. Reported
per round as ratios, min/median/max, with each side's server CPU per request, PostgreSQL's
own CPU per request (its processes, measured apart from ours) and wrk's own CPU.

    python -m bench ingest [--scale 0.2]
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bench_service import (
    SECRETS,
    THREADS,
    Databases,
    base_env,
    child,
    closed_port,
    inbox_counts,
    offline_manifest,
    serve_args,
    template_file,
    worker,
)
from bench.ingest_pg import POSTGRES_DEFAULT, Postgres, durability, postgres, version
from bench.service_load import Deliveries
from bench.wrk_load import Requests, run_wrk, write_requests

ROUNDS = 3
SECONDS, WARMUP = 10.0, 1.0
CONNECTIONS = 8
WRK_THREADS = 2  # run_wrk's default: a side's wrk threads, split among its processes
MEASURED = 150_000  # distinct deliveries: more than any side sends in SECONDS (<12,000/s)
WARM = 15_000  # the warm-up's distinct deliveries: more than any side sends in WARMUP
SQLITE, POSTGRES = "SQLite", "PostgreSQL"
CHILD_READY = "pipeline: worker bench-w1, batches of"  # the worker `serve` started decides


@dataclass(frozen=True)
class Side:
    name: str
    label: str
    args: list[str]
    connections: int = CONNECTIONS  # in all, split evenly among the processes
    stores: bool = False  # ours: count what the inbox holds afterwards
    query: str = ""  # added to the database URL
    database: str = SQLITE
    processes: int = 1  # each on its own port, loaded by its own wrk, at the same time
    workers: int = 0  # `skillrelay worker` processes beside, deciding what the servers store
    ready: str = ""  # the log line that says the server serves (child's `ready`)


SIDES = (
    Side("bare", "bare Flask view (reads the body, 200)",
         ["-m", "bench.service_load", "bare", "--threads", str(THREADS)]),
    Side("floor", "floor: + HMAC, JSON decode, body stored (SQLite, group commit)",
         ["-m", "bench.service_load", "floor", "--threads", str(THREADS)]),
    Side("floor_wsgi", "floor as a bare WSGI app, no Flask (as skillrelay's webhook routes)",
         ["-m", "bench.service_load", "floor", "--threads", str(THREADS), "--wsgi"]),
    Side("receive", "`serve --no-worker` (receive only)", serve_args("--no-worker"),
         stores=True),
    Side("receive24", "`serve --no-worker`, 24 connections", serve_args("--no-worker"),
         connections=3 * CONNECTIONS, stores=True),
    Side("serve", "`serve` (its default: the pipeline and outbox workers in a `skillrelay "
         "worker` process it starts)", serve_args(), stores=True, ready=CHILD_READY),
    Side("receive_full", "`serve --no-worker`, SQLite synchronous=FULL",
         serve_args("--no-worker"), stores=True, query="?synchronous=full"),
    Side("floor_pg", "floor on PostgreSQL: + HMAC, JSON decode, body stored (group commit)",
         ["-m", "bench.service_load", "floor", "--threads", str(THREADS)], database=POSTGRES),
    Side("receive_pg", "`serve --no-worker` on PostgreSQL (receive only)",
         serve_args("--no-worker"), stores=True, database=POSTGRES),
    Side("receive2_pg", "2 × `serve --no-worker` on one PostgreSQL database, 4 connections "
         "each", serve_args("--no-worker"), stores=True, database=POSTGRES, processes=2),
    Side("receive_pg_sync", "`serve --no-worker` on PostgreSQL, `synchronous_commit=on` "
         "(its default)", serve_args("--no-worker"), stores=True, database=POSTGRES,
         query=POSTGRES_DEFAULT),
    Side("floor_granian", "floor on granian: the same steps as an RSGI app (SQLite, group "
         "commit in a thread)",
         ["-m", "bench.service_load", "floor", "--threads", str(THREADS), "--server",
          "granian"]),
    Side("granian", "`serve --server granian --no-worker` (receive only)",
         serve_args("--no-worker", "--server", "granian"), stores=True),
    Side("granian_serve", "`serve --server granian` (its default: the workers in a "
         "`skillrelay worker` process it starts)", serve_args("--server", "granian"),
         stores=True, ready=CHILD_READY),
    Side("granian_inproc", "`serve --server granian --worker-processes 0` (the workers in "
         "the process)", serve_args("--server", "granian", "--worker-processes", "0"),
         stores=True),
    Side("granian24", "`serve --server granian --no-worker`, 24 connections",
         serve_args("--no-worker", "--server", "granian"), connections=3 * CONNECTIONS,
         stores=True),
    Side("serve_pg", "`serve --server granian --worker-processes 0` on PostgreSQL (workers in "
         "the process)", serve_args("--server", "granian", "--worker-processes", "0"),
         stores=True, database=POSTGRES),
    Side("serve_pg_proc", "`serve --server granian` on PostgreSQL (its default: the workers in "
         "a `skillrelay worker` process it starts)", serve_args("--server", "granian"),
         stores=True, database=POSTGRES, ready=CHILD_READY),
    Side("split_pg", "`serve --server granian --no-worker` + a `skillrelay worker` process, "
         "one PostgreSQL database (scale-out)", serve_args("--no-worker", "--server", "granian"),
         stores=True, database=POSTGRES, workers=1),
    Side("split", "`serve --server granian --no-worker` + a `skillrelay worker` process, one "
         "SQLite file", serve_args("--no-worker", "--server", "granian"), stores=True,
         workers=1),
)  # fmt: skip


@dataclass(frozen=True)
class Ratio:
    label: str
    top: str
    bottom: str
    target: float  # 0: no target, the figure shows a cost
    of: str = "rps"  # "rps": requests/s; "cpu": server CPU per request; "cpu_all": + PostgreSQL's
    at_most: bool = False  # the target is a ceiling, not a floor


RATIOS: tuple[Ratio, ...] = (
    Ratio("T1 receive / floor", "receive", "floor", 0.8),
    Ratio("receive / the floor as a bare WSGI app (no Flask, as our webhook routes)", "receive",
          "floor_wsgi", 0.0),
    Ratio("T2 receive / bare", "receive", "bare", 0.65),
    Ratio("T2 serve / bare", "serve", "bare", 0.45),
    Ratio("T3 receive at 24 / at 8 connections", "receive24", "receive", 0.9),
    Ratio("durable against power loss: FULL / NORMAL", "receive_full", "receive", 0.0),
    Ratio("T1 on PostgreSQL: receive / floor", "receive_pg", "floor_pg", 0.8),
    Ratio("server CPU per request, PostgreSQL / SQLite (receive only)", "receive_pg",
          "receive", 1.1, of="cpu", at_most=True),
    Ratio("2 receive-only processes / 1, PostgreSQL", "receive2_pg", "receive_pg", 1.3),
    Ratio("CPU per request with PostgreSQL's own, PostgreSQL / SQLite (receive only)",
          "receive_pg", "receive", 0.0, of="cpu_all", at_most=True),
    Ratio("durable against power loss on PostgreSQL: synchronous_commit on / off",
          "receive_pg_sync", "receive_pg", 0.0),
    Ratio("T2 on granian: receive / bare", "granian", "bare", 0.65),
    Ratio("T2 on granian: serve / bare", "granian_serve", "bare", 0.45),
    Ratio("the server: granian / waitress (receive only)", "granian", "receive", 0.0),
    Ratio("T1 on granian: receive / floor on granian", "granian", "floor_granian", 0.8),
    Ratio("the floor: granian / waitress", "floor_granian", "floor", 0.0),
    Ratio("T3 on granian: receive at 24 / at 8 connections", "granian24", "granian", 0.9),
    Ratio("T2 scaled out on PostgreSQL: receiver + worker process / bare", "split_pg", "bare",
          0.45),
    Ratio("deciding in a worker process / in `serve`'s, PostgreSQL", "split_pg", "serve_pg",
          0.0),
    Ratio("deciding in a worker process / in `serve`'s, SQLite", "split", "granian_inproc",
          0.0),
    Ratio("T2 on PostgreSQL: `serve` with the worker process it starts / bare", "serve_pg_proc",
          "bare", 0.45),
    Ratio("`serve`'s worker process / its workers in the process, PostgreSQL", "serve_pg_proc",
          "serve_pg", 0.0),
    Ratio("`serve`'s worker process / its workers in the process, SQLite", "granian_serve",
          "granian_inproc", 0.0),
)  # fmt: skip


# --- one side, one round --------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """One process's deliveries: the warm-up's, then the measured ones."""

    warm: Requests
    main: Requests


def _load(made: Callable[[str, int], Deliveries], p: int, folder: Path, measured: int) -> Load:
    tag = str(p + 1) if p else ""
    warm = write_requests(
        made(f"warm{tag}", 10_000_000 * (2 * p + 1)), WARM, folder / f"warm{tag}.req"
    )
    main = made(f"main{tag}", 10_000_000 * (2 * p + 2))
    return Load(warm, write_requests(main, measured, folder / f"main{tag}.req"))


def _wrk_each(
    urls: Sequence[str], loads: Sequence[Load], side: Side, warm: bool, seconds: float
) -> list[dict[str, Any]]:
    """One wrk per process, all at the same time; each its share of connections and threads."""
    connections = side.connections // side.processes
    threads = max(1, WRK_THREADS // side.processes)

    def one(url: str, load: Load) -> dict[str, Any]:
        requests = load.warm if warm else load.main
        return run_wrk(url, requests, connections=connections, duration=seconds, threads=threads)

    if len(urls) == 1:
        return [one(urls[0], loads[0])]
    with ThreadPoolExecutor(len(urls)) as pool:
        runs = [pool.submit(one, url, load) for url, load in zip(urls, loads, strict=False)]
        return [done.result() for done in runs]


def _added(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Several processes' wrk figures as one side's: counts, rates and CPU added up; the
    latency percentiles are the worst process's."""
    if len(parts) == 1:
        return parts[0]
    summed = ("requests", "errors", "ok", "rps", "client_cpu", "wrapped",
              "connect", "read", "write", "status", "timeout")  # fmt: skip
    figures: dict[str, Any] = {key: sum(p[key] for p in parts) for key in summed}
    for key in ("p50_ms", "p99_ms", "elapsed"):
        figures[key] = max(p[key] for p in parts)
    figures["per_process_rps"] = [p["rps"] for p in parts]
    return figures


def _one(
    side: Side, n: int, folder: Path, dbs: Databases, pg: Postgres | None, manifest: Path,
    loads: Sequence[Load], seconds: float, warmup: float,
) -> dict[str, Any]:  # fmt: skip
    on_pg = pg if side.database == POSTGRES else None
    if side.database == POSTGRES and on_pg is None:
        raise RuntimeError(f"{side.name}: no PostgreSQL server")
    path: Path | None = None
    if on_pg is not None:
        database = on_pg.fresh()
    else:
        database, path = dbs.fresh()
    env = base_env(
        database + side.query, manifest, LRS_USERNAME="bench", LRS_PASSWORD="bench-password"
    )
    args = [a.replace("{port}", str(closed_port())) for a in side.args]
    if side.name.startswith("floor") and on_pg is not None:
        args += ["--database", database]
    elif side.name.startswith("floor"):
        args += ["--folder", str(folder / f"floor-{n}")]
        (folder / f"floor-{n}").mkdir()
    with ExitStack() as stack:  # a process (or several) per run
        servers = [
            stack.enter_context(child(args, env, folder / f"{side.name}-{n}-{i}.log", side.ready))
            for i in range(side.processes)
        ]
        servers += [
            stack.enter_context(worker(env, folder / f"{side.name}-{n}-worker{i}.log", f"w{i}"))
            for i in range(side.workers)
        ]
        urls = [server.url for server in servers if server.url]
        warm = _added(_wrk_each(urls, loads, side, True, warmup))
        cpu = [server.cpu() for server in servers]
        pg_cpu = on_pg.cpu() if on_pg is not None else 0.0
        figures = _added(_wrk_each(urls, loads, side, False, seconds))
        spent = [server.cpu() - before for server, before in zip(servers, cpu, strict=True)]
        figures["server_cpu"] = sum(spent)
        figures["worker_cpu"] = sum(spent[side.processes :])
        figures["pg_cpu"] = on_pg.cpu() - pg_cpu if on_pg is not None else 0.0
    exits = [server.exit_code for server in servers]
    figures["exit_code"] = next((code for code in exits if code), exits[0])
    figures["acknowledged"] = warm["ok"] + figures["ok"]  # answered 2xx, warm-up included
    if on_pg is not None:
        if side.stores:
            figures["inbox"] = on_pg.inbox_counts(database)
        elif side.name.startswith("floor"):
            figures["floor_rows"] = on_pg.floor_rows(database)
        on_pg.drop(database)
    elif side.stores:
        assert path is not None
        figures["inbox"] = inbox_counts(path)
    elif side.name.startswith("floor"):
        figures["floor_rows"] = sqlite_floor_rows(folder / f"floor-{n}" / "floor.db")
    return figures


def sqlite_floor_rows(path: Path) -> int:
    """How many bodies a SQLite floor stored."""
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT count(*) FROM inbox").fetchone()[0])


def measure(
    seconds: float = SECONDS, warmup: float = WARMUP, rounds: int = ROUNDS,
    sides: tuple[Side, ...] = SIDES, measured: int = MEASURED,
) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """Each side's figures, one entry per round."""
    found: dict[str, list[dict[str, Any]]] = {s.name: [] for s in sides}
    needs_pg = any(s.database == POSTGRES for s in sides)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp, postgres(needs_pg) as pg:
        folder = Path(tmp)
        dbs = Databases(folder)
        template = template_file(folder).read_text()
        secret = SECRETS["JIRA_WEBHOOK_SECRET"]
        made: Callable[[str, int], Deliveries] = lambda run, first: Deliveries(  # noqa: E731
            template, secret, project="PAY", first=first, run=run
        )
        # Distinct deliveries for each process of a side (process 0's for every side).
        loads = [_load(made, p, folder, measured) for p in range(max(s.processes for s in sides))]
        manifest = offline_manifest(folder)
        n = 0
        for r in range(rounds):
            turn = r % len(sides)
            for side in sides[turn:] + sides[:turn]:
                n += 1
                found[side.name].append(
                    _one(side, n, folder, dbs, pg, manifest, loads, seconds, warmup)
                )
    return found


# --- report ---------------------------------------------------------------------------------------


def _spread(values: list[float], fmt: str) -> str:
    return (
        f"{fmt.format(statistics.median(values))} (min {fmt.format(min(values))}, "
        f"max {fmt.format(max(values))})"
    )


def _cpu_ms(figures: dict[str, Any], key: str = "server_cpu") -> float:
    return float(figures[key]) * 1000 / max(1, int(figures["requests"]))


def _of(figures: dict[str, Any], of: str) -> float:
    if of == "cpu":
        return _cpu_ms(figures)
    if of == "cpu_all":
        return _cpu_ms(figures) + _cpu_ms(figures, "pg_cpu")
    return float(figures["rps"])


def report(found: dict[str, list[dict[str, Any]]], seconds: float, warmup: float) -> str:
    rounds = max(len(runs) for runs in found.values())
    lines = [
        f"{rounds} interleaved rounds; each side a fresh process and database, wrk "
        f"(2 threads, closed loop, keep-alive) for {warmup:g} s of warm-up, then {seconds:g} s "
        f"measured, with distinct signed deliveries (HMAC-SHA256, a delivery id each). "
        f"Every server is waitress with {THREADS} request threads, but the granian sides "
        f"(`serve --server granian`, {THREADS} threads for the rest of the app; the floor on "
        "granian, an RSGI app on one event loop). Figures are the median of the rounds, with "
        "min and max.",
        "",
        "Databases: the SQLite sides each get a fresh SQLite file (WAL, `synchronous=NORMAL` "
        "unless said). The PostgreSQL sides share one PostgreSQL "
        f"{version()} server on 127.0.0.1, started for the run with {durability()}, "
        "and each get a fresh database made from a migrated template, after a checkpoint. "
        "Server CPU is our processes': both receivers' for the two-process side, the "
        "receiver's and the worker's for the sides with a `skillrelay worker` (beside it, or "
        "started by `serve` itself; its default `--poll`, 2 s; on PostgreSQL the inbox's "
        "notifications wake it, on SQLite its look at the file every 20 ms). PostgreSQL CPU "
        "is its server's processes' "
        "(the postmaster, its backends and background workers), over the same measured "
        "seconds. The two-process side runs one wrk per process at the same time (4 "
        "connections, 1 thread each) and adds their requests/s up; its latencies are the "
        "slower process's.",
        "",
        "| side | database | conns | requests/s | p50 ms | p99 ms | errors | server CPU "
        "ms/request | PostgreSQL CPU ms/request | wrk CPU s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for side in SIDES:
        runs = found.get(side.name)
        if not runs:
            continue
        pg_cpu = (
            _spread([_cpu_ms(f, "pg_cpu") for f in runs], "{:.2f}")
            if side.database == POSTGRES
            else "–"
        )
        lines.append(
            f"| {side.label} | {side.database} | {side.connections} | "
            f"{_spread([f['rps'] for f in runs], '{:,.0f}')} | "
            f"{_spread([f['p50_ms'] for f in runs], '{:.1f}')} | "
            f"{_spread([f['p99_ms'] for f in runs], '{:.1f}')} | "
            f"{sum(f['errors'] for f in runs)} | "
            f"{_spread([_cpu_ms(f) for f in runs], '{:.2f}')} | {pg_cpu} | "
            f"{_spread([f['client_cpu'] for f in runs], '{:.1f}')} |"
        )
    lines += ["", "| ratio (per round) | result | target |", "|---|---:|---|"]
    for ratio in RATIOS:
        if ratio.top not in found or ratio.bottom not in found:
            continue
        pairs = zip(found[ratio.top], found[ratio.bottom], strict=True)
        values = [_of(a, ratio.of) / _of(b, ratio.of) for a, b in pairs]
        middle = statistics.median(values)
        met = middle <= ratio.target if ratio.at_most else middle >= ratio.target
        sign = "≤" if ratio.at_most else "≥"
        goal = (
            f"{sign} {ratio.target:g}×: {'met' if met else '**missed**'}"
            if ratio.target
            else "(the cost, no target)"
        )
        lines.append(f"| {ratio.label} | {_spread(values, '{:.2f}×')} | {goal} |")
    stored = [
        f"{side.name} {sum(_stored(f) or 0 for f in runs):,} of "
        f"{sum(f['acknowledged'] for f in runs):,}"
        for side in SIDES
        if (runs := found.get(side.name)) and _stored(runs[0]) is not None
    ]
    lines += [
        "",
        "Every acknowledged delivery is stored (ours: events in the inbox; the PostgreSQL "
        "floor: its rows), over the rounds, warm-up included, of those acknowledged (a "
        f"request wrk cut off at the end may be stored unanswered): {', '.join(stored)}. "
        "wrk used at most "
        f"{max(f['client_cpu'] for runs in found.values() for f in runs):.1f} s of CPU in "
        f"{seconds:g} s, so the reference is not capped by its load generator.",
        _repeats(found),
    ]
    decided = [
        f"{side.name} {sum(f['inbox'].get('new', 0) for f in runs):,} of "
        f"{sum(sum(f['inbox'].values()) for f in runs):,}"
        for side in SIDES
        if (runs := found.get(side.name)) and side.stores and _decides(side)
    ]
    if decided:
        lines += [
            "",
            "Left undecided when the processes were stopped (events still `new` in the inbox, "
            "over the rounds, of those stored), where something decides: "
            f"{', '.join(decided)}.",
        ]
    return "\n".join(lines) + "\n"


def _repeats(found: dict[str, list[dict[str, Any]]]) -> str:
    """Whether wrk ran out of distinct deliveries in a measured run (then it sends them
    again: duplicates, cheaper to answer than new ones)."""
    wrapped = {name: sum(f["wrapped"] for f in runs) for name, runs in found.items()}
    if not any(wrapped.values()):
        return "Every measured request was a distinct delivery (wrk never ran out of them)."
    sides = ", ".join(f"{name} {n}" for name, n in wrapped.items() if n)
    return (
        f"**Repeats:** wrk ran out of distinct deliveries and sent them again ({sides} "
        "times, a wrk thread each); those sides' figures include duplicates."
    )


def _decides(side: Side) -> bool:
    return side.workers > 0 or "--no-worker" not in side.args


def _stored(figures: dict[str, Any]) -> int | None:
    """What a side's run stored, where it was counted (None where it was not)."""
    if "inbox" in figures:
        return int(sum(figures["inbox"].values()))
    return figures.get("floor_rows")


def run(scale: float) -> str:
    seconds = max(1.0, SECONDS * scale)
    warmup = WARMUP
    found = measure(seconds, warmup, measured=max(5_000, int(MEASURED * scale)))
    return report(found, seconds, warmup)
