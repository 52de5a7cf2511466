"""Webhook ingest near the stack's limit: same-run ratios over interleaved rounds, with a
compiled load generator (wrk, bench/wrk_load.py) that is not the bottleneck.

Each round starts every side afresh (a new process, a new SQLite file) and loads it with
wrk for a warm-up, then for the measured seconds, from distinct pre-signed Jira Cloud
"issue moved to Done" deliveries (the same bodies for every side; the warm-up uses other
ones, so nothing measured is a repeat). The sides' order turns each round. Sides:

- bare: a Flask view that reads the body and answers 200 (waitress, 4 request threads);
- floor: + the HMAC check, the JSON decode and the body stored under its delivery id in
  SQLite with group commit (the least a durable, authenticated receiver does);
- receive: `skillrelay serve --no-worker` (8 connections), and at 3x the clients (24);
- serve: `skillrelay serve` with its pipeline and outbox workers (8 connections);
- receive_full: receive with SQLite `synchronous=FULL` (what surviving power loss costs).

Targets (issue "Ingest and pull near the stack's limit"): T1 receive >= 0.8x floor;
T2 receive >= 0.65x bare and serve >= 0.45x bare; T3 receive at 24 connections >= 0.9x
receive at 8. Reported per round as ratios, min/median/max, with each side's server CPU per
request and wrk's own CPU.

    python -m bench ingest [--scale 0.2]
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable
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
    serve_args,
    template_file,
    write_manifest,
)
from bench.service_load import Deliveries
from bench.wrk_load import Requests, run_wrk, write_requests

ROUNDS = 3
SECONDS, WARMUP = 10.0, 1.0
CONNECTIONS = 8
MEASURED = 60_000  # distinct deliveries: more than any side sends in SECONDS
WARM = 8_000


@dataclass(frozen=True)
class Side:
    name: str
    label: str
    args: list[str]
    connections: int = CONNECTIONS
    stores: bool = False  # ours: count what the inbox holds afterwards
    query: str = ""  # added to the SQLite URL


SIDES = (
    Side("bare", "bare Flask view (reads the body, 200)",
         ["-m", "bench.service_load", "bare", "--threads", str(THREADS)]),
    Side("floor", "floor: + HMAC, JSON decode, body stored (SQLite, group commit)",
         ["-m", "bench.service_load", "floor", "--threads", str(THREADS)]),
    Side("receive", "`serve --no-worker` (receive only)", serve_args("--no-worker"),
         stores=True),
    Side("receive24", "`serve --no-worker`, 24 connections", serve_args("--no-worker"),
         connections=3 * CONNECTIONS, stores=True),
    Side("serve", "`serve` (pipeline and outbox workers on)", serve_args(), stores=True),
    Side("receive_full", "`serve --no-worker`, SQLite synchronous=FULL",
         serve_args("--no-worker"), stores=True, query="?synchronous=full"),
)  # fmt: skip

RATIOS: tuple[tuple[str, str, str, float], ...] = (
    ("T1 receive / floor", "receive", "floor", 0.8),
    ("T2 receive / bare", "receive", "bare", 0.65),
    ("T2 serve / bare", "serve", "bare", 0.45),
    ("T3 receive at 24 / at 8 connections", "receive24", "receive", 0.9),
    ("durable against power loss: FULL / NORMAL", "receive_full", "receive", 0.0),
)


def _one(
    side: Side, folder: Path, dbs: Databases, manifest: Path, warm: Requests, main: Requests,
    seconds: float, warmup: float,
) -> dict[str, Any]:  # fmt: skip
    database, path = dbs.fresh()
    database += side.query
    env = base_env(database, manifest, LRS_USERNAME="bench", LRS_PASSWORD="bench-password")
    args = list(side.args)
    if side.name == "floor":
        args += ["--folder", str(folder / f"floor-{dbs.made}")]
        (folder / f"floor-{dbs.made}").mkdir()
    with child(args, env, folder / f"{side.name}-{dbs.made}.log") as server:  # one per run
        run_wrk(server.url, warm, connections=side.connections, duration=warmup)
        cpu = server.cpu()
        figures = run_wrk(server.url, main, connections=side.connections, duration=seconds)
        figures["server_cpu"] = server.cpu() - cpu
    figures["exit_code"] = server.exit_code
    if side.stores:
        figures["inbox"] = inbox_counts(path)
    return figures


def measure(
    seconds: float = SECONDS, warmup: float = WARMUP, rounds: int = ROUNDS,
    sides: tuple[Side, ...] = SIDES, measured: int = MEASURED,
) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """Each side's figures, one entry per round."""
    found: dict[str, list[dict[str, Any]]] = {s.name: [] for s in sides}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        folder = Path(tmp)
        dbs = Databases(folder)
        template = template_file(folder).read_text()
        secret = SECRETS["JIRA_WEBHOOK_SECRET"]
        made: Callable[[str, int], Deliveries] = lambda run, first: Deliveries(  # noqa: E731
            template, secret, project="PAY", first=first, run=run
        )
        warm = write_requests(made("warm", 10_000_000), WARM, folder / "warm.req")
        main = write_requests(made("main", 20_000_000), measured, folder / "main.req")
        manifest = write_manifest(
            folder,
            jira=f"http://127.0.0.1:{closed_port()}",
            lrs=f"http://127.0.0.1:{closed_port()}/xAPI",
            people=0,
        )
        for r in range(rounds):
            turn = r % len(sides)
            for side in sides[turn:] + sides[:turn]:
                found[side.name].append(
                    _one(side, folder, dbs, manifest, warm, main, seconds, warmup)
                )
    return found


def _spread(values: list[float], fmt: str) -> str:
    return (
        f"{fmt.format(statistics.median(values))} (min {fmt.format(min(values))}, "
        f"max {fmt.format(max(values))})"
    )


def _cpu_ms(figures: dict[str, Any]) -> float:
    return float(figures["server_cpu"]) * 1000 / max(1, int(figures["requests"]))


def report(found: dict[str, list[dict[str, Any]]], seconds: float, warmup: float) -> str:
    rounds = len(found["bare"])
    lines = [
        f"{rounds} interleaved rounds; each side a fresh process and SQLite file, wrk "
        f"(2 threads, closed loop, keep-alive) for {warmup:g} s of warm-up, then {seconds:g} s "
        f"measured, with distinct signed deliveries (HMAC-SHA256, a delivery id each). "
        f"Every server is waitress with {THREADS} request threads. Figures are the median "
        "of the rounds, with min and max.",
        "",
        "| side | conns | requests/s | p50 ms | p99 ms | errors | server CPU ms/request "
        "| wrk CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for side in SIDES:
        runs = found.get(side.name)
        if not runs:
            continue
        lines.append(
            f"| {side.label} | {side.connections} | "
            f"{_spread([f['rps'] for f in runs], '{:,.0f}')} | "
            f"{_spread([f['p50_ms'] for f in runs], '{:.1f}')} | "
            f"{_spread([f['p99_ms'] for f in runs], '{:.1f}')} | "
            f"{sum(f['errors'] for f in runs)} | "
            f"{_spread([_cpu_ms(f) for f in runs], '{:.2f}')} | "
            f"{_spread([f['client_cpu'] for f in runs], '{:.1f}')} |"
        )
    lines += ["", "| ratio (per round) | result | target |", "|---|---:|---|"]
    for label, top, bottom, target in RATIOS:
        if top not in found or bottom not in found:
            continue
        ratios = [a["rps"] / b["rps"] for a, b in zip(found[top], found[bottom], strict=True)]
        met = "met" if statistics.median(ratios) >= target else "**missed**"
        goal = f"≥ {target:g}×: {met}" if target else "(the cost, no target)"
        lines.append(f"| {label} | {_spread(ratios, '{:.2f}×')} | {goal} |")
    stored = [
        f"{side.name} {sum(sum(f['inbox'].values()) for f in runs):,}"
        for side in SIDES
        if side.stores and (runs := found.get(side.name))
    ]
    lines += [
        "",
        "Every acknowledged delivery is in the inbox (stored events over the rounds, warm-up "
        f"included): {', '.join(stored)}. wrk used at most "
        f"{max(f['client_cpu'] for runs in found.values() for f in runs):.1f} s of CPU in "
        f"{seconds:g} s, so the reference is not capped by its load generator.",
    ]
    return "\n".join(lines) + "\n"


def run(scale: float) -> str:
    seconds = max(1.0, SECONDS * scale)
    warmup = WARMUP
    found = measure(seconds, warmup, measured=max(5_000, int(MEASURED * scale)))
    return report(found, seconds, warmup)
