"""The demo's open Jira backlog, for "apply it now" when Jira is not reachable.

The service would find these with one JQL search (plugin.notify.suggest.skill_jql); offline,
the same conditions are checked here on the demo's tickets: the skill's mapping, as the
engine matches it, not done, assigned to the person or to nobody, in the manifest's projects.
"""

from __future__ import annotations

from dataclasses import dataclass

from plugin.engine.facts import Ref, TicketFact
from plugin.engine.matching import SkillMatcher
from plugin.manifest import Manifest
from plugin.notify.scheduler import Suggest
from plugin.notify.suggest import MAX_TICKETS


@dataclass(frozen=True)
class Open:
    key: str
    summary: str
    labels: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    issue_type: str = "Story"
    assignee: str | None = None  # a person id of the manifest
    status_category: str = "new"


BACKLOG = (
    Open("PAY-431", "Speed up the refund search by merchant", labels=("skill-sql-indexing",)),
    Open("PAY-436", "Ledger DB: slow month-end balance query", components=("Ledger DB",)),
    Open("PAY-440", "Roll out the payout scheduler by percentage", labels=("skill-feature-flags",)),
    Open(
        "RISK-52",
        "Write up the card-auth timeout of 2 December",
        labels=("skill-postmortem",),
        issue_type="Post-incident review",
    ),
    Open(
        "RISK-48",
        "Move the scoring API keys into the vault",
        labels=("skill-secrets",),
        assignee="george.lin",
    ),
    Open(
        "RISK-49",
        "Rotate the partner webhook secrets",
        labels=("skill-secrets",),
        assignee="kofi.asante",  # someone else's: never suggested to George
    ),
    Open("WEB-220", "Focus is lost after closing the address dialog", components=("Checkout UI",)),
    Open(
        "WEB-199",
        "Label the card number field for screen readers",
        labels=("skill-a11y",),
        status_category="done",  # finished already: never suggested
    ),
)


def _fact(ticket: Open, manifest: Manifest) -> TicketFact:
    person = manifest.people_by_id.get(ticket.assignee or "")
    account = person.jira_account_id if person else None
    return TicketFact(
        id=ticket.key,
        key=ticket.key,
        project=ticket.key.split("-")[0],
        summary=ticket.summary,
        status_category=ticket.status_category,
        assignee=Ref("jira", account or ticket.assignee or "", None, None) if person else None,
        labels=ticket.labels,
        components=ticket.components,
        fields={"issuetype": ticket.issue_type},
    )


def offline_suggest(manifest: Manifest, backlog: tuple[Open, ...] = BACKLOG) -> Suggest:
    """(skill id, person id) -> up to MAX_TICKETS open backlog tickets, as the search gives."""
    matcher = SkillMatcher(manifest)
    facts = [(t, _fact(t, manifest)) for t in backlog]
    projects = set(manifest.jira.projects) if manifest.jira else set()
    base = str(manifest.jira.base_url).rstrip("/") if manifest.jira else ""

    def suggest(skill_id: str, person_id: str) -> list[dict[str, str]]:
        found = []
        for ticket, fact in facts:
            if fact.status_category == "done" or (projects and fact.project not in projects):
                continue
            if ticket.assignee not in (None, person_id):
                continue
            if skill_id in matcher.skills(fact):
                found.append(
                    {"key": fact.key, "summary": ticket.summary, "url": f"{base}/browse/{fact.key}"}
                )
        return found[:MAX_TICKETS]

    return suggest
