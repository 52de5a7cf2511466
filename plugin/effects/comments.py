"""The words skillrelay writes on a ticket, as ADF blocks (rendered to wiki text for Data Center).

The first comment says who applied which skill, learned in which module, and what the
reward is and where it stands; later ones are one-line updates. Every comment ends with
`skillrelay ref <idempotency key>` so a sender can recognise it after a crash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors import jira_adf as adf
from plugin.effects.facts import Facts
from plugin.effects.model import AwardChange
from plugin.manifest import Manifest

Blocks = list[dict[str, Any]]


def _since(done: datetime, completed: datetime | None, title: str) -> str:
    if completed is None:
        return f", after completing '{title}'."
    days = (done - completed).days
    if days < 1:
        return f", the same day they completed '{title}'."
    return f", {days} day{'s' if days != 1 else ''} after completing '{title}'."


def _names(manifest: Manifest, ids: tuple[str, ...]) -> str:
    people = manifest.people_by_id
    return ", ".join(people[i].name if i in people else i for i in ids)


def _who(manifest: Manifest, actor: str) -> str:
    person = manifest.people_by_id.get(actor)
    return person.name if person else actor


def _reward(facts: Facts, points: int) -> str:
    return facts.reward_name + (f" ({points} points)" if points else "")


def awarded(change: AwardChange, facts: Facts, manifest: Manifest) -> Blocks:
    award = change.award
    opening: list[adf.Inline] = [
        adf.strong(facts.person_name),
        " applied ",
        adf.strong(facts.skill_name),
        " here",
    ]
    if facts.module_title:
        opening.append(_since(award.ticket_done_at, facts.completed_at, facts.module_title))
    else:
        opening.append(".")
    blocks: Blocks = [adf.paragraph(*opening)]
    if facts.matched:
        blocks.append(adf.paragraph(f"The ticket shows the skill by {', '.join(facts.matched)}."))
    if award.state == "pending_approval":
        managers = manifest.managers_of(award.person_id)
        state = "waiting for a manager's approval"
        state += f" ({_names(manifest, managers)})." if managers else "."
    elif award.state == "fulfilled":
        state = "handed out."
    else:  # the ledger's own word for the state, so the ticket and `awards` agree
        state = "approved."
    blocks.append(
        adf.paragraph(adf.strong("Reward:"), f" {_reward(facts, award.points)} — {state}")
    )
    return blocks


def update(change: AwardChange, facts: Facts, manifest: Manifest) -> Blocks:
    """The short comment for every event after "awarded"."""
    reward = _reward(facts, change.award.points)
    who = _who(manifest, change.actor)
    person = facts.person_name
    if change.event == "approved":
        line = f"{who} approved {reward} for {person}."
    elif change.event == "rejected":
        line = f"{who} did not approve {reward} for {person}."
    elif change.event == "fulfilled":
        line = f"{reward} was handed out to {person}."
    elif change.event == "revocation_flagged":
        line = (
            f"This ticket was reopened after {person} received {reward}; "
            "a manager will decide whether the reward stands."
        )
    elif change.actor in manifest.people_by_id:  # revoked by a person
        line = f"{reward} for {person} was revoked by {who}."
    else:  # revoked by skillrelay itself: the ticket left done
        line = f"{reward} for {person} was revoked because the ticket was reopened."
    blocks: Blocks = [adf.paragraph(adf.strong("Reward update:"), " " + line)]
    if change.note and change.note.strip():
        blocks.append(adf.paragraph(adf.strong("Note:"), " " + change.note.strip()))
    return blocks


def comment_blocks(change: AwardChange, facts: Facts, manifest: Manifest, ref: str) -> Blocks:
    blocks = (awarded if change.event == "awarded" else update)(change, facts, manifest)
    return [*blocks, adf.paragraph(ref)]
