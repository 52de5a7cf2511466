"""Award rules and the two-week mini-sprints they are counted in."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from pydantic import Field, StrictInt

from plugin.manifest.base import Id, Strict, Text

Days = Annotated[StrictInt, Field(ge=0)]


class Rules(Strict):
    apply_window_days: Annotated[StrictInt, Field(ge=1)] = 30  # completion -> ticket done
    done_status_category: Literal["new", "indeterminate", "done"] = "done"
    excluded_resolutions: tuple[Text, ...] = ("Duplicate", "Won't Do")
    cooldown_days: Days = 0  # between two awards of one skill to one person
    max_awards_per_person_per_sprint: Annotated[StrictInt, Field(ge=1)] = 3
    min_in_progress_minutes: Days = 0  # a ticket must have been worked on this long


class Sprint(Strict):
    id: Id
    start: date
    length_days: Annotated[StrictInt, Field(ge=1, le=56)] = 14
    participants: tuple[Id, ...] = ()  # team ids and/or person ids
    focus_skills: tuple[Id, ...] = ()

    @property
    def end(self) -> date:
        """The first day after the sprint (exclusive end)."""
        return self.start + timedelta(days=self.length_days)

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end
