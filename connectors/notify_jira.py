"""Learner notifications as a Jira comment that mentions the person (target "jira", action
"mention"), so Jira's own notification reaches them.

The comment is on the payload's `ticket`: the mention, the message's paragraphs, its links as
a bullet list, and last the line `skillrelay ref <key>`. Cloud (v3) gets ADF whose first node
is `{"type": "mention", "attrs": {"id": <accountId>, "text": "@Name"}}`; Data Center (v2)
gets wiki markup starting `[~username]`. Delivery is connectors.delivery_jira's, as for any
comment: the issue property and the ref line make it land once (this module only builds and
posts the body). A person without the Jira account the deployment needs (Cloud: account id,
Data Center: user name) and an effect without a ticket are FatalError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from connectors import jira_adf as adf
from connectors.jira_client import JiraClient
from connectors.notify_message import Notification
from plugin.effects import Effect
from plugin.errors import FatalError

SERVICE = "jira"
MENTION = "mention"
Body = dict[str, Any] | str  # an ADF document (Cloud) or wiki markup (Data Center)
# Data Center user names: no spaces or wiki brackets, so `[~name]` stays one mention.
_USERNAME = re.compile(r"^[^\s\[\]|{}~]{1,255}$")


def ticket(effect: Effect) -> str:
    value = effect.payload.get("ticket")
    if not isinstance(value, str) or not value.strip():
        raise FatalError(
            SERVICE, f"notification {effect.idempotency_key} names no ticket to comment on"
        )
    return value.strip()


def _content(note: Notification, ref_line: str) -> tuple[list[adf.Inline], list[adf.Node]]:
    """The first paragraph's inlines (the mention goes before them) and the other blocks."""
    paragraphs = [_inlines(p) for p in note.paragraphs()] or [[]]
    blocks = [adf.paragraph(*p) for p in paragraphs[1:]]
    if note.links:
        blocks.append(adf.bullet_list(*(adf.text(link.text, link=link.url) for link in note.links)))
    blocks.append(adf.paragraph(ref_line))
    return paragraphs[0], blocks


def _inlines(paragraph: str) -> list[adf.Inline]:
    parts: list[adf.Inline] = []
    for i, line in enumerate(paragraph.splitlines()):
        if i:
            parts.append(adf.hard_break())
        if line.strip():
            parts.append(line)
    return parts


def cloud_body(effect: Effect) -> dict[str, Any]:
    """The ADF document of a Cloud mention comment."""
    note = Notification.read(effect, SERVICE)
    account = note.to.jira_account_id
    if account is None:
        raise FatalError(
            SERVICE,
            f"person {note.person} has no Jira account id to mention; add `jira_account_id` "
            f"to the person in the manifest (notification {note.key})",
        )
    first, rest = _content(note, effect.ref_line)
    mention: adf.Node = {"type": "mention", "attrs": {"id": account, "text": f"@{note.to.name}"}}
    return adf.doc(adf.paragraph(mention, " ", *first), *rest)


def datacenter_body(effect: Effect) -> str:
    """The wiki markup of a Data Center mention comment."""
    note = Notification.read(effect, SERVICE)
    username = note.to.jira_username
    if username is None:
        raise FatalError(
            SERVICE,
            f"person {note.person} has no Jira user name to mention; add `jira_username` to "
            f"the person in the manifest (notification {note.key})",
        )
    if not _USERNAME.match(username):
        raise FatalError(SERVICE, f"person {note.person} has a Jira user name wiki cannot mention")
    first, rest = _content(note, effect.ref_line)
    opening = adf.to_wiki(adf.doc(adf.paragraph(*first))) if first else ""
    lead = f"[~{username}] {opening}".rstrip()
    return "\n\n".join([lead, adf.to_wiki(adf.doc(*rest))])


def body(effect: Effect, deployment: str) -> Body:
    """The comment `effect` posts, in the deployment's format (read before any request)."""
    ticket(effect)
    return datacenter_body(effect) if deployment == "datacenter" else cloud_body(effect)


def post(client: JiraClient, issue: str, content: Body) -> str:
    """Post the comment; returns its id. An ADF document goes through JiraClient.add_comment;
    wiki markup is sent as written (add_comment would escape the mention's brackets)."""
    if isinstance(content, Mapping):
        return client.add_comment(issue, content)
    path = f"{client.api}issue/{quote(issue, safe='')}/comment"
    response = client.request("POST", path, json={"body": content})
    try:
        created = response.json()
    except ValueError:
        created = None
    return str(created.get("id", "")) if isinstance(created, Mapping) else ""


def render(effect: Effect, deployment: str | None) -> str:
    """What a mention comment would say, as text (wiki markup for Data Center)."""
    where = effect.payload.get("ticket") or "?"
    if deployment == "datacenter":
        return f"comment on {where}:\n{datacenter_body(effect)}"
    document = cloud_body(effect)
    name = Notification.read(effect, SERVICE).to.name
    return f"comment on {where}:\n@{name} {adf.to_plain_text(document).lstrip()}"
