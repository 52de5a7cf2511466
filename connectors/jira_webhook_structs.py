"""The usual admin webhook read through msgspec Structs instead of the pydantic models.

`read_webhook` gives what `parse_jira_webhook` would give for a `jira:issue_created` or a
`jira:issue_updated` with a changelog id, in a fraction of the time (under load, the pydantic
path was a quarter of receiving a delivery). Anything else it leaves to the models by
answering None: a body msgspec refuses, a value out of range, a REST changelog, a key spelt
as a model's attribute name (the models accept `account_id` for `accountId`), other events.
So every refusal, and every error message, still comes from `parse_jira_webhook`'s own
path, and the tests hold the two paths to equal results (tests/test_jira_webhook_structs.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from pydantic import BaseModel, TypeAdapter, ValidationError

from connectors.jira_models import (
    ChangeItem,
    Deployment,
    JiraUser,
    StatusRef,
    field_value,
    person_ref,
)
from plugin.domain import PersonRef, Ticket, TicketTransition

CREATED = "jira:issue_created"
UPDATED = "jira:issue_updated"
MAX_EPOCH_MS = 253402300799999  # 9999-12-31T23:59:59.999Z
# Identifiers go into database indexes, whose entries have a size limit (PostgreSQL: ~2.7 kB);
# Jira's own are far shorter. A longer one is refused, not left to fail in the store.
MAX_ID = 255
USER_IDS = ("accountId", "key", "name", "emailAddress")

# What the models' path refuses as too long is refused here too, and then left to it.
Id = Annotated[str, msgspec.Meta(max_length=MAX_ID)]
Key = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID)]
Number = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]  # far under MAX_ID digits


class _Key(msgspec.Struct, gc=False):
    key: str | None = None


class _Project(msgspec.Struct, gc=False):
    key: Id | None = None
    # Not read, but checked for length as a user's identifiers are (numbers count as text).
    account_id: Id | Number | None = msgspec.field(default=None, name="accountId")
    name: Id | Number | None = None
    email: Id | Number | None = msgspec.field(default=None, name="emailAddress")


class _Named(msgspec.Struct, gc=False):
    name: str | None = None


class _User(msgspec.Struct, gc=False):
    account_id: Id | None = msgspec.field(default=None, name="accountId")
    name: Id | None = None
    key: Id | None = None
    email: Id | None = msgspec.field(default=None, name="emailAddress")
    display_name: str | None = msgspec.field(default=None, name="displayName")
    time_zone: str | None = msgspec.field(default=None, name="timeZone")
    locale: str | None = None


class _Status(msgspec.Struct, gc=False):
    id: str | int | None = None
    name: str | None = None
    category: _Key | None = msgspec.field(default=None, name="statusCategory")


class _Fields(msgspec.Struct, gc=False):
    summary: str | None = None
    status: _Status | None = None
    resolution: _Named | None = None
    issuetype: _Named | None = None
    assignee: _User | None = None
    labels: list[str] | None = None
    components: list[_Named] | None = None
    project: _Project | None = None
    updated: Any = None  # read by pydantic's datetime rules (_time)
    resolutiondate: Any = None
    statuscategorychangedate: Any = None


class _Issue(msgspec.Struct, gc=False):
    id: Key | Number
    key: Key
    fields: _Fields


class _Item(msgspec.Struct, gc=False):
    field: str | int | None = None
    field_id: str | int | None = msgspec.field(default=None, name="fieldId")
    from_: str | int | None = msgspec.field(default=None, name="from")
    to: str | int | None = None
    from_string: str | int | None = msgspec.field(default=None, name="fromString")
    to_string: str | int | None = msgspec.field(default=None, name="toString")


class _Changelog(msgspec.Struct, gc=False):
    id: Key | Number
    items: list[_Item] | None = None


class _Webhook(msgspec.Struct, gc=False):
    webhook_event: str = msgspec.field(name="webhookEvent")
    issue: _Issue
    timestamp: int | None = None
    user: _User | None = None
    changelog: _Changelog | None = None


def _attribute_names(model: type[BaseModel]) -> frozenset[str]:
    """The keys the model also accepts under their attribute name (populate_by_name)."""
    fields = model.model_fields.items()
    return frozenset(name for name, f in fields if f.alias and f.alias != name)


_USER_NAMES = _attribute_names(JiraUser)
_STATUS_NAMES = _attribute_names(StatusRef)
_ITEM_NAMES = _attribute_names(ChangeItem)
_TIME = TypeAdapter(datetime)


def read_webhook(
    body: Mapping[str, Any],
    *,
    base_url: str,
    deployment: Deployment,
    custom_fields: Sequence[str] = (),
) -> list[TicketTransition] | None:
    """The transition in a creation or a change of an issue; None: let the models decide."""
    event = body.get("webhookEvent")
    changelog = body.get("changelog")
    if event == UPDATED:
        if not isinstance(changelog, dict) or "id" not in changelog:
            return None
    elif event != CREATED:
        return None
    if _named_by_attribute(body):
        return None
    try:
        hook = msgspec.convert(body, _Webhook)
    except msgspec.ValidationError:
        return None
    ticket = _ticket(hook.issue, body["issue"]["fields"], base_url, deployment, custom_fields)
    if ticket is None:
        return None
    if hook.timestamp is None or not 0 <= hook.timestamp <= MAX_EPOCH_MS:
        return None  # the models' path reads `updated` instead, or names the error
    at = from_epoch_ms(hook.timestamp)
    by = _person(hook.user, deployment)
    category = ticket.status_category
    if event == CREATED:
        return [transition(f"jira:{ticket.id}:created", ticket, None, category, at, by)]
    change = hook.changelog
    assert change is not None  # checked on the dict above
    status = _status_item(change.items or [])
    if status is None:
        return [transition(f"jira:{ticket.id}:{change.id}", ticket, category, category, at, by)]
    before, after = None, category
    fields = hook.issue.fields
    assert fields.status is not None  # _ticket answers None without it
    status_id = _text(fields.status.id)
    moved_to = _text(status.to)
    if moved_to is not None and status_id is not None and moved_to != status_id:
        after = None  # the issue already shows a later status: category unknown
    names = (_text(status.from_string), _text(status.to_string))
    return [transition(f"jira:{ticket.id}:{change.id}", ticket, before, after, at, by, names)]


def _named_by_attribute(body: Mapping[str, Any]) -> bool:
    """Whether a user, status or changelog item spells a key as the model's attribute."""
    issue = body.get("issue")
    fields = issue.get("fields") if isinstance(issue, dict) else None
    if not isinstance(fields, dict):
        return False  # msgspec refuses it
    user, assignee, status = body.get("user"), fields.get("assignee"), fields.get("status")
    for found, names in ((user, _USER_NAMES), (assignee, _USER_NAMES), (status, _STATUS_NAMES)):
        if isinstance(found, dict) and not names.isdisjoint(found):
            return True
    items = body["changelog"].get("items") if isinstance(body.get("changelog"), dict) else None
    if isinstance(items, list):
        return any(isinstance(i, dict) and not _ITEM_NAMES.isdisjoint(i) for i in items)
    return False


def _ticket(
    issue: _Issue,
    raw_fields: Mapping[str, Any],
    base_url: str,
    deployment: Deployment,
    custom_fields: Sequence[str],
) -> Ticket | None:
    f = issue.fields
    status = f.status
    if status is None or status.category is None or not status.category.key:
        return None
    try:
        updated = _time(f.updated)
        resolved = _time(f.resolutiondate)
        _time(f.statuscategorychangedate)
    except ValidationError:
        return None
    return Ticket(
        id=str(issue.id),
        key=issue.key,
        project=f.project.key if f.project else None,
        summary=f.summary,
        status=status.name,
        status_category=status.category.key,
        resolution=f.resolution.name if f.resolution else None,
        issue_type=f.issuetype.name if f.issuetype else None,
        assignee=_person(f.assignee, deployment),
        labels=tuple(f.labels or ()),
        components=tuple(c.name for c in f.components or () if c.name),
        fields={name: field_value(raw_fields.get(name)) for name in custom_fields},
        updated=updated,
        resolution_date=resolved,
        url=f"{base_url.rstrip('/')}/browse/{issue.key}",
    )


def _status_item(items: list[_Item]) -> _Item | None:
    """The item that moved the status (as ChangeItem: `fieldId`, else `field`)."""
    return next((i for i in items if (_text(i.field_id) or _text(i.field)) == "status"), None)


def _person(user: _User | None, deployment: Deployment) -> PersonRef | None:
    return None if user is None else person_ref(user, deployment)


def from_epoch_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def transition(
    key: str,
    ticket: Ticket,
    before: str | None,
    after: str | None,
    at: datetime,
    by: PersonRef | None,
    names: tuple[str | None, str | None] = (None, None),
) -> TicketTransition:
    return TicketTransition(
        natural_key=key,
        ticket=ticket,
        from_category=before,
        to_category=after,
        at=at,
        by=by,
        from_status=names[0],
        to_status=names[1],
    )


def _time(value: Any) -> datetime | None:
    return None if value is None else _TIME.validate_python(value)


def _text(value: str | int | None) -> str | None:
    return str(value) if isinstance(value, int) else value
