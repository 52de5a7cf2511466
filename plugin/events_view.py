"""Inbox items as people read them: who, which skill, what happened, when, from where.

A ticket event names its statuses: the status the ticket showed in the event when that is
the status it moved to, otherwise Jira's name for the status category ("To Do", "In
Progress", "Done"). Jira's changelog names the old status, but the stored event keeps only
its category (often unknown for a webhook), so the old status is the one the ticket showed
in its previous stored event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta, tzinfo
from typing import Any

from pydantic import TypeAdapter, ValidationError

from plugin.domain import Completion, PersonRef, Progress, TicketTransition
from plugin.engine import IdentityResolver, SkillMatcher
from plugin.engine.facts import ticket_of
from plugin.manifest import Manifest
from plugin.store import InboxItem
from plugin.times import shown

# Delivery markers record a webhook call, no event; progress is shown, though never decided.
EVENT_KINDS = ("completion", "ticket", "progress")
Shown = Completion | TicketTransition | Progress
_EVENT: TypeAdapter[Shown] = TypeAdapter(Shown)
# Jira's names for its status categories (statusCategory.name).
CATEGORY_NAMES = {"new": "To Do", "indeterminate": "In Progress", "done": "Done"}
SAME_CHANGE = timedelta(minutes=1)  # a webhook fires a moment after the change it reports
VERBS = {
    "complete": "completed",
    "passed": "passed",
    "failed": "failed",
    "incomplete": "marked not completed",
}


@dataclass(frozen=True)
class EventRow:
    id: int
    source: str
    kind: str
    at: str  # ISO 8601 in UTC, with its offset
    when: str  # for people: in the organisation's zone, with its offset
    person: str | None  # manifest person id; None while unmatched
    person_ref: str  # how the source names them
    skills: tuple[str, ...]
    what: str  # terse, stable for scripts: "PAY-1 new -> done", "passed <module>"
    happened: str  # in words: "PAY-1 In Progress → Done", "started 'Module title' (viewed)"
    from_status: str | None
    to_status: str | None
    natural_key: str
    status: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def read(item: InboxItem) -> Shown | None:
    try:
        return _EVENT.validate_python(item.payload)
    except ValidationError:
        return None


def status_after(event: TicketTransition) -> str | None:
    """The status a transition moved the ticket to, as named in Jira (None: unknown)."""
    ticket = event.ticket
    if event.to_status:
        return event.to_status
    if event.to_category is None:
        return None
    # A search result shows the ticket as it is today, maybe changed again since.
    current = ticket.updated is None or ticket.updated <= event.at + SAME_CHANGE
    if current and ticket.status and ticket.status_category == event.to_category:
        return ticket.status
    return CATEGORY_NAMES.get(event.to_category, event.to_category)


class TicketHistory:
    """Each ticket's stored transitions in order, to name the status a transition left."""

    def __init__(self, events: Iterable[tuple[int, TicketTransition]]) -> None:
        self._by_ticket: dict[str, list[tuple[Any, int, TicketTransition]]] = {}
        for item_id, event in events:
            found = self._by_ticket.setdefault(event.ticket.id, [])
            found.append((event.at, item_id, event))
        for found in self._by_ticket.values():
            found.sort(key=lambda entry: (entry[0], entry[1]))

    def before(self, item_id: int, event: TicketTransition) -> TicketTransition | None:
        found = self._by_ticket.get(event.ticket.id, [])
        earlier = [e for at, i, e in found if (at, i) < (event.at, item_id)]
        return earlier[-1] if earlier else None


def status_before(event: TicketTransition, previous: TicketTransition | None) -> str | None:
    if event.from_status:
        return event.from_status
    category = event.from_category
    if previous is not None and category in (None, previous.to_category):
        return status_after(previous)
    return CATEGORY_NAMES.get(category, category) if category else None


def ticket_words(event: TicketTransition, before: str | None, after: str | None) -> str:
    key = event.ticket.key
    if event.natural_key.endswith(":created"):
        return f"{key} created in {after or 'an unknown status'}"
    if after is None:
        return f"{key} changed (its status is not known)"
    if event.from_category == event.to_category or before == after:
        return f"{key} changed while {after}"
    if before is None:
        return f"{key} moved to {after}"
    return f"{key} {before} → {after}"


class EventViewer:
    def __init__(
        self,
        manifest: Manifest,
        resolver: IdentityResolver | None = None,
        history: TicketHistory | None = None,
    ) -> None:
        self.manifest = manifest
        self.resolver = resolver or IdentityResolver(manifest)
        self.matcher = SkillMatcher(manifest)
        self.history = history or TicketHistory(())
        self.zone: tzinfo = manifest.organisation.zone

    def row(self, item: InboxItem) -> EventRow:
        event = read(item)
        if event is None:
            return EventRow(
                item.id,
                item.source,
                item.kind,
                "",
                "",
                None,
                "?",
                (),
                "unreadable",
                f"unreadable {item.kind} (kept in the inbox)",
                None,
                None,
                item.natural_key,
                item.status,
            )
        skills: tuple[str, ...]
        ref: PersonRef | None
        before = after = None
        if isinstance(event, Completion | Progress):
            found = self.manifest.modules_by_key.get(event.module)
            skills = (found[0].id,) if found else ()
            module = found[1].id if found else event.module
            title = f"'{found[1].title}'" if found else event.module
            ref = event.person
            if isinstance(event, Progress):
                what = f"{event.verb} {module}"
                happened = f"started {title} ({event.verb})"
            else:
                what = f"{event.state.value} {module}"
                happened = f"{VERBS.get(event.state.value, event.state.value)} {title}"
        else:
            ticket = event.ticket
            skills = tuple(sorted(self.matcher.shown(ticket_of(ticket))))
            ref = ticket.assignee or event.by
            what = f"{ticket.key} {event.from_category or '-'} -> {event.to_category or '-'}"
            after = status_after(event)
            before = status_before(event, self.history.before(item.id, event))
            happened = ticket_words(event, before, after)
        person = self.resolver.resolve(ref) if ref else None
        return EventRow(
            id=item.id,
            source=item.source,
            kind=item.kind,
            at=event.at.isoformat(timespec="minutes"),
            when=shown(event.at, self.zone),
            person=person,
            person_ref=f"{ref.system}:{ref.id}" if ref else "-",
            skills=skills,
            what=what,
            happened=happened,
            from_status=before,
            to_status=after,
            natural_key=item.natural_key,
            status=item.status,
        )


def newest(lists: Sequence[Sequence[InboxItem]], limit: int) -> list[InboxItem]:
    """The `limit` newest items of several newest-first lists, oldest first."""
    merged = sorted((i for found in lists for i in found), key=lambda i: i.id, reverse=True)
    return list(reversed(merged[:limit]))


def ticket_events(payloads: Iterable[tuple[int, str, Mapping[str, Any]]], ids: set[str]) -> Any:
    """(inbox id, transition) of the stored transitions of these ticket ids."""
    for item_id, _, payload in payloads:
        ticket = payload.get("ticket")
        if not isinstance(ticket, dict) or ticket.get("id") not in ids:
            continue
        try:
            event = _EVENT.validate_python(payload)
        except ValidationError:
            continue
        if isinstance(event, TicketTransition):
            yield item_id, event


def render(rows: list[EventRow]) -> str:
    header = ("#", "source", "when", "person", "skill", "what")
    table = [header] + [
        (
            str(r.id),
            r.source,
            r.when or "-",
            r.person or f"? {r.person_ref}",
            ",".join(r.skills) or "-",
            r.happened,
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in table
    )
