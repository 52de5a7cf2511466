"""Lenient models of the xAPI statements skillrelay reads, and the actor keys people get.

Third-party payloads: `extra="ignore"`, and only the fields we read are modelled (id, actor,
verb.id, object.id/objectType, result.completion/success, context.contextActivities,
timestamp, stored). Timestamps become timezone-aware UTC datetimes (a naive one is read as
UTC).

An actor key is how skillrelay names an xAPI agent in `PersonRef(system="xapi", id=...)`:

    mbox:mailto:ana@example.org        mbox_sha1sum:<40 hex digits, lower case>
    openid:https://id.example/ana      account:<homePage>|<name>

`agent()` turns a key back into an xAPI Agent for the statements we send.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

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


def actor_key(actor: Actor) -> str | None:
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


def person_ref(actor: Actor) -> PersonRef | None:
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
