"""`skillrelay manifest validate [PATH]` and `skillrelay manifest schema`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from plugin import settings
from plugin.manifest import load_manifest, schema_text


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


def run_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(schema_text())
    return 0
