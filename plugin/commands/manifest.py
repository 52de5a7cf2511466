"""`skillrelay manifest validate [PATH]` and `skillrelay manifest schema`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from plugin import settings
from plugin.errors import ConfigError, Problem
from plugin.manifest import load_manifest, schema_text
from plugin.notify.words import Words


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "manifest", help="check the admin manifest or print its JSON Schema"
    )
    actions = parser.add_subparsers(dest="manifest_command", metavar="ACTION", required=True)
    validate = actions.add_parser(
        "validate", help="check a manifest; exit 2 with one line per problem"
    )
    default = f"${settings.MANIFEST_ENV}, else the example"
    validate.add_argument("path", nargs="?", help=f"manifest file (default: {default})")
    validate.set_defaults(func=run_validate)
    schema = actions.add_parser("schema", help="print the manifest's JSON Schema")
    schema.set_defaults(func=run_schema)


def run_validate(args: argparse.Namespace) -> int:
    path = settings.manifest_path(args.path)
    manifest = load_manifest(path)  # ConfigError -> the CLI prints it and exits 2
    template_problems(path)
    modules = sum(len(skill.modules) for skill in manifest.skills)
    counts = [
        (len(manifest.skills), "skill"),
        (modules, "module"),
        (len(manifest.rewards), "reward"),
        (len(manifest.teams), "team"),
        (len(manifest.sprints), "sprint"),
        (len(manifest.sources), "source"),
    ]
    summary = ", ".join(f"{n} {noun}{'' if n == 1 else 's'}" for n, noun in counts)
    print(f"{path}: ok — {summary}")
    return 0


def template_problems(path: Path) -> None:
    """Message templates next to the manifest (`templates/`), checked like the manifest:
    each problem as file:line, exit 2."""
    folder = path.parent / "templates"
    if not folder.is_dir():
        return
    found = []
    for line in Words(folder).problems():
        where, _, message = line.partition(": ")
        file, _, number = where.rpartition(":")
        if number.isdigit():
            found.append(Problem(file, int(number), "", message))
        else:
            found.append(Problem(where, None, "", message))
    if found:
        raise ConfigError(found)


def run_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(schema_text())
    return 0
