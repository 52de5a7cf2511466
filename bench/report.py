"""Write each benchmark's Markdown section into BENCHMARKS.md, leaving the others as they are."""

from __future__ import annotations

import os
import platform
import re
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
HEADER = """# Benchmarks

Each section is written by `make bench` (or `.venv/bin/python -m bench NAME`), with the
command, the machine and a reference measured in the same run: these machines are shared
and noisy, so ratios are the figures to compare across runs.
"""


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            models = [ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")]
        if models:
            cpu = models[0]
    except OSError:
        pass
    mem = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem = f", {pages / 2**30:.0f} GiB RAM"
    except (ValueError, OSError):
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}){mem}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def stamp(command: str) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"_Measured {when} on {machine()}._\n\nCommand: `{command}`\n"


def write_section(name: str, body: str, path: Path = BENCHMARKS) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    section = f"{begin}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    text = (
        pattern.sub(lambda _: section, text)
        if pattern.search(text)
        else f"{text.rstrip()}\n\n{section}\n"
    )
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def spread(values: Sequence[float], fmt: str, unit: str = "") -> str:
    """The median of the rounds with their range: `12.8× (12.7–12.9)`."""
    mid = statistics.median(values)
    return f"{mid:{fmt}}{unit} ({min(values):{fmt}}–{max(values):{fmt}})"
