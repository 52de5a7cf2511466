"""Lenient models of the xAPI statements skillrelay reads, and the actor keys people get.

Third-party payloads: `extra="ignore"`, and only the fields we read are modelled (id, actor,
verb.id, object.id/objectType, result.completion/success, context.contextActivities,
timestamp, stored). Timestamps become timezone-aware UTC datetimes (a naive one is read as
UTC).

An actor key is how skillrelay names an xAPI agent in `PersonRef(system="xapi", id=...)`:

    mbox:mailto:ana@example.org        mbox_sha1sum:<40 hex digits, lower case>
    openid:https://id.example/ana      account:<homePage>|<name>

`agent()` turns a key back into an xAPI Agent for the statements we send.

A pull reads statements with `read_statement` into `StatementStruct`: msgspec Structs with
the same fields, checked in C, for a fraction of what validating into the models costs.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from msgspec.structs import force_setattr
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from plugin.domain import PersonRef

VERB_VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


def _as_list(value: Any) -> Any:
    """contextActivities values may be one activity object or an array of them."""
    if isinstance(value, dict):
        return [value]
    return value


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Account(_Lenient):
    home_page: str = Field(alias="homePage")
    name: str


class Actor(_Lenient):
    object_type: str = Field("Agent", alias="objectType")
    name: str | None = None
    mbox: str | None = None
    mbox_sha1sum: str | None = None
    openid: str | None = None
    account: Account | None = None


class Verb(_Lenient):
    id: str


class ActivityRef(_Lenient):
    id: str


ActivityList = Annotated[tuple[ActivityRef, ...], BeforeValidator(_as_list)]


class ContextActivities(_Lenient):
    parent: ActivityList = ()
    grouping: ActivityList = ()
    category: ActivityList = ()
    other: ActivityList = ()


class Context(_Lenient):
    context_activities: ContextActivities | None = Field(None, alias="contextActivities")


class StatementObject(_Lenient):
    object_type: str = Field("Activity", alias="objectType")
    id: str | None = None  # absent only for a SubStatement


class Result(_Lenient):
    completion: bool | None = None
    success: bool | None = None


class Statement(_Lenient):
    id: str = Field(min_length=1)
    actor: Actor
    verb: Verb
    object: StatementObject
    result: Result | None = None
    context: Context | None = None
    timestamp: UtcDatetime | None = None
    stored: UtcDatetime | None = None


# -- the same statement as msgspec Structs, for pages read in bulk ---------------------------
#
# Same attribute names as the models, and the same rules, but msgspec accepts less: a time
# in another notation (`2024-05-01`, a comma before the fraction...) or a bool written as a
# string is refused, and then the model decides (`read_statement`). So a statement is
# accepted or refused exactly as by the model, with equal values. gc=False: they are
# immutable and hold no containers that could make a cycle, so the collector can skip them.


class AccountStruct(msgspec.Struct, frozen=True, gc=False):
    home_page: str = msgspec.field(name="homePage")
    name: str


class ActorStruct(msgspec.Struct, frozen=True, gc=False):
    object_type: str = msgspec.field(default="Agent", name="objectType")
    name: str | None = None
    mbox: str | None = None
    mbox_sha1sum: str | None = None
    openid: str | None = None
    account: AccountStruct | None = None


class VerbStruct(msgspec.Struct, frozen=True, gc=False):
    id: str


class ActivityRefStruct(msgspec.Struct, frozen=True, gc=False):
    id: str


# Checked as the model checks them, but not made a tuple when one object: nothing reads them.
ActivityListStruct = tuple[ActivityRefStruct, ...] | ActivityRefStruct


class ContextActivitiesStruct(msgspec.Struct, frozen=True, gc=False):
    parent: ActivityListStruct = ()
    grouping: ActivityListStruct = ()
    category: ActivityListStruct = ()
    other: ActivityListStruct = ()


class ContextStruct(msgspec.Struct, frozen=True, gc=False):
    context_activities: ContextActivitiesStruct | None = msgspec.field(
        default=None, name="contextActivities"
    )


class StatementObjectStruct(msgspec.Struct, frozen=True, gc=False):
    object_type: str = msgspec.field(default="Activity", name="objectType")
    id: str | None = None


class ResultStruct(msgspec.Struct, frozen=True, gc=False):
    completion: bool | None = None
    success: bool | None = None


class StatementStruct(msgspec.Struct, frozen=True, gc=False):
    id: Annotated[str, msgspec.Meta(min_length=1)]
    actor: ActorStruct
    verb: VerbStruct
    object: StatementObjectStruct
    result: ResultStruct | None = None
    context: ContextStruct | None = None
    timestamp: datetime | None = None
    stored: datetime | None = None

    def __post_init__(self) -> None:
        if self.timestamp is not None and self.timestamp.tzinfo is not UTC:
            force_setattr(self, "timestamp", as_utc(self.timestamp))
        if self.stored is not None and self.stored.tzinfo is not UTC:
            force_setattr(self, "stored", as_utc(self.stored))


AnyStatement = Statement | StatementStruct
AnyActor = Actor | ActorStruct

# More than 6 digits of a second: msgspec rounds them to the microsecond, pydantic truncates.
_FINER_THAN_MICROSECONDS = re.compile(r"\.\d{7}")


def read_statement(item: Any) -> StatementStruct:
    """A decoded statement (from JSON) as a StatementStruct, accepted exactly as
    `Statement.model_validate` accepts it; raises its `ValidationError` otherwise."""
    try:
        statement = msgspec.convert(item, StatementStruct)
    except msgspec.ValidationError:
        pass
    else:
        if not _FINER_THAN_MICROSECONDS.search(f"{item.get('timestamp')} {item.get('stored')}"):
            return statement
    model = Statement.model_validate(item)
    return msgspec.convert(model, StatementStruct, from_attributes=True)


_STATEMENT = msgspec.json.Decoder(StatementStruct)
_FINER_IN_TEXT = re.compile(rb"\.\d{7}")


def read_statement_json(text: bytes) -> StatementStruct | None:
    """The statement whose JSON text is `text`, read straight into a StatementStruct with no
    dict between (nothing for the garbage collector to track); None when only
    `read_statement` can tell: msgspec refuses it, or a number anywhere has 7 or more
    fraction digits (a time finer than msgspec and pydantic agree on). What it reads,
    `read_statement` reads the same."""
    if _FINER_IN_TEXT.search(text):
        return None
    try:
        return _STATEMENT.decode(text)
    except msgspec.DecodeError:  # ValidationError included
        return None


def actor_key(actor: AnyActor) -> str | None:
    """The stable key of an agent's identifier (IFI); None for an anonymous group."""
    if actor.mbox:
        return f"mbox:{actor.mbox.strip()}"
    if actor.mbox_sha1sum:
        return f"mbox_sha1sum:{actor.mbox_sha1sum.strip().lower()}"
    if actor.openid:
        return f"openid:{actor.openid.strip()}"
    if actor.account is not None:
        return f"account:{actor.account.home_page}|{actor.account.name}"
    return None


@functools.lru_cache(maxsize=4096)  # a pull meets each learner many times; PersonRef is frozen
def person_ref(actor: AnyActor) -> PersonRef | None:
    """The PersonRef for an agent, with its e-mail when the IFI is a `mailto:` mbox."""
    key = actor_key(actor)
    if key is None:
        return None
    email = None
    if actor.mbox and actor.mbox.strip().lower().startswith("mailto:"):
        email = actor.mbox.strip()[len("mailto:") :]
    return PersonRef(system="xapi", id=key, email=email, display_name=actor.name)


def agent(key: str, name: str | None = None) -> dict[str, Any]:
    """The xAPI Agent for an actor key (the inverse of `actor_key`).

    An account key splits at the first `|`: a homePage holding `|` is not supported.
    """
    kind, sep, value = key.partition(":")
    if not sep or not value:
        raise ValueError("not an xAPI actor key: expected <kind>:<identifier>")
    result: dict[str, Any] = {"objectType": "Agent"}
    if name:
        result["name"] = name
    if kind in ("mbox", "mbox_sha1sum", "openid"):
        result[kind] = value
    elif kind == "account":
        home_page, bar, account_name = value.partition("|")
        if not bar or not home_page or not account_name:
            raise ValueError("an account actor key reads account:<homePage>|<name>")
        result["account"] = {"homePage": home_page, "name": account_name}
    else:
        raise ValueError(
            f"unknown actor key kind {kind!r}: expected mbox, mbox_sha1sum, openid or account"
        )
    return result


def agent_for(person: PersonRef) -> dict[str, Any]:
    """The xAPI Agent for a person: their xAPI key, else a `mailto:` mbox from their e-mail."""
    if person.system == "xapi":
        return agent(person.id, person.display_name)
    if person.email:
        return agent(f"mbox:mailto:{person.email}", person.display_name)
    raise ValueError(f"no xAPI identifier for a {person.system} person without an e-mail")
