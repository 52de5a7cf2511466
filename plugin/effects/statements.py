"""The xAPI statements an award change sends back to the LRS (shapes from connectors.xapi).

Ids come from the ledger's natural key of the award (person, skill, ticket), not from the
database id, so a rebuilt database replays to the same ids and the LRS keeps one copy.
The content of the "earned" statement does not depend on which event sends it (awarded,
approved or fulfilled): a second send is the same statement and the LRS answers 204.

Each cycle of an award (its first life, then each return after a revocation) has its own
ids: a voided statement can never be live again, so a returned award needs a new "earned"
statement, and the next revocation a new voiding statement that voids that one. Cycle 0
keeps the ids it always had, so statements already in an LRS still deduplicate. Times come
from the award and the change, never the clock, so a retry sends the same bytes.
"""

from __future__ import annotations

from typing import Any

from connectors.xapi_models import agent
from connectors.xapi_statements import (
    applied_statement,
    earned_statement,
    statement_id,
    voiding_statement,
)
from plugin.effects.facts import Facts
from plugin.effects.model import AwardChange
from plugin.manifest import Manifest
from plugin.store.models import Award

Statement = dict[str, Any]


def natural_key(award: Award, what: str, cycle: int = 0) -> str:
    """`skillrelay:award:<person>:<skill>:<ticket>:<what>`, then `#<cycle>` after cycle 0."""
    key = f"skillrelay:award:{award.person_id}:{award.skill_id}:{award.ticket_key}:{what}"
    return f"{key}#{cycle}" if cycle else key


def actor_key(facts: Facts, manifest: Manifest) -> str | None:
    """How the LRS names the learner, best first: the manifest's explicit xAPI identity, the
    actor the completion came from, the Moodle Logstore account, then a mailto: mbox."""
    person = facts.person
    if person is not None and person.xapi_mbox:
        return f"mbox:{person.xapi_mbox}"
    if person is not None and person.xapi_account is not None:
        return f"account:{person.xapi_account.home_page}|{person.xapi_account.name}"
    if facts.actor_key:
        return facts.actor_key
    if person is not None and person.moodle_user_id is not None and manifest.moodle is not None:
        return f"account:{manifest.moodle.url}|{person.moodle_user_id}"
    if person is not None:
        return f"mbox:mailto:{person.email}"
    return None


def actor(facts: Facts, manifest: Manifest) -> dict[str, Any] | None:
    key = actor_key(facts, manifest)
    if key is None:
        return None
    try:
        return agent(key, facts.person_name)
    except ValueError:
        return None  # an unusable key in the evidence: no statement rather than a bad one


def applied(who: dict[str, Any], change: AwardChange, facts: Facts) -> Statement:
    award = change.award
    return applied_statement(
        who,
        skill_id=award.skill_id,
        skill_name=facts.skill_name,
        ticket_url=facts.ticket_url,
        ticket_key=award.ticket_key,
        module_iri=facts.module_iri,
        at=award.ticket_done_at,
        natural_key=natural_key(award, "applied", change.cycle),
    )


def earned(who: dict[str, Any], change: AwardChange, facts: Facts) -> Statement:
    award = change.award
    return earned_statement(
        who,
        reward_id=award.reward_id,
        reward_name=facts.reward_name,
        kind=facts.reward_kind or "reward",
        points=award.points,
        state="granted",
        at=award.ticket_done_at,  # earned for the work done then, whatever event sends it
        natural_key=natural_key(award, "earned", change.cycle),
        skill_id=award.skill_id,
        ticket_url=facts.ticket_url,
    )


def voiding(who: dict[str, Any], change: AwardChange) -> Statement:
    award = change.award
    return voiding_statement(
        who,
        target_id=earned_statement_id(award, change.cycle),  # this cycle's, never another's
        at=change.at,  # when it was revoked: planned once, the same on every retry
        natural_key=natural_key(award, "earned:voided", change.cycle),
    )


def earned_statement_id(award: Award, cycle: int = 0) -> str:
    return statement_id(natural_key(award, "earned", cycle))
