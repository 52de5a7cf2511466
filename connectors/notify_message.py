"""One rendered learner notification, read from an outbox effect's payload (no I/O).

The planner queues one effect per message and channel; every channel's sender reads the
same payload:

    {"person": "ben.carter", "kind": "awarded", "lang": "en",
     "subject": "...", "text": "plain text, paragraphs split by blank lines",
     "html": "<p>escaped HTML</p>",
     "to": {"name": ..., "email": ..., "jira_account_id": ..., "jira_username": ...,
            "moodle_user_id": ...},
     "ticket": "PAY-101" | null, "links": [{"text": ..., "url": ...}],
     "unsubscribe_url": "https://..." | null}

A payload no sender can read raises FatalError (the effect is dead-lettered with why); the
reasons name the effect's key and the manifest person id, never the message's words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from plugin.effects import Effect
from plugin.errors import FatalError

_LANG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


@dataclass(frozen=True)
class Link:
    text: str
    url: str


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str | None = None
    jira_account_id: str | None = None
    jira_username: str | None = None
    moodle_user_id: int | None = None


@dataclass(frozen=True)
class Notification:
    key: str  # the effect's idempotency key
    person: str  # manifest person id
    kind: str
    lang: str
    subject: str
    text: str
    html: str
    to: Recipient
    ticket: str | None = None
    links: tuple[Link, ...] = ()
    unsubscribe_url: str | None = None

    @classmethod
    def read(cls, effect: Effect, service: str) -> Notification:
        """The effect's message, or a FatalError of `service` saying what is missing."""
        reader = _Reader(effect, service)
        payload = effect.payload
        to = payload.get("to")
        if not isinstance(to, Mapping):
            raise reader.fail("has no 'to' recipient")
        lang = reader.text("lang")
        if not _LANG.match(lang):
            raise reader.fail(f"has an unusable language tag {lang[:20]!r}")
        unsubscribe = reader.optional(payload, "unsubscribe_url")
        if unsubscribe is not None and not _web_url(unsubscribe):
            raise reader.fail("has an unsubscribe_url that is not an http(s) URL")
        return cls(
            key=effect.idempotency_key,
            person=reader.text("person"),
            kind=reader.text("kind"),
            lang=lang,
            subject=reader.text("subject"),
            text=reader.text("text"),
            html=reader.text("html"),
            to=Recipient(
                name=reader.optional(to, "name") or reader.text("person"),
                email=reader.optional(to, "email"),
                jira_account_id=reader.optional(to, "jira_account_id"),
                jira_username=reader.optional(to, "jira_username"),
                moodle_user_id=reader.user_id(to),
            ),
            ticket=reader.optional(payload, "ticket"),
            links=reader.links(),
            unsubscribe_url=unsubscribe,
        )

    def paragraphs(self) -> list[str]:
        """The plain-text body split at blank lines, each paragraph's lines kept."""
        chunks = re.split(r"\n[ \t]*\n", self.text.strip().replace("\r\n", "\n"))
        return [c.strip("\n") for c in chunks if c.strip()]


def _web_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class _Reader:
    def __init__(self, effect: Effect, service: str) -> None:
        self.effect = effect
        self.service = service

    def fail(self, what: str) -> FatalError:
        return FatalError(self.service, f"notification {self.effect.idempotency_key} {what}")

    def text(self, name: str) -> str:
        value = self.effect.payload.get(name)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"has no {name}")
        return value

    def optional(self, where: Mapping[str, Any], name: str) -> str | None:
        value = where.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            raise self.fail(f"has a {name} that is not text")
        return value.strip()

    def user_id(self, to: Mapping[str, Any]) -> int | None:
        value = to.get("moodle_user_id")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise self.fail("has a moodle_user_id that is not a positive integer")
        return value

    def links(self) -> tuple[Link, ...]:
        raw = self.effect.payload.get("links") or []
        if not isinstance(raw, list):
            raise self.fail("has links that are not a list")
        links: list[Link] = []
        for item in raw:
            text = item.get("text") if isinstance(item, Mapping) else None
            url = item.get("url") if isinstance(item, Mapping) else None
            if not isinstance(url, str) or not _web_url(url):
                raise self.fail("has a link without an http(s) URL")
            label = text.strip() if isinstance(text, str) and text.strip() else url
            links.append(Link(label, url))
        return tuple(links)
