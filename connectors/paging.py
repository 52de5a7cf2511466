"""Tiny, I/O-free paginators. A connector picks one explicitly; none guesses from a response.

Each takes the last page's decoded body and says what to ask for next, or None when done,
and each refuses to go round in circles (a repeated token or link ends with an error).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plugin.errors import FatalError


@dataclass
class NextLink:
    """xAPI `more`: a (relative) link, empty on the last page."""

    service: str
    key: str = "more"
    seen: set[str] = field(default_factory=set)

    def next(self, body: dict[str, Any]) -> str | None:
        link = body.get(self.key) or None
        if link is None:
            return None
        if link in self.seen:
            raise FatalError(self.service, f"pagination loop: '{self.key}' link repeated")
        self.seen.add(link)
        return str(link)


@dataclass
class Token:
    """Jira Cloud `nextPageToken`; `isLast` or a missing token ends the walk."""

    service: str
    key: str = "nextPageToken"
    seen: set[str] = field(default_factory=set)

    def next(self, body: dict[str, Any]) -> str | None:
        token = body.get(self.key)
        if body.get("isLast") is True or not token:
            return None
        if token in self.seen:
            raise FatalError(self.service, f"pagination loop: '{self.key}' repeated")
        self.seen.add(token)
        return str(token)


@dataclass
class Offset:
    """startAt/maxResults/total (Jira Data Center search, Jira changelog pages)."""

    service: str
    items_key: str
    start: int = 0

    def next(self, body: dict[str, Any]) -> int | None:
        items = body.get(self.items_key) or []
        if not items or body.get("isLast") is True:
            return None
        start = int(body.get("startAt", self.start))
        following = start + len(items)
        total = body.get("total")
        if total is not None and following >= int(total):
            return None
        if start < self.start:
            raise FatalError(self.service, "pagination loop: startAt went backwards")
        self.start = following
        return following
