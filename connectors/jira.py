"""Jira as an event source: issues updated since the cursor, turned into status-category moves.

Each search page becomes one Batch: the changelogs of the issues whose status category
changed inside the window (`statuscategorychangedate`), a TicketTransition for every
status-category change in them, the issue payloads as `raw`, and as cursor the latest
`updated` seen, never past the sync's `now`. The query starts `overlap` before the cursor
(JQL has minute precision, and search is eventually consistent); the inbox deduplicates
the overlap by natural key (`jira:<issue id>:<changelog id>`).

On Cloud a page's changelogs come from one bulk fetch filtered to status changes. Data
Center (v2 has no bulk fetch) reads them one issue at a time, and so does a Cloud site that
answers 404 for the bulk fetch: the first 404 switches the rest of that sync over (logged at
INFO); the next sync tries the bulk fetch again. Both ways give the same transitions.

The HTTP client (JiraClient) lives in connectors.jira_client and is re-exported here. It uses
`requests` through connectors.http, not the `jira` library: one retry policy for every
connector, and every request visible to the contract tests.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from connectors.jira_client import JiraClient, SearchPage
from connectors.jira_models import ChangeEntry, category_changed_since, to_ticket, transitions
from connectors.read_ahead import read_ahead
from plugin.domain import Ticket, TicketTransition
from plugin.errors import FatalError
from plugin.ports import Batch

__all__ = ["STREAM", "JiraClient", "JiraSource", "SearchPage"]

log = logging.getLogger("skillrelay.jira")

STREAM = "issues"


class JiraSource:
    """plugin.ports.EventSource over a JiraClient."""

    name = "jira"

    def __init__(
        self,
        client: JiraClient,
        *,
        projects: Sequence[str] = (),
        custom_fields: Sequence[str] = (),
        overlap: timedelta = timedelta(minutes=2),
        lookback: timedelta = timedelta(days=30),
    ) -> None:
        self.client = client
        self.projects = tuple(projects)
        self.custom_fields = tuple(custom_fields)
        self.overlap = overlap
        self.lookback = lookback  # how far the first sync (no cursor yet) looks back

    def pull(self, cursors: Mapping[str, str | None], now: datetime) -> Iterator[Batch]:
        saved = parse_cursor(cursors.get(STREAM))
        since = saved - self.overlap if saved is not None else now - self.lookback
        walk = _Walk(self, since)
        high = saved
        # Jira prepares the next search page while this one's changelogs are read and stored.
        pages = read_ahead(
            self.client.search_updated(
                since, until=now, projects=self.projects, custom_fields=self.custom_fields
            ),
            "jira-pull",
        )
        try:
            for page in pages:
                events, raws, errors, latest = walk.page(page)
                if latest is not None and (high is None or latest > high):
                    high = latest
                moved = high is not None and (saved is None or high > saved)
                cursor = format_cursor(min(high, now)) if high is not None and moved else None
                yield Batch(
                    STREAM, events, cursor, fetched=len(page.issues), raw=raws, errors=errors
                )
        finally:
            pages.close()  # a stopped pull does not wait for the page in flight


class _Walk:
    """One pull's state: the status map, read once (and again once if a status is new), and
    whether changelogs still come in bulk."""

    def __init__(self, source: JiraSource, since: datetime) -> None:
        self.source = source
        self.client = source.client
        self.since = since
        self.categories: dict[str, str] | None = None
        self.refreshed = False
        self.bulk = self.client.deployment == "cloud"

    def page(
        self, page: SearchPage
    ) -> tuple[list[TicketTransition], list[Mapping[str, Any]], list[str], datetime | None]:
        raws: list[Mapping[str, Any]] = []
        errors: list[str] = []
        latest: datetime | None = None
        changed: list[tuple[str, Ticket]] = []
        for raw in page.issues:
            label = str(raw.get("key") or raw.get("id") or "?")
            try:
                ticket = to_ticket(
                    raw,
                    base_url=self.client.site,
                    deployment=self.client.deployment,
                    custom_fields=self.source.custom_fields,
                )
                moved = category_changed_since(raw, self.since)
            except ValidationError:
                errors.append(f"{label}: unreadable issue payload")
                continue
            raws.append(raw)
            if ticket.updated is not None and (latest is None or ticket.updated > latest):
                latest = ticket.updated
            if moved:
                changed.append((label, ticket))
        events: list[TicketTransition] = []
        changelogs = self._changelogs(changed, errors)
        for _, ticket in changed:
            entries = changelogs.get(ticket.id)
            if entries is None:
                continue  # unreadable, reported
            moves = [i for e in entries if (i := e.status_change())]
            categories = self._categories({s for i in moves for s in (i.from_, i.to) if s})
            events += transitions(
                ticket,
                entries,
                categories,
                deployment=self.client.deployment,
                since=self.since,
            )
        return events, raws, errors, latest

    def _changelogs(
        self, changed: Sequence[tuple[str, Ticket]], errors: list[str]
    ) -> dict[str, list[ChangeEntry]]:
        """Issue id -> its changelog entries; an unreadable one is reported and left out."""
        if self.bulk and changed:
            try:
                found = self.client.bulk_changelogs([t.id for _, t in changed], fields=["status"])
            except FatalError as exc:
                if exc.status is not None:
                    raise
                errors += [f"{label}: unreadable changelog" for label, _ in changed]
                return {}
            if found is not None:
                return {t.id: found.get(t.id, []) for _, t in changed}
            self.bulk = False
            log.info(
                "jira: this site answered 404 for the bulk changelog fetch; reading "
                "changelogs one issue at a time for the rest of this sync"
            )
        out: dict[str, list[ChangeEntry]] = {}
        for label, ticket in changed:
            try:
                out[ticket.id] = self.client.changelog(ticket.id)
            except FatalError as exc:
                if exc.status is not None:
                    raise
                errors.append(f"{label}: unreadable changelog")
        return out

    def _categories(self, status_ids: set[str]) -> dict[str, str]:
        if self.categories is None:
            self.categories = self.client.status_categories()
        elif not self.refreshed and not status_ids <= self.categories.keys():
            self.refreshed = True  # a status created since the map was read
            self.categories = self.client.status_categories()
        return self.categories


def parse_cursor(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise FatalError("jira", f"the saved issues cursor is not an ISO time: {value!r}") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def format_cursor(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()
