"""Award rules, the two-week mini-sprints they are counted in, and the organisation's time
zone that dates them."""

from __future__ import annotations

import zoneinfo
from datetime import date, timedelta
from difflib import SequenceMatcher
from functools import cache
from typing import Annotated, Literal

from pydantic import Field, StrictInt
from pydantic_core import PydanticCustomError

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


# What people write for a zone, and the places they usually mean (the first is the usual).
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "ET": ("America/New_York",),
    "EST": ("America/New_York",),
    "EDT": ("America/New_York",),
    "CT": ("America/Chicago",),
    "CST": ("America/Chicago", "Asia/Shanghai"),
    "CDT": ("America/Chicago",),
    "MT": ("America/Denver",),
    "MST": ("America/Denver",),
    "MDT": ("America/Denver",),
    "PT": ("America/Los_Angeles",),
    "PST": ("America/Los_Angeles",),
    "PDT": ("America/Los_Angeles",),
    "AKST": ("America/Anchorage",),
    "AKDT": ("America/Anchorage",),
    "HST": ("Pacific/Honolulu",),
    "AST": ("America/Halifax",),
    "ADT": ("America/Halifax",),
    "NST": ("America/St_Johns",),
    "NDT": ("America/St_Johns",),
    "BRT": ("America/Sao_Paulo",),
    "ART": ("America/Argentina/Buenos_Aires",),
    "GMT": ("Europe/London",),
    "BST": ("Europe/London",),
    "UK": ("Europe/London",),
    "WET": ("Europe/Lisbon",),
    "WEST": ("Europe/Lisbon",),
    "CET": ("Europe/Berlin",),
    "CEST": ("Europe/Berlin",),
    "MEZ": ("Europe/Berlin",),
    "EET": ("Europe/Athens",),
    "EEST": ("Europe/Athens",),
    "MSK": ("Europe/Moscow",),
    "TRT": ("Europe/Istanbul",),
    "WAT": ("Africa/Lagos",),
    "CAT": ("Africa/Maputo",),
    "EAT": ("Africa/Nairobi",),
    "SAST": ("Africa/Johannesburg",),
    "GST": ("Asia/Dubai",),
    "PKT": ("Asia/Karachi",),
    "IST": ("Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"),
    "ICT": ("Asia/Bangkok",),
    "WIB": ("Asia/Jakarta",),
    "SGT": ("Asia/Singapore",),
    "HKT": ("Asia/Hong_Kong",),
    "PHT": ("Asia/Manila",),
    "JST": ("Asia/Tokyo",),
    "KST": ("Asia/Seoul",),
    "AWST": ("Australia/Perth",),
    "ACST": ("Australia/Adelaide",),
    "ACDT": ("Australia/Adelaide",),
    "AEST": ("Australia/Sydney",),
    "AEDT": ("Australia/Sydney",),
    "NZST": ("Pacific/Auckland",),
    "NZDT": ("Pacific/Auckland",),
}
# Zone names tzdata keeps for old systems: a fixed offset all year, so a New York or Denver
# organisation would count its days an hour off all summer.
FIXED_OFFSETS = {"EST": "America/New_York", "MST": "America/Denver"}
# Areas of current zone names; others (US/, Canada/, ...) are kept only as aliases.
AREAS = (
    "Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe",
    "Indian", "Pacific",
)  # fmt: skip
CLOSE_ENOUGH = 0.8  # a one- or two-letter slip in a place name; below that, no guess
LIKE = "use an IANA name like Europe/London"


def check_timezone(value: str) -> str:
    """An IANA zone name, or a PydanticCustomError that suggests the zone meant."""
    if value in FIXED_OFFSETS:
        raise PydanticCustomError(
            "timezone",
            "'{zone}' is a fixed offset that ignores daylight saving time; did you mean {place}?",
            {"zone": value, "place": FIXED_OFFSETS[value]},
        )
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        close = suggest_zones(value)
        hint = f"did you mean {_either(close)}?" if close else LIKE
        raise PydanticCustomError(
            "timezone", "unknown time zone '{zone}'; " + hint, {"zone": value}
        ) from None
    return value


def suggest_zones(value: str) -> tuple[str, ...]:
    """The zones `value` most likely means: by abbreviation (CST, MSK), else the closest
    full name or place name (US/Chicgo -> America/Chicago); none when nothing is close."""
    word = value.strip()
    if word.upper() in ABBREVIATIONS:
        return ABBREVIATIONS[word.upper()]
    if word.isalpha() and word.isupper() and len(word) <= 5:
        return ()  # an abbreviation we do not know: a guess by spelling would mislead
    if any(c.isdigit() for c in word):
        return ()  # an offset such as UTC+3 is not a place: no zone name is close
    scored = [(_similarity(word, zone), zone.split("/")[0] in AREAS, zone) for zone in _zones()]
    score, _, best = max(scored, key=lambda item: (item[0], item[1], [-ord(c) for c in item[2]]))
    return (best,) if score >= CLOSE_ENOUGH else ()


def _similarity(value: str, zone: str) -> float:
    """The better of the whole names and the place names (the part after the last '/')."""
    whole = SequenceMatcher(None, _plain(value), _plain(zone)).ratio()
    place = SequenceMatcher(None, _plain(_place(value)), _plain(_place(zone))).ratio()
    return max(whole, place)


def _place(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _plain(name: str) -> str:
    return name.lower().replace("_", " ").replace("-", " ").strip()


@cache
def _zones() -> tuple[str, ...]:
    """Names worth suggesting: places and UTC, not Etc/GMT+5 or old abbreviations."""
    names = zoneinfo.available_timezones()
    places = (n for n in names if "/" in n and not n.startswith(("Etc/", "SystemV/")))
    return (*sorted(places), "UTC")


def _either(zones: tuple[str, ...]) -> str:
    return zones[0] if len(zones) == 1 else f"{', '.join(zones[:-1])} or {zones[-1]}"
