"""Open tickets that show a skill, for an "apply it now" suggestion: one JQL search.

The skill's ticket mapping (any label, component or skill-field value; its own JQL narrows
it), in the manifest's projects, not done, assigned to the person or to nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.jira_jql import quote
from plugin.manifest import Manifest
from plugin.manifest.skills import Skill

MAX_TICKETS = 3


def skill_jql(manifest: Manifest, skill: Skill, account_id: str | None) -> str | None:
    """The search, or None when the mapping has nothing a search can ask for."""
    match, jira = skill.tickets, manifest.jira
    shows = []
    if match.labels:
        shows.append(f"labels in ({', '.join(quote(x) for x in match.labels)})")
    if match.components:
        shows.append(f"component in ({', '.join(quote(x) for x in match.components)})")
    field = jira.skill_field if jira else None
    if match.custom_field_value and field and field.startswith("customfield_"):
        shows.append(
            f"cf[{field.removeprefix('customfield_')}] = {quote(match.custom_field_value)}"
        )
    clauses = [f"({' OR '.join(shows)})"] if shows else []
    if match.jql:
        clauses.append(f"({match.jql})")
    if not clauses:
        return None
    clauses.append("statusCategory != Done")
    who = f"assignee = {quote(account_id)} OR " if account_id else ""
    clauses.append(f"({who}assignee is EMPTY)")
    projects = jira.projects if jira else ()
    if projects:
        clauses.append(f"project in ({', '.join(quote(p) for p in projects)})")
    return " AND ".join(clauses) + " ORDER BY updated DESC"


def suggester(
    manifest: Manifest, search: Callable[[str, list[str], int], list[dict[str, Any]]]
) -> Callable[[str, str], list[dict[str, str]]]:
    """(skill id, person id) -> up to MAX_TICKETS open tickets as {key, summary, url}."""
    jira = manifest.jira
    base = str(jira.base_url).rstrip("/") if jira else ""

    def suggest(skill_id: str, person_id: str) -> list[dict[str, str]]:
        skill = manifest.skills_by_id.get(skill_id)
        person = manifest.people_by_id.get(person_id)
        if skill is None or person is None:
            return []
        jql = skill_jql(manifest, skill, person.jira_account_id)
        if jql is None:
            return []
        found = []
        for issue in search(jql, ["summary"], MAX_TICKETS):
            key = issue.get("key")
            if isinstance(key, str):
                summary = (issue.get("fields") or {}).get("summary")
                found.append(
                    {"key": key, "summary": str(summary or ""), "url": f"{base}/browse/{key}"}
                )
        return found

    return suggest
