"""`skillrelay review PERSON`: the page a manager brings to a performance review."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from plugin.errors import ConfigError
from plugin.manifest import load_manifest
from plugin.pipeline import today_in
from plugin.report.review import Period, check_person, gather
from plugin.report.review_render import LANGS, csv_text, html, pdf
from plugin.settings import database_url, manifest_path
from plugin.store import Store

DEFAULT_DAYS = 90
FORMATS = ("html", "pdf", "csv")
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "review",
        help="one person's modules, applied skills, rewards and manager's notes over a period",
    )
    parser.add_argument("person", metavar="PERSON", help="manifest person id")
    day = "YYYY-MM-DD"
    parser.add_argument("--from", dest="start", metavar=day, help="default: 90 days before --to")
    parser.add_argument("--to", dest="end", metavar=day, help="last day, included (default: today)")
    parser.add_argument("--format", choices=FORMATS, default="html", help="default html")
    parser.add_argument("--output", metavar="FILE", help="write here (default: stdout)")
    parser.add_argument("--lang", choices=LANGS, default="en", help="default en")
    parser.add_argument("--manifest", help="manifest file (default $SKILLRELAY_MANIFEST)")
    parser.add_argument("--database", help="database URL (default $SKILLRELAY_DATABASE_URL)")
    parser.set_defaults(func=run)


def now() -> datetime:
    return datetime.now(UTC)


def parse_day(value: str, option: str) -> date:
    try:
        if ISO_DAY.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise ConfigError(f"{option}: {value!r} is not a date (YYYY-MM-DD)")


def period(start: str | None, end: str | None, today: date) -> Period:
    last = parse_day(end, "--to") if end else today
    first = parse_day(start, "--from") if start else last - timedelta(days=DEFAULT_DAYS)
    if first > last:
        raise ConfigError(f"--from {first} is after --to {last}")
    return Period(first, last)


def check_output(output: str | None, fmt: str) -> Path | None:
    """Where to write, checked before any work is done."""
    if output is None:
        # PDF bytes would garble a terminal; a pipe or a redirect takes them as they are.
        if fmt == "pdf" and sys.stdout.isatty():
            raise ConfigError("pdf needs --output FILE")
        return None
    path = Path(output)
    if not path.parent.is_dir():
        raise ConfigError(f"--output: directory {str(path.parent)!r} does not exist")
    if path.is_dir():
        raise ConfigError(f"--output: {output!r} is a directory")
    return path


def run(args: argparse.Namespace) -> int:
    manifest = load_manifest(manifest_path(args.manifest))
    check_person(manifest, args.person)
    moment = now()
    span = period(args.start, args.end, today_in(manifest, moment))
    path = check_output(args.output, args.format)
    with Store.open(database_url(args.database)) as store:
        review = gather(store, manifest, args.person, span, moment)
    if args.format == "pdf":
        data = pdf(review, args.lang)
        if path is not None:
            path.write_bytes(data)
        else:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
        return 0
    text = csv_text(review) if args.format == "csv" else html(review, args.lang)
    if path is not None:
        # newline="": the csv module already ends its rows with \r\n.
        path.write_text(text, encoding="utf-8", newline="")
    else:
        sys.stdout.write(text)
    return 0
