"""effects_for: the effects one award change causes, planned without any I/O."""

from __future__ import annotations

from typing import Any, get_args

from plugin.effects import comments, statements
from plugin.effects.facts import read_facts
from plugin.effects.model import (
    APPLIED,
    COMMENT,
    EARNED,
    LABEL,
    REF_PREFIX,
    UNLABEL,
    VOIDED,
    AwardChange,
    Deployment,
    Effect,
    effect_key,
)
from plugin.manifest import Manifest

# States in which the reward has been granted (its "earned" statement was sent).
GRANTED = frozenset({"approved", "fulfilled", "revocation_flagged"})
LABEL_PREFIX = "skill-applied:"  # Jira labels take any non-space character; ':' is fine


def skill_label(skill_id: str) -> str:
    return LABEL_PREFIX + skill_id


def effects_for(
    change: AwardChange, manifest: Manifest, *, jira_base_url: str, deployment: Deployment
) -> list[Effect]:
    """The Jira and LRS effects of `change`, each under a deterministic idempotency key
    `<award id>:<event>:<target>:<action>`, in the order they should be delivered."""
    if deployment not in get_args(Deployment):
        raise ValueError(f"deployment must be 'cloud' or 'datacenter', not {deployment!r}")
    award, event = change.award, change.event
    facts = read_facts(award, manifest, jira_base_url)
    effects: list[Effect] = []

    def add(target: str, action: str, payload: dict[str, Any]) -> None:
        key = effect_key(award.id, event, target, action, change.cycle)
        effects.append(Effect(key, target, action, payload))

    ref = REF_PREFIX + effect_key(award.id, event, "jira", COMMENT, change.cycle)
    blocks = comments.comment_blocks(change, facts, manifest, ref)
    # `deployment` tells a dry run which format the real sender would write.
    add("jira", COMMENT, {"issue": award.ticket_key, "deployment": deployment, "blocks": blocks})
    label = skill_label(award.skill_id)
    if event == "awarded":
        add("jira", LABEL, {"issue": award.ticket_key, "label": label})
    elif event == "revoked":  # a flag keeps it: the reward may yet stand
        kept = sorted(change.label_kept_by)
        add("jira", UNLABEL, {"issue": award.ticket_key, "label": label, "kept_for": kept})

    who = statements.actor(facts, manifest)
    if who is None:
        return effects  # nobody the LRS could name: Jira effects only
    if event == "awarded":
        add("lrs", APPLIED, {"statement": statements.applied(who, change, facts)})
    granted_now = event in ("approved", "fulfilled") or (
        event == "awarded" and award.state in GRANTED
    )
    if granted_now:
        add("lrs", EARNED, {"statement": statements.earned(who, change, facts)})
    if event == "revoked" and (change.previous is None or change.previous in GRANTED):
        add("lrs", VOIDED, {"statement": statements.voiding(who, change)})
    return effects
