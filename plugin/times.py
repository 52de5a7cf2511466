"""Times as users read them: to the minute, always with their UTC offset, so a time printed in
the organisation's zone is never mistaken for UTC (or the other way round)."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo


def shown(at: datetime, zone: tzinfo | None = None) -> str:
    """`2026-11-03 14:00 +01:00`: `at` in `zone` (as given when None; naive means UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    local = at.astimezone(zone) if zone is not None else at
    # isoformat, not strftime: half the time, and the decisions log shows every verdict's.
    return f"{local.isoformat(' ', 'minutes')[:16]} {offset(local)}"


def offset(at: datetime) -> str:
    """`+01:00`: the ISO offset of an aware time, to the minute."""
    delta = at.utcoffset()
    minutes = round(delta.total_seconds() / 60) if delta is not None else 0
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"
