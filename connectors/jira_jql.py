"""The bounded, incremental JQL skillrelay runs, and the time windows it is split into.

JQL absolute dates have minute precision and are read in the time zone of the user who runs
the search (their profile), so an instant is written as that zone's wall-clock minute:
floored for a lower bound, ceiled for an upper one. A wall-clock minute that occurs twice
(the hour after a DST fall-back) is moved one DST shift outward, so the bound stays safe
whichever of the two instants Jira picks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal

JQL_TIME = "%Y-%m-%d %H:%M"
MINUTE = timedelta(minutes=1)


def floor_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def ceil_minute(at: datetime) -> datetime:
    floored = floor_minute(at)
    return floored if floored == at else floored + MINUTE


def _dst_shift(wall: datetime) -> timedelta:
    """How far apart the two instants of an ambiguous wall time are (zero if unambiguous)."""
    first = wall.replace(fold=0).utcoffset() or timedelta(0)
    second = wall.replace(fold=1).utcoffset() or timedelta(0)
    return abs(first - second)


def jql_time(at: datetime, tz: tzinfo, bound: Literal["lower", "upper"] = "lower") -> str:
    """`at` (aware) as a JQL date in `tz`, rounded outward to the minute."""
    if at.tzinfo is None:
        raise ValueError("JQL bounds need an aware datetime")
    instant = floor_minute(at) if bound == "lower" else ceil_minute(at)
    wall = instant.astimezone(tz).replace(tzinfo=None)
    shift = _dst_shift(wall.replace(tzinfo=tz))
    if shift:
        instant = instant - shift if bound == "lower" else instant + shift
        wall = instant.astimezone(tz).replace(tzinfo=None)
    return wall.strftime(JQL_TIME)


def quote(value: str) -> str:
    """A JQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def updated_jql(
    since: datetime,
    *,
    until: datetime | None = None,
    projects: Sequence[str] = (),
    tz: tzinfo = UTC,
) -> str:
    """`updated >= since [AND updated < until] [AND project in (...)]`, oldest first."""
    clauses = [f"updated >= {quote(jql_time(since, tz, 'lower'))}"]
    if until is not None:
        clauses.append(f"updated < {quote(jql_time(until, tz, 'upper'))}")
    if projects:
        clauses.append(f"project in ({', '.join(quote(p) for p in projects)})")
    return " AND ".join(clauses) + " ORDER BY updated ASC, key ASC"


def split_window(lo: datetime, hi: datetime) -> datetime | None:
    """The whole minute halfway between two minute-aligned bounds; None if one minute apart."""
    minutes = int((hi - lo) / MINUTE)
    if minutes < 2:
        return None
    return lo + (minutes // 2) * MINUTE
