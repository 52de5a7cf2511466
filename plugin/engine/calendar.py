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
        self._sprints: dict[date, str | None] = {}

    def local_date(self, us: int) -> date:
        bucket = us // BUCKET_US
        found = self._dates.get(bucket)
        if found is None:
            at = datetime.fromtimestamp(bucket * BUCKET_US / 1e6, EPOCH.tzinfo)
            found = self._dates[bucket] = at.astimezone(self.zone).date()
        return found

    def sprint(self, us: int) -> str | None:
        day = self.local_date(us)
        if day not in self._sprints:
            found = next((s for s in self.sprints if s.contains(day)), None)
            self._sprints[day] = found.id if found else None
        return self._sprints[day]

    def quarter(self, us: int) -> str:
        day = self.local_date(us)
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
