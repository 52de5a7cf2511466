"""Inbox items as people read them: who, which skill, what happened, when, from where."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from plugin.domain import Completion, PersonRef, TicketTransition
from plugin.engine import IdentityResolver, SkillMatcher
from plugin.engine.facts import ticket_of
from plugin.manifest import Manifest
from plugin.store import InboxItem

_EVENT: TypeAdapter[Completion | TicketTransition] = TypeAdapter(Completion | TicketTransition)


@dataclass(frozen=True)
class EventRow:
    id: int
    source: str
    kind: str
    at: str
    person: str | None  # manifest person id; None while unmatched
    person_ref: str  # how the source names them
    skills: tuple[str, ...]
    what: str
    natural_key: str
    status: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class EventViewer:
    def __init__(self, manifest: Manifest, resolver: IdentityResolver | None = None) -> None:
        self.manifest = manifest
        self.resolver = resolver or IdentityResolver(manifest)
        self.matcher = SkillMatcher(manifest)

    def row(self, item: InboxItem) -> EventRow:
        try:
            event = _EVENT.validate_python(item.payload)
        except ValidationError:
            return EventRow(
                item.id,
                item.source,
                item.kind,
                "",
                None,
                "?",
                (),
                "unreadable",
                item.natural_key,
                item.status,
            )
        skills: tuple[str, ...]
        ref: PersonRef | None
        if isinstance(event, Completion):
            found = self.manifest.modules_by_key.get(event.module)
            skills = (found[0].id,) if found else ()
            module = found[1].id if found else event.module
            ref = event.person
            what = f"{event.state.value} {module}"
        else:
            ticket = event.ticket
            skills = tuple(sorted(self.matcher.shown(ticket_of(ticket))))
            ref = ticket.assignee or event.by
            what = f"{ticket.key} {event.from_category or '-'} -> {event.to_category or '-'}"
        person = self.resolver.resolve(ref) if ref else None
        return EventRow(
            id=item.id,
            source=item.source,
            kind=item.kind,
            at=event.at.isoformat(timespec="minutes"),
            person=person,
            person_ref=f"{ref.system}:{ref.id}" if ref else "-",
            skills=skills,
            what=what,
            natural_key=item.natural_key,
            status=item.status,
        )


def render(rows: list[EventRow]) -> str:
    header = ("#", "source", "when (UTC)", "person", "skill", "what")
    table = [header] + [
        (
            str(r.id),
            r.source,
            r.at.replace("+00:00", ""),
            r.person or f"? {r.person_ref}",
            ",".join(r.skills) or "-",
            r.what,
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in table
    )
