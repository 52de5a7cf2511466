"""What a comment or a statement says about an award, read leniently from its evidence.

The pipeline writes the engine's evidence (plugin.engine.evidence) into `Award.evidence`;
every field is optional here, and the manifest fills in names. A missing field leaves its
part of the sentence out, never an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from plugin.manifest import Manifest, Module, Person, Reward, Skill
from plugin.store.models import Award


@dataclass(frozen=True)
class Facts:
    person_name: str
    skill_name: str
    reward_name: str
    reward_kind: str | None
    needs_approval: bool
    ticket_url: str
    module_key: str | None
    module_title: str | None
    module_iri: str | None
    completed_at: datetime | None
    matched: tuple[str, ...]
    actor_key: str | None  # an xAPI actor key (connectors.xapi.actor_key form), if known
    person: Person | None
    skill: Skill | None
    reward: Reward | None


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(*values: Any) -> str | None:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        found = value
    elif isinstance(value, str):
        try:
            found = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _is_iri(value: str | None) -> bool:
    return bool(value) and str(value).startswith(("http://", "https://", "urn:"))


def read_facts(award: Award, manifest: Manifest, jira_base_url: str) -> Facts:
    evidence = _dict(award.evidence)
    ticket = _dict(evidence.get("ticket"))
    completion = _dict(evidence.get("completion"))
    module_ev = _dict(evidence.get("module"))

    person = manifest.people_by_id.get(award.person_id)
    skill = manifest.skills_by_id.get(award.skill_id)
    reward = manifest.rewards_by_id.get(award.reward_id)

    module_key = _str(completion.get("module"), module_ev.get("key"), evidence.get("module_key"))
    module_id = _str(completion.get("module_id"), module_ev.get("id"))
    module = _find_module(manifest, skill, module_key, module_id)
    title = _str(completion.get("title"), module_ev.get("title"), module.title if module else None)
    module_iri = next(
        (k for k in (module_key, module.xapi_activity if module else None) if _is_iri(k)), None
    )

    url = _str(ticket.get("url"), evidence.get("ticket_url"))
    if url is None:
        url = f"{jira_base_url.rstrip('/')}/browse/{quote(award.ticket_key, safe='')}"
    matched = ticket.get("matched") or evidence.get("matched") or ()
    return Facts(
        person_name=person.name if person else award.person_id,
        skill_name=skill.name if skill else award.skill_id,
        reward_name=reward.name if reward else award.reward_id,
        reward_kind=reward.kind if reward else None,
        needs_approval=award.state == "pending_approval",
        ticket_url=url,
        module_key=module_key,
        module_title=title,
        module_iri=module_iri,
        completed_at=_time(completion.get("at") or evidence.get("completed_at")),
        matched=tuple(str(m) for m in matched if isinstance(m, str) and m.strip()),
        actor_key=_evidence_actor(evidence, completion),
        person=person,
        skill=skill,
        reward=reward,
    )


def _find_module(
    manifest: Manifest, skill: Skill | None, key: str | None, module_id: str | None
) -> Module | None:
    if key is not None and key in manifest.modules_by_key:
        return manifest.modules_by_key[key][1]
    if module_id is not None and skill is not None:
        return next((m for m in skill.modules if m.id == module_id), None)
    return None


def _evidence_actor(evidence: Mapping[str, Any], completion: Mapping[str, Any]) -> str | None:
    """The learner's xAPI actor key: given outright, or the completion's "xapi:<key>" label."""
    given = _str(evidence.get("xapi_actor"), evidence.get("actor_key"))
    if given:
        return given
    label = _str(completion.get("person"))
    if label and label.startswith("xapi:"):
        return label.removeprefix("xapi:")
    return None
