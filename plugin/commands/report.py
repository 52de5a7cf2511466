"""`skillrelay report`: what learning changed, per skill, team, sprint or person."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plugin.manifest import load_manifest
from plugin.report.facts import read_activity
from plugin.report.measures import Report, build
from plugin.report.render import as_csv, as_json, as_table
from plugin.report.scope import BadArgument, day, make_scope
from plugin.report.words import LANGUAGES, Words
from plugin.settings import database_url, manifest_path
from plugin.store import Store

FORMATS = ("table", "csv", "json", "html")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "report",
        help="funnel, time to apply, work before and after, rewards and modules",
    )
    parser.add_argument("--skill", help="one skill id (default: every skill)")
    parser.add_argument("--team", help="one team's members")
    parser.add_argument("--sprint", help="one sprint: its participants and dates")
    parser.add_argument("--person", help="one person")
    parser.add_argument("--from", dest="start", metavar="YYYY-MM-DD", help="first local day")
    parser.add_argument("--to", metavar="YYYY-MM-DD", help="last local day (inclusive)")
    parser.add_argument(
        "--weeks", type=int, default=8, help="weeks before and after a completion (default 8)"
    )
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("--lang", choices=LANGUAGES, default="en")
    parser.add_argument("--output", metavar="FILE", help="write here instead of stdout")
    parser.add_argument("--manifest", help="manifest file (default $SKILLRELAY_MANIFEST)")
    parser.add_argument("--database", help="database URL (default $SKILLRELAY_DATABASE_URL)")
    parser.set_defaults(func=run)


def now() -> datetime:
    return datetime.now(UTC)


def render(report: Report, fmt: str, lang: str) -> str:
    if fmt == "json":
        return json.dumps(as_json(report), ensure_ascii=False, indent=2)
    if fmt == "csv":
        return as_csv(report)
    if fmt == "html":
        from plugin.report.page import as_html  # matplotlib is loaded only for the page

        return as_html(report, Words(lang))
    return as_table(report, Words(lang))


def run(args: argparse.Namespace) -> int:
    manifest = load_manifest(manifest_path(args.manifest))
    output = Path(args.output) if args.output else None
    if output is not None and not output.parent.is_dir():
        raise BadArgument(f"--output: the directory {str(output.parent)!r} does not exist")
    scope = make_scope(
        manifest,
        skill=args.skill,
        team=args.team,
        sprint=args.sprint,
        person=args.person,
        start=day(args.start, "--from") if args.start else None,
        to=day(args.to, "--to") if args.to else None,
        weeks=args.weeks,
    )
    with Store.open(database_url(args.database)) as store:
        activity = read_activity(store, manifest)
        awards = store.awards.list()
        checkins = store.checkins.list()
    report = build(activity, awards, manifest, scope, now(), checkins)
    text = render(report, args.format, args.lang)
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        output.write_text(text, encoding="utf-8")
    return 0
