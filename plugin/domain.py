"""Domain events every source is normalised into before they reach the inbox and the engine."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

System = Literal["jira", "moodle", "xapi"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def unstorable(value: object, where: str = "") -> str | None:
    """What makes `value` unstorable, and where: text with a NUL character or a lone UTF-16
    surrogate, which no database stores or compares the same way (PostgreSQL refuses NUL,
    UTF-8 has no surrogates). Looks inside models, tuples, lists and dicts."""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            found = unstorable(getattr(value, name), f"{where}.{name}" if where else name)
            if found is not None:
                return found
        return None
    if isinstance(value, str):
        if "\x00" in value:
            return f"{where or 'text'}: contains a NUL character"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{where or 'text'}: contains a lone UTF-16 surrogate"
        return None
    if isinstance(value, tuple | list):
        items = (unstorable(v, f"{where}[{i}]") for i, v in enumerate(value))
        return next((p for p in items if p is not None), None)
    if isinstance(value, dict):
        pairs = ((unstorable(k, where) or unstorable(v, f"{where}.{k}")) for k, v in value.items())
        return next((p for p in pairs if p is not None), None)
    return None


class PersonRef(Frozen):
    """How one system names a person; identities resolve it to a manifest person id."""

    system: System
    id: str  # Jira accountId / key, Moodle user id, xAPI actor key (see connectors.xapi)
    email: str | None = None
    display_name: str | None = None


class CompletionState(StrEnum):
    INCOMPLETE = "incomplete"  # back to not done (Moodle state 0, xAPI `uncompleted`, voided)
    COMPLETE = "complete"
    PASSED = "passed"
    FAILED = "failed"


class Completion(Frozen):
    """A learner's module state changed (Moodle completion, or an xAPI statement)."""

    kind: Literal["completion"] = "completion"
    source: System
    natural_key: str  # unique per source: statement id, or moodle user:cmid:state:time
    person: PersonRef
    module: str  # "moodle:cm:<cmid>" or an xAPI activity IRI
    state: CompletionState
    at: datetime


ProgressVerb = Literal[
    "attempted", "launched", "initialized", "progressed", "viewed", "resumed", "enrolled"
]


class Progress(Frozen):
    """A learner started or worked on a module without finishing it (an xAPI `launched`,
    `viewed`...). A signal for reminders only: the pipeline marks it processed without
    deciding, and no engine, replay or report reads it."""

    kind: Literal["progress"] = "progress"
    source: Literal["xapi", "moodle"]
    natural_key: str  # unique per source: the statement id
    person: PersonRef
    module: str  # as Completion.module: "moodle:cm:<cmid>" or an xAPI activity IRI
    verb: ProgressVerb  # the verb's short name
    at: datetime


class Ticket(Frozen):
    """The fields of a Jira issue the engine reads."""

    id: str
    key: str
    project: str | None = None
    summary: str | None = None
    status: str | None = None
    status_category: str | None = None  # Jira statusCategory.key: new | indeterminate | done
    resolution: str | None = None
    issue_type: str | None = None  # Bug, Story, Task…: the report's share of bug-type work
    assignee: PersonRef | None = None
    labels: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    fields: dict[str, str | list[str] | None] = Field(default_factory=dict)  # custom fields
    updated: datetime | None = None
    resolution_date: datetime | None = None
    url: str | None = None


class TicketTransition(Frozen):
    """A ticket moved between status categories (from the changelog or a webhook)."""

    kind: Literal["ticket"] = "ticket"
    source: Literal["jira"] = "jira"
    natural_key: str  # jira:<issue id>:<changelog id> or a webhook identifier
    ticket: Ticket
    from_category: str | None
    to_category: str | None
    at: datetime
    by: PersonRef | None = None
    # The status names the changelog gives (fromString / toString), when it has them.
    from_status: str | None = None
    to_status: str | None = None
