"""The sprint and calendar quarter of an instant, in the organisation's time zone."""

from __future__ import annotations

from datetime import date, datetime

from plugin.engine.facts import EPOCH
from plugin.manifest.model import Manifest

# Zone offsets and DST changes fall on quarter hours, so one local date per UTC quarter hour.
BUCKET_US = 15 * 60 * 1_000_000


class Calendar:
    def __init__(self, manifest: Manifest) -> None:
        self.zone = manifest.organisation.zone
        self.sprints = manifest.sprints  # first match wins, as in Manifest.sprint_on
        self._dates: dict[int, date] = {}
        self._days: dict[date, date] = {}
        self._sprints: dict[date, str | None] = {}
        self._quarters: dict[tuple[int, int], str] = {}  # one string each: slots keep them

    def local_date(self, us: int) -> date:
        bucket = us // BUCKET_US
        found = self._dates.get(bucket)
        if found is None:
            at = datetime.fromtimestamp(bucket * BUCKET_US / 1e6, EPOCH.tzinfo)
            day = at.astimezone(self.zone).date()
            found = self._dates[bucket] = self._days.setdefault(day, day)  # 96 buckets a day
        return found

    def sprint(self, us: int) -> str | None:
        day = self.local_date(us)
        if day not in self._sprints:
            found = next((s for s in self.sprints if s.contains(day)), None)
            self._sprints[day] = found.id if found else None
        return self._sprints[day]

    def quarter(self, us: int) -> str:
        day = self.local_date(us)
        key = (day.year, (day.month - 1) // 3 + 1)
        found = self._quarters.get(key)
        if found is None:
            found = self._quarters[key] = f"{key[0]}-Q{key[1]}"
        return found
