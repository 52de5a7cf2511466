"""Which language a person reads: the manifest says, else their Moodle or Jira profile
does, else English. Profiles are asked once per person per process."""

from __future__ import annotations

import logging
from collections.abc import Callable

from plugin.manifest.people import Person
from plugin.notify.words import LANGUAGES

log = logging.getLogger("skillrelay.notify")

Lookup = Callable[[Person], str | None]  # a profile's language code, or None


def language(code: str | None) -> str | None:
    """ "ru", "ru_RU", "ru-RU" -> "ru"; a language we have no words in -> None."""
    if not code:
        return None
    short = code.replace("-", "_").split("_", 1)[0].lower()
    return short if short in LANGUAGES else None


class Locales:
    def __init__(self, lookups: tuple[Lookup, ...] = ()) -> None:
        self.lookups = lookups
        self.found: dict[str, str] = {}

    def __call__(self, person: Person) -> str:
        if person.locale:
            return person.locale
        if person.id not in self.found:
            self.found[person.id] = self._ask(person) or "en"
        return self.found[person.id]

    def _ask(self, person: Person) -> str | None:
        for lookup in self.lookups:
            try:
                found = language(lookup(person))
            except Exception as exc:  # a profile we cannot read: the next source, or English
                log.info("notify: no profile language for %s (%s)", person.id, type(exc).__name__)
                continue
            if found:
                return found
        return None


def moodle_lookup(users_by_id: Callable[[int], str | None]) -> Lookup:
    def lookup(person: Person) -> str | None:
        return users_by_id(person.moodle_user_id) if person.moodle_user_id else None

    return lookup


def jira_lookup(user_locale: Callable[[str], str | None]) -> Lookup:
    def lookup(person: Person) -> str | None:
        return user_locale(person.jira_account_id) if person.jira_account_id else None

    return lookup
