"""Times as users read them: to the minute, with their UTC offset."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta, timezone

from plugin.times import offset, shown

AT = datetime(2026, 11, 3, 13, 0, 59, 999_999, tzinfo=UTC)


def test_a_time_is_shown_to_the_minute_in_the_zone_asked_for_with_its_offset() -> None:
    assert shown(AT) == "2026-11-03 13:00 +00:00"
    assert shown(AT, zoneinfo.ZoneInfo("Europe/Berlin")) == "2026-11-03 14:00 +01:00"
    assert shown(AT, zoneinfo.ZoneInfo("Asia/Kolkata")) == "2026-11-03 18:30 +05:30"
    assert shown(AT, zoneinfo.ZoneInfo("America/St_Johns")) == "2026-11-03 09:30 -03:30"
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert shown(summer, zoneinfo.ZoneInfo("Europe/Berlin")) == "2026-07-01 14:00 +02:00"


def test_a_naive_time_is_utc_and_an_aware_one_keeps_its_own_offset() -> None:
    assert shown(datetime(2026, 1, 2, 3, 4)) == "2026-01-02 03:04 +00:00"
    east = datetime(2026, 1, 2, 3, 4, tzinfo=timezone(timedelta(hours=3)))
    assert shown(east) == "2026-01-02 03:04 +03:00"
    assert offset(east) == "+03:00"
