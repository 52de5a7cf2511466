"""Which manifest person a system's name for someone is.

Order: the explicit ids a person carries in the manifest, then the identities the store has
learned (an admin's mapping), then e-mail (case-insensitive) when the manifest allows it.
xAPI actor keys look like `mbox:mailto:a@b`, `account:<homePage>|<name>`,
`mbox_sha1sum:<hex>` and `openid:<uri>` (see connectors.xapi_models). Moodle's Logstore names
a learner `account:<moodle url>|<moodle user id>`, so moodle_user_id matches those too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from plugin.domain import PersonRef
from plugin.manifest.model import Manifest

Learned = Mapping[tuple[str, str], str]
MAILTO = "mbox:mailto:"


def _home(url: str) -> str:
    return url.rstrip("/").lower()


def lower(text: str) -> str:
    """In lower case, without a copy when it already is (most e-mails are)."""
    return text if text.islower() else text.lower()


def _user_id(text: str) -> int | None:
    """A Moodle user id written the way str(int) writes it, else None."""
    if not (text.isascii() and text.isdigit()) or text.startswith("0"):
        return None
    try:
        return int(text)
    except ValueError:  # longer than int() reads
        return None


class IdentityResolver:
    """The indexes share the manifest's strings and ints: a manifest may name 100,000
    people, so no string is built per person that a lookup can do without."""

    def __init__(self, manifest: Manifest, learned: Learned | None = None) -> None:
        # A mapping to someone no longer in the manifest would award a stranger: ignore it.
        people = manifest.people_by_id if learned else {}
        self.learned = {k: v for k, v in (learned or {}).items() if v in people}
        self.match_by_email = manifest.identities.match_by_email
        self._jira: dict[str, str] = {}
        self._moodle: dict[int, str] = {}  # Logstore accounts on the Moodle source too
        self._xapi: dict[str, str] = {}  # the explicit xAPI accounts and mboxes
        self._email: dict[str, str] = {}
        moodle = manifest.moodle
        self._moodle_home = _home(moodle.url) if moodle else None
        ours = f"account:{self._moodle_home}|" if moodle else ""
        clash: dict[str, int] = {}  # explicit accounts that name a Logstore account
        everyone = manifest.identities.people
        for i, person in enumerate(everyone):
            self._email[lower(person.email)] = person.id
            if person.jira_account_id:
                self._jira[person.jira_account_id] = person.id
            if person.moodle_user_id is not None:
                self._moodle[person.moodle_user_id] = person.id
            if person.xapi_account:
                account = person.xapi_account
                key = f"account:{_home(account.home_page)}|{account.name}"
                self._xapi[key] = person.id
                if ours and key.startswith(ours):
                    clash[key] = i
            if person.xapi_mbox:
                self._xapi["mbox:" + person.xapi_mbox.lower()] = person.id
        for key, i in clash.items():  # the later person wins, as in one index of both
            uid = _user_id(key[len(ours) :])
            if uid is None:
                continue
            found = next((j for j, p in enumerate(everyone) if p.moodle_user_id == uid), -1)
            if found > i:
                self._xapi[key] = everyone[found].id

    def resolve(self, ref: PersonRef) -> str | None:
        """The person id for a PersonRef, or None while nobody claims it."""
        return self.lookup(ref.system, ref.id, (ref.email,) if ref.email else ())

    def lookup(self, system: str, ident: str, emails: Iterable[str] = ()) -> str | None:
        found = self._override(system, ident)
        if found is None:
            found = self.learned.get((system, ident))
        if found is None and self.match_by_email:
            found = self._by_email(system, ident, emails)
        return found

    def _override(self, system: str, ident: str) -> str | None:
        if system == "jira":
            return self._jira.get(ident)
        if system == "moodle":
            uid = _user_id(ident)
            return self._moodle.get(uid) if uid is not None else None
        if system != "xapi":
            return None
        if ident.startswith("account:"):
            home, sep, name = ident[len("account:") :].rpartition("|")
            if not sep:
                return None
            home = _home(home)
            found = self._xapi.get(f"account:{home}|{name}")
            if found is None and home == self._moodle_home:
                uid = _user_id(name)
                found = self._moodle.get(uid) if uid is not None else None
            return found
        return self._xapi.get(ident.lower()) if ident.startswith("mbox:") else None

    def _by_email(self, system: str, ident: str, emails: Iterable[str]) -> str | None:
        candidates = {e.lower() for e in emails}
        if system == "xapi" and ident.lower().startswith(MAILTO):
            candidates.add(ident[len(MAILTO) :].lower())
        # Several e-mails for one id is a source's oddity: pick a stable winner.
        matches = sorted(p for p in (self._email.get(e) for e in candidates) if p)
        return matches[0] if matches else None
