"""Jira Cloud admin webhook deliveries (jira:issue_updated), shaped as Atlassian documents
them, for the tickets of the demo story; signed as Jira signs them (X-Hub-Signature)."""

from __future__ import annotations

import json
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from plugin.demo.story import Work
from plugin.manifest import Manifest
from webhooks.signature import sign

Status = tuple[str, str, str, str, str]  # id, name, category key, category name, colour
IN_PROGRESS = ("3", "In Progress", "indeterminate", "In Progress", "yellow")
DONE = ("10002", "Done", "done", "Done", "green")
TO_DO = ("10000", "To Do", "new", "To Do", "blue-gray")
RESOLUTIONS = {"Done": "10000", "Won't Do": "10001", "Duplicate": "10002"}


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery: what it says, its body and the headers Jira sends with it."""

    ticket: str
    move: str  # e.g. "In Progress -> Done (Done)"
    identifier: str  # X-Atlassian-Webhook-Identifier
    body: bytes

    def headers(self, secret: str) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "X-Hub-Signature": sign(secret, self.body),
            "X-Atlassian-Webhook-Identifier": self.identifier,
        }


def account_id(manifest: Manifest, person: str) -> str:
    """The person's Jira account id: the manifest's override, else a stable made-up one (Jira
    Cloud then also shows the email, which skillrelay matches)."""
    found = manifest.people_by_id[person].jira_account_id
    return found or f"712020:{uuid.uuid5(uuid.NAMESPACE_URL, f'demo:{person}')}"


def jira_user(manifest: Manifest, person: str, site: str) -> dict[str, Any]:
    found = manifest.people_by_id[person]
    account = account_id(manifest, person)
    user: dict[str, Any] = {
        "self": f"{site}/rest/api/2/user?accountId={account}",
        "accountId": account,
        "avatarUrls": {"48x48": "https://avatar.example/48.png"},
        "displayName": found.name,
        "active": True,
        "timeZone": manifest.organisation.timezone,
        "accountType": "atlassian",
    }
    if found.jira_account_id is None:
        user["emailAddress"] = found.email
    return user


def _status(site: str, status: Status) -> dict[str, Any]:
    sid, name, key, category, colour = status
    ids = {"new": 2, "indeterminate": 4, "done": 3}
    return {
        "self": f"{site}/rest/api/2/status/{sid}",
        "description": "",
        "name": name,
        "id": sid,
        "statusCategory": {
            "self": f"{site}/rest/api/2/statuscategory/{ids[key]}",
            "id": ids[key],
            "key": key,
            "colorName": colour,
            "name": category,
        },
    }


def _jira_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.000%z")


def issue_updated(
    manifest: Manifest,
    work: Work,
    at: datetime,
    before: Status,
    after: Status,
    resolution: str | None,
    resolved_before: str | None,
) -> dict[str, Any]:
    """A jira:issue_updated body: `work` moved from `before` to `after` at `at`."""
    jira = manifest.jira
    assert jira is not None
    site = str(jira.base_url).rstrip("/")
    skill = manifest.skills_by_id[work.skill]
    project = work.key.split("-")[0]
    issue_id = str(10000 + zlib.crc32(work.key.encode()) % 90000)
    user = jira_user(manifest, work.person, site)
    resolved = None
    if resolution is not None:
        rid = RESOLUTIONS.get(resolution, "10009")
        resolved = {"self": f"{site}/rest/api/2/resolution/{rid}", "id": rid, "name": resolution}
    items: list[dict[str, Any]] = []
    if resolution != resolved_before:
        items.append(
            {
                "field": "resolution",
                "fieldtype": "jira",
                "fieldId": "resolution",
                "from": RESOLUTIONS.get(resolved_before or ""),
                "fromString": resolved_before,
                "to": resolved["id"] if resolved else None,
                "toString": resolution,
            }
        )
    items.append(
        {
            "field": "status",
            "fieldtype": "jira",
            "fieldId": "status",
            "from": before[0],
            "fromString": before[1],
            "to": after[0],
            "toString": after[1],
        }
    )
    when = _jira_time(at)
    return {
        "timestamp": int(at.timestamp() * 1000),
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": user,
        "issue": {
            "id": issue_id,
            "self": f"{site}/rest/api/2/{issue_id}",
            "key": work.key,
            "fields": {
                "summary": work.summary,
                "issuetype": {
                    "self": f"{site}/rest/api/2/issuetype/10001",
                    "id": "10001",
                    "name": work.issue_type,
                    "subtask": False,
                },
                "project": {
                    "self": f"{site}/rest/api/2/project/{project}",
                    "id": str(10000 + zlib.crc32(project.encode()) % 1000),
                    "key": project,
                    "name": project,
                    "projectTypeKey": "software",
                },
                "status": _status(site, after),
                "resolution": resolved,
                "assignee": user,
                "reporter": user,
                "labels": list(skill.tickets.labels[:1]),
                "components": [
                    {"self": f"{site}/rest/api/2/component/10100", "id": "10100", "name": name}
                    for name in skill.tickets.components[:1]
                ],
                "customfield_10050": None,
                "created": _jira_time(work.started),
                "updated": when,
                "resolutiondate": when if resolved else None,
                "statuscategorychangedate": when,
                "priority": {
                    "self": f"{site}/rest/api/2/priority/3",
                    "name": "Medium",
                    "id": "3",
                },
            },
        },
        "changelog": {"id": str(zlib.crc32(f"{work.key}:{when}".encode())), "items": items},
    }


def deliveries(manifest: Manifest, work: Work, *, reopen: bool = False) -> list[Delivery]:
    """The ticket's moves to In Progress and to Done (Done twice if Jira resends it), or with
    `reopen` its move back to In Progress."""
    Move = tuple[datetime, Status, Status, str | None, str | None]
    moves: list[Move]
    if reopen:
        if work.reopened is None:
            return []
        moves = [(work.reopened, DONE, IN_PROGRESS, None, work.resolution)]
    else:
        moves = [
            (work.started, TO_DO, IN_PROGRESS, None, None),
            (work.done, IN_PROGRESS, DONE, work.resolution, None),
        ]
    found = []
    for at, before, after, resolution, resolved_before in moves:
        body = issue_updated(manifest, work, at, before, after, resolution, resolved_before)
        what = f"{before[1]} -> {after[1]}" + (f" ({resolution})" if resolution else "")
        identifier = str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo:{work.key}:{at.isoformat()}"))
        found.append(Delivery(work.key, what, identifier, json.dumps(body).encode()))
    if work.resent and not reopen:
        found.append(found[-1])
    return found
