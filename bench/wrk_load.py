"""The load generator of the service benchmark: wrk (a compiled HTTP benchmarking tool, from
Debian), closed loop over keep-alive connections, sending distinct pre-signed deliveries.

The Python generator it replaces spent 4-6 s of CPU per 10 s at the bare view: its own
interpreter lock capped the reference. wrk's CPU is measured (wait4 of its process) and
reported next to the server's, so a reader can see the generator is not the bottleneck.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.service_load import ANONYMOUS, Deliveries

SCRIPT = Path(__file__).resolve().parent / "wrk_deliveries.lua"
HINT = "`make bench` installs it (Debian package wrk)"


@dataclass(frozen=True)
class Requests:
    path: Path
    count: int


def write_requests(deliveries: Deliveries, count: int, path: Path, start: int = 0) -> Requests:
    """`count` signed deliveries, numbers start.. start+count-1, in the script's format."""
    with path.open("wb") as out:
        for i in range(start, start + count):
            body, headers = deliveries.request(i, **ANONYMOUS)
            head = f"{headers['X-Hub-Signature']}\t{headers['X-Atlassian-Webhook-Identifier']}"
            out.write(f"{head}\t{len(body)}\n".encode() + body + b"\n")
    return Requests(path, count)


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError(f"wrk not found on PATH: {HINT}")
    return found


def run_wrk(
    url: str, requests: Requests, *, connections: int, duration: float, threads: int = 2
) -> dict[str, Any]:
    """One closed-loop run; wrk's figures plus its own CPU seconds (user + system)."""
    env = {**os.environ, "WRK_REQUESTS": str(requests.path), "WRK_THREADS": str(threads)}
    args = [
        wrk_binary(),
        "-t", str(threads),
        "-c", str(connections),
        "-d", f"{max(1, round(duration))}s",  # whole seconds only
        "--timeout", "30s",
        "-s", str(SCRIPT),
        url,
    ]  # fmt: skip
    # Output to files, not pipes: wait4 reaps wrk and gives its CPU, with nothing to drain.
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        process = subprocess.Popen(args, env=env, stdout=out_file, stderr=err_file)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read().decode(), err_file.read().decode()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{out[-2000:]}\n{err[-2000:]}")
    line = next((ln for ln in out.splitlines() if ln.startswith("WRK-JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no figures:\n{out[-2000:]}\n{err[-2000:]}")
    figures: dict[str, Any] = json.loads(line.removeprefix("WRK-JSON "))
    seconds = figures["duration_us"] / 1e6
    errors = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
    figures.update(
        elapsed=seconds,
        errors=errors,
        ok=figures["requests"] - errors,
        rps=(figures["requests"] - errors) / seconds,
        client_cpu=usage.ru_utime + usage.ru_stime,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
    )
    return figures


def summary(figures: Mapping[str, Any]) -> str:
    return (
        f"{figures['rps']:,.0f} req/s, p50 {figures['p50_ms']:.1f} ms, p99 "
        f"{figures['p99_ms']:.1f} ms, {figures['errors']} errors, wrk CPU "
        f"{figures['client_cpu']:.1f} s"
    )
