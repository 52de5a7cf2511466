"""Run one import: file -> records -> events -> inbox, and the summary of what happened."""

from __future__ import annotations

from pathlib import Path

from plugin.importers.base import Format, WrongShape
from plugin.importers.output import Output, Summary
from plugin.importers.reading import TOO_DEEP, Document, UnusableFile, open_json
from plugin.limits import deeper_than


def import_file(path: Path, label: str, fmt: Format, out: Output) -> Summary:
    """Import every readable record; raises UnusableFile (exit 2) when none can be.

    `label` names the file in messages (as the admin typed it). Events already stored stay
    stored whatever happens later: each batch of `out` is its own transaction.
    """
    found = open_json(path, label)
    if isinstance(found, Document):
        try:
            records = list(fmt.records(found.value, label))
        except WrongShape as exc:
            raise UnusableFile(f"{label}: {exc}") from None
        for where, record in records:
            if deeper_than(record):  # a line's depth is checked as it is read
                out.summary.read += 1
                out.rejected(where, "too deep", TOO_DEEP)
                continue
            fmt.read(where, record, out)
    else:
        for line in found:
            where = f"{label}:{line.number}"
            if line.error is not None:
                out.summary.read += 1
                out.rejected(where, line.reason, line.error)
                continue
            try:
                for item_where, record in fmt.records(line.value, where):
                    fmt.read(item_where, record, out)
            except WrongShape as exc:
                out.summary.read += 1
                out.rejected(where, "not a record", str(exc))
    fmt.finish(out)
    out.flush()
    return out.summary
