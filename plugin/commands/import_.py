"""`skillrelay import --format xapi|jira-webhook|jira-issues FILE`: backfill the inbox from
native payloads (an LRS export, saved webhook bodies, Jira search results).

Exit codes: 0 every record was readable; 1 some were rejected (each reported on stderr as
`FILE:LINE: what is wrong` or `FILE[item N]: ...`; the readable ones are stored); 2 the
file (or the manifest) cannot be used at all.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plugin.engine import ticket_fields
from plugin.errors import ConfigError
from plugin.importers import (
    FORMATS,
    Format,
    JiraIssuesFormat,
    JiraWebhookFormat,
    Output,
    Summary,
    UnusableFile,
    XapiFormat,
    import_file,
    read_statuses,
)
from plugin.manifest import Manifest, load_manifest
from plugin.printable import printable
from plugin.runtime import xapi_modules
from plugin.settings import database_url, manifest_path
from plugin.store import Store

MAX_REPORTED = 200  # problem lines printed; the rest are counted in the summary


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "import",
        help="backfill the inbox from a file of xAPI statements, Jira webhook bodies or "
        "Jira search results",
        description="Read native payloads into the inbox, deduplicated like sync and webhooks.",
    )
    parser.add_argument("--format", required=True, choices=FORMATS, help="what FILE holds")
    parser.add_argument("file", metavar="FILE", help="JSON, a JSON array, or JSON lines")
    parser.add_argument(
        "--statuses",
        metavar="FILE",
        help="jira-issues: the JSON of GET /rest/api/3/status, for statuses no issue shows",
    )
    parser.add_argument("--dry-run", action="store_true", help="read and count, store nothing")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--manifest", help="manifest file (default $SKILLRELAY_MANIFEST)")
    parser.add_argument("--database", help="database URL (default $SKILLRELAY_DATABASE_URL)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.statuses and args.format != "jira-issues":
        raise ConfigError("--statuses: only --format jira-issues reads a status list")
    manifest = load_manifest(manifest_path(args.manifest))
    report = Reporter()
    summary = Summary(args.file, args.format, dry_run=args.dry_run)
    try:
        fmt = build_format(manifest, args.format, args.statuses)
        if args.dry_run:
            out = Output(summary, None, datetime.now(UTC), report)
            import_file(Path(args.file), args.file, fmt, out)
        else:
            with Store.open(database_url(args.database)) as store:
                out = Output(summary, store, datetime.now(UTC), report)
                import_file(Path(args.file), args.file, fmt, out)
    except UnusableFile as exc:
        print(printable(str(exc)), file=sys.stderr)
        return exc.exit_code
    report.close()
    if args.json:
        print(json.dumps(summary.as_json(), sort_keys=True))
    else:
        print(render(summary))
    return summary.exit_code


def build_format(manifest: Manifest, name: str, statuses: str | None) -> Format:
    if name == "xapi":
        return XapiFormat(xapi_modules(manifest))
    jira = manifest.jira
    if jira is None:
        raise ConfigError(
            f"--format {name}: the manifest has no jira source (base_url, deployment)"
        )
    fields = ticket_fields(manifest)
    if name == "jira-webhook":
        return JiraWebhookFormat(jira.base_url, jira.deployment, fields)
    categories = read_statuses(Path(statuses), statuses) if statuses else {}
    return JiraIssuesFormat(jira.base_url, jira.deployment, fields, categories)


class Reporter:
    """Prints each problem on stderr as it is found (a long import shows them early)."""

    def __init__(self, limit: int = MAX_REPORTED) -> None:
        self.limit = limit
        self.count = 0

    def __call__(self, line: str) -> None:
        self.count += 1
        if self.count <= self.limit:
            # A problem may quote the file (a key, an event name): escaped, one line.
            print(printable(line), file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.count > self.limit:
            print(f"... and {self.count - self.limit} more problems", file=sys.stderr)


def render(s: Summary) -> str:
    def reasons(counts: dict[str, int]) -> str:
        return "; ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))

    ignored, rejected = sum(s.ignored.values()), sum(s.rejected.values())
    rows = [
        ("read", s.read, ""),
        ("events", s.events, ""),
        ("new", s.new, "would be offered to the inbox" if s.dry_run else ""),
        ("duplicates", s.duplicates, "already stored" if s.duplicates else ""),
        ("ignored", ignored, reasons(s.ignored)),
        ("rejected", rejected, reasons(s.rejected)),
    ]
    lines = [f"import {s.file} ({s.format}){': dry run, nothing stored' if s.dry_run else ''}"]
    lines += [f"  {name:<11}{n:>8}  {why}".rstrip() for name, n, why in rows]
    lines += [f"  note: {note}" for note in s.notes]
    # Reasons and notes may quote the file (a webhook's event name): escaped, one line each.
    return "\n".join(printable(line) for line in lines)
