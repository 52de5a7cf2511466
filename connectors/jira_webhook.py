"""Jira webhook and Automation bodies turned into TicketTransitions. Pure: no I/O.

Three senders, one issue shape (the REST issue with no expand; reused via `to_ticket`):

- Admin webhooks (Cloud) and Data Center webhooks: `{"webhookEvent", "timestamp" (epoch ms),
  "user", "issue", "changelog"}`; `changelog` (`{"id", "items"}`) only on `jira:issue_updated`.
- Automation "Send web request", Automation format: the issue itself at the top level
  (`self`, `id`, `key`, `changelog`, `fields`).
- Automation "Send web request", Jira format: `{"issue": {...}}`, the changelog inside the
  issue (or beside it). Automation sends ids as numbers and its changelog in the REST shape
  (`{"histories": [...]}`, often null); the newest history entry stands for "the change".

Categories. `fields.status.statusCategory.key` is the category AFTER the change:
- a changelog with a status item gives `from_category=None` (the payload names the old status
  but not its category: the engine takes it from the ticket's previous transition) and
  `to_category` = the current category (None if the issue already shows another status than
  the item moved to, i.e. a later snapshot);
- a changelog without a status item (labels, assignee, ...) is a snapshot:
  `from_category == to_category == current category` ("the ticket's fields changed");
- `jira:issue_created` gives `None -> current category`;
- an Automation body with no changelog gives `None -> current category` as well: it cannot
  tell whether the status moved, and None lets the engine compare with what it knew.

Natural keys (the inbox stores each once per source "jira"):
- `jira:<issue id>:<changelog id>`: the key connectors.jira_models.transitions gives the
  same change, so a change seen by both the webhook and the sync is stored once;
- `jira:<issue id>:created` for a creation;
- `jira-automation:<sha256 of the canonical body>` for an Automation body with no changelog
  id (a retried request hashes the same).

`jira:issue_updated` without a changelog (a comment, a work log) and other events
(`jira:issue_deleted`, `comment_*`, ...) change nothing the engine reads: no transition.
Malformed bodies raise PayloadError naming the field, e.g. "issue.fields.status: missing".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from connectors.jira_models import ChangeItem, Deployment, JiraUser, to_ticket
from connectors.jira_webhook_structs import (
    CREATED,
    MAX_EPOCH_MS,
    MAX_ID,
    UPDATED,
    USER_IDS,
    from_epoch_ms,
    read_webhook,
    transition,
)
from plugin.domain import PersonRef, Ticket, TicketTransition
from plugin.errors import PayloadError

ISSUE_EVENTS = (CREATED, UPDATED)


def parse_jira_webhook(
    body: Mapping[str, Any],
    *,
    base_url: str,
    deployment: Deployment,
    custom_fields: Sequence[str] = (),
) -> list[TicketTransition]:
    """The transitions in an admin (Cloud) or Data Center webhook body; [] for other events."""
    found = read_webhook(
        body, base_url=base_url, deployment=deployment, custom_fields=custom_fields
    )
    if found is not None:  # the usual body, read the fast way with the same result
        return found
    event = body.get("webhookEvent")
    if not isinstance(event, str) or not event:
        raise PayloadError(_missing("webhookEvent", event))
    if event not in ISSUE_EVENTS:
        return []
    issue = _object(body, "issue", "issue")
    changelog = body.get("changelog")
    if event == UPDATED and changelog is None:
        return []
    ticket, category, status_id = _ticket(issue, base_url, deployment, custom_fields)
    at = _epoch_ms(body["timestamp"]) if "timestamp" in body else _updated(ticket)
    by = _person(body.get("user"), deployment, "user")
    if event == CREATED:
        key = f"jira:{ticket.id}:created"
        return [transition(key, ticket, None, category, at, by)]
    change = _change(changelog, "changelog")
    if change is None:
        return []
    change_id, items = change
    before, after = _categories(items, category, status_id)
    names = _status_names(items)
    return [transition(f"jira:{ticket.id}:{change_id}", ticket, before, after, at, by, names)]


def parse_automation(
    body: Mapping[str, Any],
    *,
    base_url: str,
    deployment: Deployment,
    custom_fields: Sequence[str] = (),
) -> list[TicketTransition]:
    """The transition an Automation "Send web request" body reports (either format)."""
    if "issue" in body:
        issue = _object(body, "issue", "issue")
        where = "issue."
        changelog = issue.get("changelog", body.get("changelog"))
    else:
        issue, where, changelog = body, "", body.get("changelog")
    ticket, category, status_id = _ticket(issue, base_url, deployment, custom_fields, where)
    at = _epoch_ms(body["timestamp"]) if "timestamp" in body else _updated(ticket, where)
    by = _person(body.get("user"), deployment, "user")
    change = _change(changelog, f"{where}changelog") if changelog is not None else None
    if change is None:
        key = f"jira-automation:{canonical_sha256(body)}"
        return [transition(key, ticket, None, category, at, by)]
    change_id, items = change
    before, after = _categories(items, category, status_id)
    names = _status_names(items)
    return [transition(f"jira:{ticket.id}:{change_id}", ticket, before, after, at, by, names)]


def canonical_sha256(body: Mapping[str, Any]) -> str:
    """sha256 of the body as canonical JSON (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _status_names(items: Sequence[ChangeItem]) -> tuple[str | None, str | None]:
    """The status names of a status change (fromString, toString), if it is one."""
    moved = next((i for i in items if (i.field_id or i.field) == "status"), None)
    return (moved.from_string, moved.to_string) if moved is not None else (None, None)


def _categories(
    items: Sequence[ChangeItem], category: str, status_id: str | None
) -> tuple[str | None, str | None]:
    moved = next((i for i in items if (i.field_id or i.field) == "status"), None)
    if moved is None:
        return category, category  # a snapshot: fields changed, the category did not
    if moved.to is not None and status_id is not None and moved.to != status_id:
        return None, None  # the issue already shows a later status: category unknown
    return None, category


def _ticket(
    issue: Mapping[str, Any],
    base_url: str,
    deployment: Deployment,
    custom_fields: Sequence[str],
    where: str = "issue.",
) -> tuple[Ticket, str, str | None]:
    """The ticket, its current category and status id; PayloadError names what is wrong."""
    for name in ("id", "key"):
        value = issue.get(name)
        if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
            raise PayloadError(_missing(f"{where}{name}", value, "a string"))
        _short(value, f"{where}{name}")
    fields = _object(issue, "fields", f"{where}fields")
    for name in ("project", "assignee"):
        found = fields.get(name)
        if isinstance(found, Mapping):
            for key in ("key", *USER_IDS):
                _short(found.get(key), f"{where}fields.{name}.{key}")
    status = _object(fields, "status", f"{where}fields.status")
    status_category = _object(status, "statusCategory", f"{where}fields.status.statusCategory")
    category = status_category.get("key")
    if not isinstance(category, str) or not category:
        field = f"{where}fields.status.statusCategory.key"
        raise PayloadError(_missing(field, category, "a string"))
    status_id = status.get("id")
    raw = {
        **issue,
        "id": str(issue["id"]),
        "fields": {**fields, "status": {**status, "id": _text(status_id)}},
    }
    try:
        ticket = to_ticket(
            raw, base_url=base_url, deployment=deployment, custom_fields=custom_fields
        )
    except ValidationError as exc:
        raise PayloadError(_first_error(exc, where)) from None
    return ticket, category, _text(status_id)


def _change(changelog: Any, where: str) -> tuple[str, tuple[ChangeItem, ...]] | None:
    """(changelog id, items) of a webhook changelog, or of the newest REST history entry;
    None when there is no id to key the change by."""
    if not isinstance(changelog, Mapping):
        raise PayloadError(_missing(where, changelog, "an object"))
    histories = changelog.get("histories")
    if "id" not in changelog and isinstance(histories, list):
        entries = [h for h in histories if isinstance(h, Mapping)]
        if not entries:
            return None
        newest = max(entries, key=lambda h: str(h.get("created") or ""))
        return _change(newest, f"{where}.histories[{histories.index(newest)}]")
    change_id = changelog.get("id")
    if change_id is None:
        return None
    if isinstance(change_id, bool) or not isinstance(change_id, str | int) or change_id == "":
        raise PayloadError(_missing(f"{where}.id", change_id, "a string or an integer"))
    _short(change_id, f"{where}.id")
    raw_items = changelog.get("items")
    raw_items = [] if raw_items is None else raw_items
    if not isinstance(raw_items, list):
        raise PayloadError(_missing(f"{where}.items", raw_items, "a list"))
    items: list[ChangeItem] = []
    for n, item in enumerate(raw_items):
        if not isinstance(item, Mapping):
            raise PayloadError(_missing(f"{where}.items[{n}]", item, "an object"))
        try:
            items.append(ChangeItem.model_validate({k: _text(v) for k, v in item.items()}))
        except ValidationError as exc:
            raise PayloadError(_first_error(exc, f"{where}.items[{n}].")) from None
    return str(change_id), tuple(items)


def _person(user: Any, deployment: Deployment, where: str) -> PersonRef | None:
    if user is None:
        return None
    if not isinstance(user, Mapping):
        raise PayloadError(_missing(where, user, "an object"))
    for key in USER_IDS:
        _short(user.get(key), f"{where}.{key}")
    try:
        return JiraUser.model_validate(user).person(deployment)
    except ValidationError as exc:
        raise PayloadError(_first_error(exc, f"{where}.")) from None


def _epoch_ms(value: Any) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_EPOCH_MS:
        raise PayloadError(_missing("timestamp", value, "epoch milliseconds"))
    return from_epoch_ms(value)


def _updated(ticket: Ticket, where: str = "issue.") -> datetime:
    if ticket.updated is None:
        raise PayloadError(f"{where}fields.updated: missing (and no timestamp)")
    if ticket.updated.tzinfo is None:
        return ticket.updated.replace(tzinfo=UTC)
    return ticket.updated.astimezone(UTC)


def _object(parent: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any]:
    value = parent.get(name)
    if not isinstance(value, Mapping):
        raise PayloadError(_missing(where, value, "an object"))
    return value


def _text(value: Any) -> Any:
    """Automation sends ids as numbers; the models read them as strings."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _short(value: Any, field: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # Automation sends ids as numbers; stored as text all the same
    if isinstance(value, str) and len(value) > MAX_ID:
        raise PayloadError(f"{field}: longer than {MAX_ID} characters")


def _missing(field: str, value: Any, expected: str = "a non-empty string") -> str:
    if value is None:
        return f"{field}: missing"
    return f"{field}: expected {expected}, got {type(value).__name__}"


def _first_error(exc: ValidationError, prefix: str) -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    path = ".".join(str(part) for part in error["loc"])
    return f"{prefix}{path}: {error['msg']}"
