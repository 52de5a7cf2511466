"""How soon a `worker` beside `serve --no-worker` decides a delivery, on PostgreSQL.

Deliveries paced at RATE a second for SECONDS go to `serve --no-worker`; one `skillrelay
worker` (its default `--poll`, 2 s) decides them. Two sides, interleaved over ROUNDS rounds,
each on a fresh database:

- notified: as shipped: the inbox's trigger notifies `skillrelay_inbox` and the worker's
  listener wakes its pipeline;
- polled (the reference): the same processes on a database whose trigger was dropped, so the
  worker finds deliveries at its polls only, as every worker did before the notifications.

An event's latency is the database's own: its `processed_at` less its `received_at`.

    python -m bench wake [--scale 0.2]
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
import requests

from bench.bench_service import (
    SECRETS,
    base_env,
    child,
    offline_manifest,
    serve_args,
    template_file,
    worker,
)
from bench.ingest_pg import Postgres, postgres, version
from bench.service_load import ANONYMOUS, Deliveries

RATE, SECONDS, ROUNDS = 20.0, 10.0, 3
SETTLE = 10.0  # seconds to wait for the last deliveries to be decided
SIDES = ("notified", "polled")


def measure(
    rate: float = RATE, seconds: float = SECONDS, rounds: int = ROUNDS
) -> dict[str, list[list[float]]]:
    """Each side's latencies in seconds, one list per round."""
    found: dict[str, list[list[float]]] = {side: [] for side in SIDES}
    with tempfile.TemporaryDirectory(prefix="bench-wake-") as tmp, postgres(True) as pg:
        assert pg is not None
        folder = Path(tmp)
        manifest = offline_manifest(folder)
        template = template_file(folder).read_text()
        n = max(1, round(rate * seconds))
        for r in range(rounds):
            for side in SIDES if r % 2 == 0 else tuple(reversed(SIDES)):
                deliveries = Deliveries(
                    template, SECRETS["JIRA_WEBHOOK_SECRET"], project="PAY",
                    first=1_000_000 * (len(found[side]) + 1), run=f"{side}{r}",
                )  # fmt: skip
                found[side].append(_side(pg, folder, manifest, side, deliveries, rate, n))
    return found


def _side(
    pg: Postgres, folder: Path, manifest: Path, side: str, deliveries: Deliveries,
    rate: float, n: int,
) -> list[float]:  # fmt: skip
    database = pg.fresh()
    name = database.rsplit("/", 1)[1]
    if side == "polled":
        with psycopg.connect(pg.server.dsn(name), autocommit=True) as conn:
            conn.execute("DROP TRIGGER inbox_notify ON inbox")
    env = base_env(database, manifest, LRS_USERNAME="bench", LRS_PASSWORD="bench-password")
    logs = folder / name
    with (
        child(serve_args("--no-worker"), env, logs.with_suffix(".serve.log")) as serve,
        worker(env, logs.with_suffix(".worker.log"), "w0"),
        requests.Session() as session,
    ):
        started = time.monotonic() + 0.1
        for i in range(n):
            time.sleep(max(0.0, started + i / rate - time.monotonic()))
            body, headers = deliveries.request(i, **ANONYMOUS)
            answer = session.post(
                f"{serve.url}/webhooks/jira", data=body, headers=headers, timeout=30
            )
            answer.raise_for_status()
        with psycopg.connect(pg.server.dsn(name), autocommit=True) as conn:
            deadline = time.monotonic() + SETTLE
            while None in (found := _latencies(conn)) and time.monotonic() < deadline:
                time.sleep(0.1)
    pg.drop(database)
    if None in found or len(found) != n:
        raise RuntimeError(f"{side}: {found.count(None)} of {n} deliveries left undecided")
    return [value for value in found if value is not None]


def _latencies(conn: psycopg.Connection[Any]) -> list[float | None]:
    """Each stored event's decide latency in seconds, None while it is undecided."""
    rows = conn.execute(
        "SELECT extract(epoch FROM processed_at - received_at) FROM inbox "
        "WHERE source = 'jira' AND kind != 'delivery' ORDER BY id"
    ).fetchall()
    return [None if value is None else float(value) for (value,) in rows]


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} (min {min(values):,.0f}, max {max(values):,.0f})"


def report(found: dict[str, list[list[float]]], rate: float, seconds: float) -> str:
    rounds = len(found["notified"])
    lines = [
        f"{rounds} interleaved rounds; each side a fresh PostgreSQL {version()} database, "
        f"deliveries paced at {rate:g} a second for {seconds:g} s to `serve --no-worker` "
        "(waitress), decided by one `skillrelay worker` (default `--poll`, 2 s). notified: "
        "as shipped, the inbox's trigger notifies the worker's listener; polled (the "
        "reference): the trigger dropped, so the worker finds deliveries at its polls, as "
        "before notifications. Latency: each event's `processed_at` less its `received_at`, "
        "in the database. Figures: the median of the rounds' values, with min and max.",
        "",
        "| side | decided | p50 ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for side in SIDES:
        runs = found[side]
        lines.append(
            f"| {side} | {sum(len(r) for r in runs):,} | "
            + " | ".join(_spread([_pct(r, p) * 1000 for r in runs]) for p in (0.5, 0.95, 1.0))
            + " |"
        )
    ratios = [
        _pct(a, 0.95) / _pct(b, 0.95)
        for a, b in zip(found["notified"], found["polled"], strict=True)
    ]
    lines += [
        "",
        f"**p95, notified / polled (per round):** {statistics.median(ratios):.3f}× "
        f"(min {min(ratios):.3f}×, max {max(ratios):.3f}×).",
    ]
    return "\n".join(lines) + "\n"


def run(scale: float) -> str:
    seconds = max(1.0, SECONDS * scale)
    rounds = ROUNDS if scale >= 1 else 1
    return report(measure(RATE, seconds, rounds), RATE, seconds)
