"""`skillrelay sync`: pull completions and ticket changes since each cursor into the inbox."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import UTC, datetime
from typing import Any

from plugin.manifest import load_manifest
from plugin.printable import printable
from plugin.runtime import SOURCE_NAMES, Secrets, build_sources
from plugin.settings import database_url, manifest_path
from plugin.store import Store
from plugin.sync import SourceSummary, sync_all


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "sync", help="pull new completions and ticket changes into the inbox"
    )
    parser.add_argument("--source", choices=SOURCE_NAMES, help="only this source")
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    parser.add_argument("--dry-run", action="store_true", help="read, but store nothing")
    parser.add_argument(
        "--interval", type=float, default=300.0, help="seconds between passes (default 300)"
    )
    parser.add_argument("--manifest", help="manifest file (default $SKILLRELAY_MANIFEST)")
    parser.add_argument("--database", help="database URL (default $SKILLRELAY_DATABASE_URL)")
    parser.set_defaults(func=run)


class Progress:
    """A progress bar on a terminal, plain lines otherwise (logs, CI, cron mail)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.bars: dict[str, Any] = {}

    def __call__(self, source: str, fetched: int) -> None:
        if self.tty:
            from tqdm import tqdm

            bar = self.bars.get(source)
            if bar is None:
                bar = self.bars[source] = tqdm(desc=f"sync {source}", unit=" records")
            bar.update(fetched)
        else:
            print(f"sync {source}: +{fetched} records", file=sys.stderr, flush=True)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()


def render(summaries: list[SourceSummary], dry_run: bool) -> str:
    head = f"{'source':<8} {'fetched':>8} {'new':>8} {'duplicates':>10} {'errors':>7}  status"
    lines = [head]
    for s in summaries:
        status = "ok" if s.ok else f"stopped: {s.stopped}"
        counts = f"{s.fetched:>8} {s.new:>8} {s.duplicates:>10} {len(s.errors):>7}"
        lines.append(f"{s.source:<8} {counts}  {status}")
        lines.extend(f"  ! {error}" for error in s.errors[:10])
        if len(s.errors) > 10:
            lines.append(f"  ! ... and {len(s.errors) - 10} more")
    if dry_run:
        lines.append("dry run: nothing was stored; 'new' counts what would have been offered")
    # Errors quote what a source answered: escaped, one line each.
    return "\n".join(printable(line) for line in lines)


def run(args: argparse.Namespace) -> int:
    path = manifest_path(args.manifest)
    manifest = load_manifest(path)
    sources = build_sources(manifest, Secrets(str(path)), args.source)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Store.open(database_url(args.database)) as store:
        while True:
            progress = Progress()
            try:
                summaries = sync_all(
                    sources, store, datetime.now(UTC), dry_run=args.dry_run, progress=progress
                )
            finally:
                progress.close()
            print(render(summaries, args.dry_run), flush=True)
            if args.once or stop.wait(args.interval):
                break
    return 0 if all(s.ok for s in summaries) else 1
