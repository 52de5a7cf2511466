"""`skillrelay demo`: the loop on embedded defaults (SQLite, a local LRS, the example manifest)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from plugin.demo.run import run_demo
from plugin.settings import manifest_path


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo", help="run the whole loop locally on embedded defaults"
    )
    parser.add_argument("--dir", default=".demo", help="where the demo database goes (.demo)")
    parser.add_argument("--manifest", help="manifest file (default: the example)")
    parser.set_defaults(func=lambda args: run_demo(Path(args.dir), manifest_path(args.manifest)))
