"""The xAPI pull's saved cursor, and the probe that finds what an LRS's `since` compares.

The cursor value is a plain ISO 8601 time (a `timestamp` watermark, nothing else known: what
earlier versions saved) or a small JSON object:

    {"at": ISO time, "field": "timestamp" | "stored", "reread": ISO time | null,
     "lrs": "timestamp" | "stored" | null}

`at` is the watermark and `field` the statement time it measures; `reread` is when the
trailing window was last read again; `lrs` is what the LRS's `since` compares, once probed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from connectors.xapi_client import LrsClient, iso, parse_time
from connectors.xapi_models import Statement
from plugin.errors import ConfigError, ConnectorError

SinceField = Literal["timestamp", "stored"]
FIELDS: tuple[SinceField, ...] = ("timestamp", "stored")

# A statement whose `stored` is this much later than its `timestamp` can tell the two apart.
PROBE_GAP = timedelta(seconds=1)
PROBE_PAGES = 3


@dataclass(frozen=True)
class SourceCursor:
    at: datetime | None = None
    field: SinceField = "timestamp"
    reread: datetime | None = None
    lrs: SinceField | None = None

    def dump(self) -> str:
        if self.at is not None and self.field == "timestamp" and self == SourceCursor(self.at):
            return iso(self.at)
        value = {
            "at": iso(self.at) if self.at else None,
            "field": self.field,
            "reread": iso(self.reread) if self.reread else None,
            "lrs": self.lrs,
        }
        return json.dumps(value, separators=(",", ":"))

    def moved(self, **changes: object) -> SourceCursor:
        return replace(self, **changes)  # type: ignore[arg-type]


def read_source_cursor(value: str | None, stream: str = "statements") -> SourceCursor:
    if value is None or value == "":
        return SourceCursor()
    problem = f"xapi cursor for '{stream}' is not an ISO 8601 time nor a cursor: {value!r}"
    if not value.lstrip().startswith("{"):
        at = parse_time(value)
        if at is None:
            raise ConfigError(problem)
        return SourceCursor(at)
    try:
        data = json.loads(value)
    except ValueError:
        raise ConfigError(problem) from None
    if not isinstance(data, dict):
        raise ConfigError(problem)
    at, reread = _time(data.get("at"), problem), _time(data.get("reread"), problem)
    field, lrs = data.get("field", "timestamp"), data.get("lrs")
    if field not in FIELDS or (lrs is not None and lrs not in FIELDS):
        raise ConfigError(problem)
    return SourceCursor(at, field, reread, lrs)


def _time(value: object, problem: str) -> datetime | None:
    if value is None:
        return None
    parsed = parse_time(value) if isinstance(value, str) else None
    if parsed is None:
        raise ConfigError(problem)
    return parsed


def probe_sample(statement: Statement) -> bool:
    """Whether a statement can tell a `stored` filter from a `timestamp` one."""
    ts, stored = statement.timestamp, statement.stored
    return ts is not None and stored is not None and stored - ts >= PROBE_GAP


def probe_since(client: LrsClient, sample: Statement) -> SinceField | None:
    """What the LRS's `since` compares, asked with a statement stored well after its
    timestamp: `since` between the two and `until` its `stored` keep it when the LRS compares
    `stored` (the spec), and drop it when it compares `timestamp` (Ralph). None: no answer
    (an error, or too many look-alikes to find it among)."""
    assert sample.timestamp is not None and sample.stored is not None
    middle = sample.timestamp + (sample.stored - sample.timestamp) / 2
    activity = sample.object.id if sample.object.object_type == "Activity" else None
    pages = client.statements(
        since=middle,
        until=sample.stored,
        verb=sample.verb.id,
        activity=activity,
        ascending=False,  # the sample is the newest stored in range on a spec LRS
    )
    try:
        for count, page in enumerate(pages, start=1):
            if any(s.id == sample.id for s in page.statements):
                return "stored"
            if count >= PROBE_PAGES:
                return None
    except ConnectorError:
        return None
    return "timestamp"
