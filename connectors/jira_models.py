"""Typed views of the Jira answers skillrelay reads, and their mapping to domain events.

Lenient (extra="ignore"): only the fields we use are modelled. Cloud names people by
`accountId`; Data Center by `name` (the username) or, failing that, the stable `key`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from connectors.jira_adf import to_plain_text
from plugin.domain import PersonRef, Ticket, TicketTransition

Deployment = Literal["cloud", "datacenter"]

# What the engine reads; `statuscategorychangedate` tells which issues need their changelog.
ISSUE_FIELDS: tuple[str, ...] = (
    "status",
    "resolution",
    "assignee",
    "labels",
    "components",
    "summary",
    "project",
    "updated",
    "resolutiondate",
    "statuscategorychangedate",
    "issuetype",  # the report's share of bug-type tickets
)


_NULL_IS_EMPTY = BeforeValidator(lambda value: () if value is None else value)


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class JiraUser(Lenient):
    account_id: str | None = Field(None, alias="accountId")  # Cloud
    name: str | None = None  # Data Center username
    key: str | None = None  # Data Center stable user key
    email: str | None = Field(None, alias="emailAddress")  # null when the profile hides it
    display_name: str | None = Field(None, alias="displayName")
    time_zone: str | None = Field(None, alias="timeZone")
    locale: str | None = None  # e.g. "ru_RU": the language of the user's Jira profile

    def person(self, deployment: Deployment) -> PersonRef | None:
        return person_ref(self, deployment)


class UserLike(Protocol):
    """A Jira user read by the models or by msgspec (connectors.jira_webhook_structs)."""

    @property
    def account_id(self) -> str | None: ...
    @property
    def name(self) -> str | None: ...
    @property
    def key(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def display_name(self) -> str | None: ...


def person_ref(user: UserLike, deployment: Deployment) -> PersonRef | None:
    """How skillrelay names a Jira user: Cloud by accountId, Data Center by username or key."""
    ident = user.account_id if deployment == "cloud" else (user.name or user.key)
    if not ident:
        return None
    return PersonRef(
        system="jira", id=ident, email=user.email or None, display_name=user.display_name
    )


class StatusCategoryRef(Lenient):
    key: str | None = None


class StatusRef(Lenient):
    id: str | None = None
    name: str | None = None
    category: StatusCategoryRef | None = Field(None, alias="statusCategory")


class Named(Lenient):
    name: str | None = None


class ProjectRef(Lenient):
    key: str | None = None


class IssueFields(Lenient):
    summary: str | None = None
    status: StatusRef | None = None
    resolution: Named | None = None
    issuetype: Named | None = None
    assignee: JiraUser | None = None
    labels: tuple[str, ...] = ()
    components: tuple[Named, ...] = ()
    project: ProjectRef | None = None
    updated: datetime | None = None
    resolutiondate: datetime | None = None
    statuscategorychangedate: datetime | None = None

    @field_validator("labels", "components", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return () if value is None else value


class Issue(Lenient):
    id: str
    key: str
    fields: IssueFields = IssueFields()


class ChangeItem(Lenient):
    field: str | None = None
    field_id: str | None = Field(None, alias="fieldId")
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    from_string: str | None = Field(None, alias="fromString")
    to_string: str | None = Field(None, alias="toString")


class ChangeEntry(Lenient):
    """One changelog entry: Cloud `Changelog` (getChangeLogs, getBulkChangelogs) or a DC
    `histories` item.

    `created` is an ISO time in the per-issue changelog ("2025-12-31T10:00:00.000+0000") but
    epoch seconds in the spec's example of the bulk fetch (1492070429): pydantic reads both,
    and epoch milliseconds too (a number past 2e10 is taken as milliseconds).
    """

    id: str
    author: JiraUser | None = None
    created: datetime
    items: tuple[ChangeItem, ...] = ()

    def status_change(self) -> ChangeItem | None:
        return next((i for i in self.items if (i.field_id or i.field) == "status"), None)

    def order(self) -> tuple[datetime, int, str]:
        """Oldest first; entries of one instant by their (numeric) id, whatever the source."""
        return (self.created, int(self.id) if self.id.isdigit() else -1, self.id)


class IssueChangeLog(Lenient):
    """One issue's entries in a bulk fetch page (`IssueChangeLog`)."""

    issue_id: str = Field(alias="issueId")
    histories: Annotated[tuple[ChangeEntry, ...], _NULL_IS_EMPTY] = Field(
        (), alias="changeHistories"
    )


class BulkChangelogPage(Lenient):
    """A page of `POST /rest/api/3/changelog/bulkfetch` (`BulkChangelogResponseBean`)."""

    issues: Annotated[tuple[IssueChangeLog, ...], _NULL_IS_EMPTY] = Field(
        (), alias="issueChangeLogs"
    )
    next_page_token: str | None = Field(None, alias="nextPageToken")


class ServerInfo(Lenient):
    base_url: str | None = Field(None, alias="baseUrl")
    version: str | None = None
    deployment_type: str | None = Field(None, alias="deploymentType")
    server_title: str | None = Field(None, alias="serverTitle")


class StatusDetails(Lenient):
    id: str
    name: str | None = None
    category: StatusCategoryRef | None = Field(None, alias="statusCategory")


def field_value(value: Any) -> str | list[str] | None:
    """A custom field value as text: options give `value`, users and versions their name,
    multi-selects a list, ADF (Cloud textarea) its plain text, numbers their str()."""
    if value is None:
        return None
    if isinstance(value, list):
        return [v for v in (_scalar(item) for item in value) if v is not None]
    return _scalar(value)


def _scalar(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, Mapping):
        if value.get("type") == "doc":
            return to_plain_text(value)
        for key in ("value", "name", "accountId", "key", "displayName", "id"):
            if value.get(key) is not None:
                return str(value[key])
    return None


def to_ticket(
    raw: Mapping[str, Any],
    *,
    base_url: str,
    deployment: Deployment,
    custom_fields: Sequence[str] = (),
) -> Ticket:
    """Map a search result issue; raises pydantic.ValidationError when it is unreadable."""
    issue = Issue.model_validate(raw)
    f = issue.fields
    raw_fields: Mapping[str, Any] = raw.get("fields") or {}
    return Ticket(
        id=issue.id,
        key=issue.key,
        project=f.project.key if f.project else None,
        summary=f.summary,
        status=f.status.name if f.status else None,
        status_category=f.status.category.key if f.status and f.status.category else None,
        resolution=f.resolution.name if f.resolution else None,
        issue_type=f.issuetype.name if f.issuetype else None,
        assignee=f.assignee.person(deployment) if f.assignee else None,
        labels=f.labels,
        components=tuple(c.name for c in f.components if c.name),
        fields={name: field_value(raw_fields.get(name)) for name in custom_fields},
        updated=f.updated,
        resolution_date=f.resolutiondate,
        url=f"{base_url.rstrip('/')}/browse/{issue.key}",
    )


def category_changed_since(raw: Mapping[str, Any], since: datetime) -> bool:
    """Whether the issue may hold a status-category change at or after `since`.

    True when Jira does not tell (`statuscategorychangedate` absent): better one changelog
    read too many than a missed transition.
    """
    fields = Issue.model_validate(raw).fields
    changed = fields.statuscategorychangedate
    return changed is None or changed >= since


def transitions(
    ticket: Ticket,
    entries: Iterable[ChangeEntry],
    categories: Mapping[str, str],
    *,
    deployment: Deployment,
    since: datetime | None = None,
) -> list[TicketTransition]:
    """Every status-category change in `entries` (at or after `since`), oldest first.

    `categories` maps status id to statusCategory.key; an unknown status gives None.
    Moves between two statuses of one category are not category changes and are skipped.
    """
    out: list[TicketTransition] = []
    for entry in sorted(entries, key=ChangeEntry.order):
        item = entry.status_change()
        if item is None or (since is not None and entry.created < since):
            continue
        before = categories.get(item.from_) if item.from_ else None
        after = categories.get(item.to) if item.to else None
        if before == after:
            continue
        out.append(
            TicketTransition(
                natural_key=f"jira:{ticket.id}:{entry.id}",
                ticket=ticket,
                from_category=before,
                to_category=after,
                at=entry.created,
                by=entry.author.person(deployment) if entry.author else None,
                from_status=item.from_string,
                to_status=item.to_string,
            )
        )
    return out
