"""The statements skillrelay writes back to the LRS, with deterministic ids.

Verbs (no single standard verb exists for either; see the ADL / tincan registries):

- "applied a skill in real work": `https://w3id.org/xapi/dod-isd/verbs/performed`
  ("carry out, accomplish ... a task"; the dod-isd profile's verb for a Skill, the "S" of
  KSA). Its sibling `dod-isd/verbs/applied` means "be applicable or relevant" (the
  Knowledge verb), so it reads wrong here. The object is the skill as an activity,
  `<base>skills/<skill id>`; the ticket is `context.contextActivities.other` and the module
  that taught the skill is `grouping`.
- "earned a reward": `http://id.tincanapi.com/verb/earned` ("has earned or has been awarded
  the object"). `tla/verbs/achieved` is what Logstore xAPI sends for a Moodle badge and
  what the Learner Competency profile uses for a competency; a reward is neither. The
  object is `<base>rewards/<reward id>`; points go to `result.score.raw`, the kind and
  state to the result extension `<base>xapi/extensions/reward`.
- A revoked reward voids its "earned" statement (`adlnet.gov/expapi/verbs/voided`).

Ids are UUIDv5 of the effect's natural key under a fixed namespace, so a resend is the
same statement and the LRS answers 204 (or 200) instead of storing it twice. An LRS may also
answer 409 to a statement it already has (the spec allows either); `same_statement` tells
that apart from a different statement under the same id.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from connectors.xapi_models import VERB_VOIDED

# Fixed for ever: changing it changes every id and makes the LRS store duplicates.
STATEMENT_NAMESPACE = uuid.UUID("04343376-659f-559c-9966-ca0c236a2b25")

VERB_PERFORMED = "https://w3id.org/xapi/dod-isd/verbs/performed"
VERB_EARNED = "http://id.tincanapi.com/verb/earned"
DEFAULT_BASE = "https://skillrelay.example/"
LANG = "en-US"
PLATFORM = "skillrelay"


def statement_id(natural_key: str) -> str:
    """The statement id for one effect: UUIDv5(skillrelay namespace, natural_key)."""
    if not natural_key:
        raise ValueError("a statement id needs a non-empty natural key")
    return str(uuid.uuid5(STATEMENT_NAMESPACE, natural_key))


# Set by the LRS when it stores a statement, so never part of what we sent.
LRS_FIELDS = frozenset({"stored", "authority", "version"})


def same_statement(stored: Mapping[str, Any], sent: Mapping[str, Any]) -> bool:
    """Whether the LRS's copy `stored` is the statement `sent`: equal but for the fields an
    LRS adds, and with the timestamp compared as an instant (an LRS may rewrite its form)."""
    theirs = {k: v for k, v in stored.items() if k not in LRS_FIELDS}
    ours = {k: v for k, v in sent.items() if k not in LRS_FIELDS}
    if "timestamp" not in ours:
        theirs.pop("timestamp", None)  # we sent none: the LRS stamped it
    elif not _same_time(theirs.pop("timestamp", None), ours.pop("timestamp")):
        return False
    return theirs == ours


def _same_time(stored: Any, sent: Any) -> bool:
    if stored == sent:
        return True
    instants = [_instant(value) for value in (stored, sent)]
    return None not in instants and instants[0] == instants[1]


def _instant(value: Any) -> datetime | None:
    """An ISO 8601 time with an offset; None for anything else (no guessing at zones)."""
    if not isinstance(value, str):
        return None
    try:
        found = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return found if found.tzinfo else None


def timestamp(at: datetime) -> str:
    """ISO 8601 UTC with milliseconds, e.g. 2024-05-01T10:00:00.000Z."""
    if at.tzinfo is None:
        raise ValueError("statement times must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _activity(iri: str, name: str | None = None) -> dict[str, Any]:
    activity: dict[str, Any] = {"objectType": "Activity", "id": iri}
    if name:
        activity["definition"] = {"name": {LANG: name}}
    return activity


def _iri(base: str, kind: str, ident: str) -> str:
    return f"{base.rstrip('/')}/{kind}/{quote(ident, safe='')}"


def skill_iri(skill_id: str, base: str = DEFAULT_BASE) -> str:
    return _iri(base, "skills", skill_id)


def reward_iri(reward_id: str, base: str = DEFAULT_BASE) -> str:
    return _iri(base, "rewards", reward_id)


def applied_statement(
    actor: Mapping[str, Any],
    *,
    skill_id: str,
    skill_name: str,
    ticket_url: str,
    ticket_key: str,
    module_iri: str | None,
    at: datetime,
    natural_key: str,
    base: str = DEFAULT_BASE,
) -> dict[str, Any]:
    """`actor` performed skill `skill_id` in ticket `ticket_key` (taught by `module_iri`)."""
    context_activities: dict[str, Any] = {"other": [_activity(ticket_url, ticket_key)]}
    if module_iri:
        context_activities["grouping"] = [_activity(module_iri)]
    return {
        "id": statement_id(natural_key),
        "actor": dict(actor),
        "verb": {"id": VERB_PERFORMED, "display": {LANG: "performed"}},
        "object": _activity(skill_iri(skill_id, base), skill_name),
        "context": {"platform": PLATFORM, "contextActivities": context_activities},
        "timestamp": timestamp(at),
    }


def earned_statement(
    actor: Mapping[str, Any],
    *,
    reward_id: str,
    reward_name: str,
    kind: str,
    points: float | None,
    state: str,
    at: datetime,
    natural_key: str,
    skill_id: str | None = None,
    ticket_url: str | None = None,
    base: str = DEFAULT_BASE,
) -> dict[str, Any]:
    """`actor` earned reward `reward_id` (its kind, points and state in the result)."""
    result: dict[str, Any] = {
        "extensions": {f"{base.rstrip('/')}/xapi/extensions/reward": {"kind": kind, "state": state}}
    }
    if points is not None:
        result["score"] = {"raw": points}
    statement: dict[str, Any] = {
        "id": statement_id(natural_key),
        "actor": dict(actor),
        "verb": {"id": VERB_EARNED, "display": {LANG: "earned"}},
        "object": _activity(reward_iri(reward_id, base), reward_name),
        "result": result,
        "context": {"platform": PLATFORM},
        "timestamp": timestamp(at),
    }
    context_activities: dict[str, Any] = {}
    if skill_id:
        context_activities["grouping"] = [_activity(skill_iri(skill_id, base))]
    if ticket_url:
        context_activities["other"] = [_activity(ticket_url)]
    if context_activities:
        statement["context"]["contextActivities"] = context_activities
    return statement


def voiding_statement(
    actor: Mapping[str, Any], *, target_id: str, at: datetime, natural_key: str
) -> dict[str, Any]:
    """Void statement `target_id` (e.g. the "earned" statement of a revoked reward)."""
    return {
        "id": statement_id(natural_key),
        "actor": dict(actor),
        "verb": {"id": VERB_VOIDED, "display": {LANG: "voided"}},
        "object": {"objectType": "StatementRef", "id": target_id},
        "timestamp": timestamp(at),
    }
