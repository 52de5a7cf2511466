"""Run benchmarks and record their sections in BENCHMARKS.md.

Each `bench/bench_<name>.py` has `run(scale: float) -> str` returning its Markdown section
(figures, the same-run reference and the ratio). `--scale` shrinks the workload for a smoke run;
only full-scale runs (scale 1) are written to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from bench.report import stamp, write_section


def available() -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help=f"which to run (default all): {available()}")
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    names = args.names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; valid: {', '.join(available())}")
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        body = module.run(args.scale)
        command = f".venv/bin/python -m bench {name}" + (
            f" --scale {args.scale}" if args.scale != 1 else ""
        )
        section = f"## {name}\n\n{stamp(command)}\n{body}"
        print(section, flush=True)
        if args.scale == 1:
            write_section(name, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
