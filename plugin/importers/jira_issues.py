"""`--format jira-issues`: Jira search results, ideally with `expand=changelog`.

A file holds one search page (`{"issues": [...]}`: Cloud GET /rest/api/3/search/jql, whose
`SearchAndReconcileResults` has `nextPageToken`/`isLast`, or Data Center /rest/api/2/search
with `startAt`/`total`), a JSON array of pages, JSON lines of pages, or bare issues in any of
these places. Each issue is read with the sync's own mapping (`to_ticket`, `ChangeEntry`,
`transitions`), so its changes get the sync's and the webhooks' natural keys
(`jira:<issue id>:<changelog id>`) and are never stored twice.

Status categories: a changelog names statuses by id. The id -> category map is learnt from
every issue's current `fields.status` in the file, plus the optional `--statuses` file (the
JSON of GET /rest/api/3/status or /rest/api/2/status). An issue whose changelog names a
status not known yet waits until the whole file is read. A change INTO a status whose
category is still unknown is rejected and reported with the status name, not stored
without a category: import again with `--statuses` and it is stored then.

Limits, without the changelog (no `expand=changelog`): only the issue's current state is
known, and `transitions` derives nothing from it; such issues are counted as ignored. Cloud
search embeds at most the newest changelog entries of an issue (`changelog.total` larger
than the entries given): those are imported and the truncation is reported; `skillrelay
sync --source jira` reads complete changelogs. Ask the search for the fields the engine reads
(status, resolution, assignee, labels, components, summary, project, updated and the skill
field): Cloud's /search/jql returns only `id` by default.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from connectors.jira_models import ChangeEntry, Deployment, StatusDetails, to_ticket, transitions
from plugin.domain import Ticket
from plugin.importers.base import WrongShape, first_error, items, kind_of
from plugin.importers.output import Output
from plugin.importers.reading import TOO_DEEP, Document, UnusableFile, open_json
from plugin.limits import deeper_than

UNKNOWN = "change into a status of unknown category"


@dataclass(frozen=True)
class _Issue:
    where: str
    ticket: Ticket
    entries: tuple[ChangeEntry, ...]
    raw: Mapping[str, Any]

    def status_ids(self) -> set[str]:
        moves = (e.status_change() for e in self.entries)
        return {s for m in moves if m is not None for s in (m.from_, m.to) if s}


class JiraIssuesFormat:
    name = "jira-issues"

    def __init__(
        self,
        base_url: str,
        deployment: Deployment,
        custom_fields: Sequence[str],
        categories: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url
        self.deployment: Deployment = deployment
        self.custom_fields = tuple(custom_fields)
        self.categories: dict[str, str] = dict(categories or {})  # status id -> category key
        self.names: dict[str, str] = {}  # status id -> name, as the file shows it
        self.waiting: list[_Issue] = []  # changelogs naming a status not known yet
        self.unknown: Counter[str] = Counter()  # status id -> changes rejected
        self.truncated = 0  # issues whose changelog Jira cut short
        self.snapshots = 0  # issues without a changelog

    def records(self, value: Any, where: str) -> Iterator[tuple[str, Any]]:
        if isinstance(value, list):
            for item_where, item in items(value, where):
                yield from self._page_or_issue(item, item_where)
        elif isinstance(value, dict) and ("issues" in value or _is_issue(value)):
            yield from self._page_or_issue(value, where)
        else:
            raise WrongShape(
                'expected a search page ({"issues": [...]}), an array of pages or an issue, '
                f"got {_describe(value)}"
            )

    def _page_or_issue(self, value: Any, where: str) -> Iterator[tuple[str, Any]]:
        issues = value.get("issues") if isinstance(value, dict) else None
        if isinstance(issues, list):
            for n, issue in enumerate(issues):
                yield f"{where} issues[{n}]", issue
        else:
            yield where, value  # an issue, or something read() rejects

    def read(self, where: str, record: Any, out: Output) -> None:
        out.summary.read += 1
        if not _is_issue(record):
            detail = (
                f'expected an issue or a search page ({{"issues": [...]}}), got {_describe(record)}'
            )
            out.rejected(where, "not an issue", detail)
            return
        where = f"{where} ({record['key']})" if isinstance(record.get("key"), str) else where
        try:
            ticket = to_ticket(
                record,
                base_url=self.base_url,
                deployment=self.deployment,
                custom_fields=self.custom_fields,
            )
        except ValidationError as exc:
            out.rejected(where, "unreadable issue", first_error(exc, "issue: "))
            return
        self._learn(record.get("fields"))
        changelog = record.get("changelog")
        if changelog is None:
            self.snapshots += 1
            out.ignored("issue without its changelog (search without expand=changelog)")
            return
        histories = changelog.get("histories") if isinstance(changelog, dict) else None
        if not isinstance(histories, list):
            out.rejected(where, "unreadable changelog", "changelog.histories: expected a list")
            return
        entries = self._entries(where, histories, out)
        total = changelog.get("total")
        if isinstance(total, int) and total > len(histories):
            self.truncated += 1
        raw = {k: v for k, v in record.items() if k != "changelog"}
        issue = _Issue(where, ticket, entries, raw)
        if issue.status_ids() <= self.categories.keys():
            self._emit(issue, out)
        else:
            self.waiting.append(issue)

    def finish(self, out: Output) -> None:
        for issue in self.waiting:
            self._emit(issue, out)
        self.waiting.clear()
        if self.unknown:
            names = ", ".join(
                f"'{self.names.get(s, s)}' (id {s}) x{n}" for s, n in sorted(self.unknown.items())
            )
            out.summary.notes.append(
                f"statuses of unknown category: {names}; pass --statuses with the JSON of "
                "GET /rest/api/3/status (Data Center: /rest/api/2/status) and import again"
            )
        if self.snapshots:
            out.summary.notes.append(
                f"{self.snapshots} issue(s) came without their changelog: only their current "
                "state is known, and no status change can be derived from it; search again "
                "with expand=changelog"
            )
        if self.truncated:
            out.summary.notes.append(
                f"{self.truncated} issue(s) came with a truncated changelog (Jira embeds only "
                "the newest entries in search results): older changes were not imported; "
                "`skillrelay sync --source jira` reads whole changelogs"
            )

    def _entries(self, where: str, histories: list[Any], out: Output) -> tuple[ChangeEntry, ...]:
        found: list[ChangeEntry] = []
        for n, history in enumerate(histories):
            try:
                entry = ChangeEntry.model_validate(history)
            except ValidationError as exc:
                prefix = f"changelog.histories[{n}]."
                out.rejected(where, "unreadable changelog entry", first_error(exc, prefix))
                continue
            found.append(entry)
            for item in history.get("items") or ():
                if (
                    isinstance(item, dict)
                    and (item.get("fieldId") or item.get("field")) == "status"
                ):
                    self._name(item.get("from"), item.get("fromString"))
                    self._name(item.get("to"), item.get("toString"))
        return tuple(found)

    def _emit(self, issue: _Issue, out: Output) -> None:
        known: list[ChangeEntry] = []
        for entry in issue.entries:
            move = entry.status_change()
            if move is not None and move.to and move.to not in self.categories:
                self.unknown[move.to] += 1
                name = self.names.get(move.to, move.to)
                detail = f"changelog {entry.id}: status '{name}' (id {move.to}): unknown category"
                out.rejected(issue.where, UNKNOWN, detail)
            else:
                known.append(entry)
        events = transitions(issue.ticket, known, self.categories, deployment=self.deployment)
        if not events and len(known) == len(issue.entries):
            out.ignored("issue without a status-category change in its changelog")
        for event in events:
            out.event(event, issue.raw)

    def _learn(self, fields: Any) -> None:
        status = fields.get("status") if isinstance(fields, dict) else None
        if not isinstance(status, dict):
            return
        status_id, category = status.get("id"), status.get("statusCategory")
        key = category.get("key") if isinstance(category, dict) else None
        if isinstance(status_id, str | int) and isinstance(key, str) and key:
            self.categories.setdefault(str(status_id), key)
            self._name(status_id, status.get("name"))

    def _name(self, status_id: Any, name: Any) -> None:
        if isinstance(status_id, str | int) and isinstance(name, str) and name:
            self.names.setdefault(str(status_id), name)


def read_statuses(path: Path, label: str) -> dict[str, str]:
    """Status id -> category key from the JSON of GET /rest/api/{2,3}/status (an array; a
    paged `{"values": [...]}` from /statuses/search works too). UnusableFile if unreadable."""
    found = open_json(path, label)
    value = found.value if isinstance(found, Document) else None
    if isinstance(value, dict) and isinstance(value.get("values"), list):
        value = value["values"]
    if not isinstance(value, list):
        raise UnusableFile(f"{label}: expected the JSON array GET /rest/api/3/status returns")
    categories: dict[str, str] = {}
    for where, item in items(value, label):
        if deeper_than(item):
            raise UnusableFile(f"{where}: {TOO_DEEP}")
        try:
            status = StatusDetails.model_validate(item)
        except ValidationError as exc:
            raise UnusableFile(f"{where}: {first_error(exc)}") from None
        if status.category is not None and status.category.key:
            categories[status.id] = status.category.key
    return categories


def _is_issue(value: Any) -> bool:
    return isinstance(value, dict) and "key" in value and ("fields" in value or "id" in value)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        keys = ", ".join(sorted(value)[:5]) or "no keys"
        return f"an object with {keys}"
    return kind_of(value)
