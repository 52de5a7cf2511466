"""`--format jira-webhook`: bodies Jira sent (or would send) to POST /webhooks/jira.

A file holds one body, a JSON array of bodies, or JSON lines of bodies. Each body is read
by the webhook receiver's own parsers: `webhookEvent` present means an admin (Cloud) or Data
Center webhook (`parse_jira_webhook`), otherwise an Automation "Send web request" body in
either format (`parse_automation`). The natural keys are theirs (`jira:<issue id>:<changelog
id>`, the same as the sync's), so a change imported here and read again by sync or a
webhook is stored once. Bodies that change nothing skillrelay reads (comments, updates
without a changelog, deletions) are counted as ignored.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from connectors.jira_models import Deployment
from connectors.jira_webhook import parse_automation, parse_jira_webhook
from plugin.errors import PayloadError
from plugin.importers.base import WrongShape, items, kind_of
from plugin.importers.output import Output


class JiraWebhookFormat:
    name = "jira-webhook"

    def __init__(self, base_url: str, deployment: Deployment, custom_fields: Sequence[str]) -> None:
        self.base_url = base_url
        self.deployment: Deployment = deployment
        self.custom_fields = tuple(custom_fields)

    def records(self, value: Any, where: str) -> Iterator[tuple[str, Any]]:
        if isinstance(value, list):
            yield from items(value, where)
        elif isinstance(value, dict):
            yield where, value
        else:
            raise WrongShape(f"expected a webhook body or an array of them, got {kind_of(value)}")

    def read(self, where: str, record: Any, out: Output) -> None:
        out.summary.read += 1
        if not isinstance(record, dict):
            out.rejected(where, "not a webhook body", f"expected an object, got {kind_of(record)}")
            return
        webhook = "webhookEvent" in record
        parse = parse_jira_webhook if webhook else parse_automation
        try:
            events = parse(
                record,
                base_url=self.base_url,
                deployment=self.deployment,
                custom_fields=self.custom_fields,
            )
        except (PayloadError, ValueError, TypeError, KeyError) as exc:
            kind = "webhook" if webhook else "Automation"
            out.rejected(where, f"unreadable {kind} body", str(exc))
            return
        if not events:
            event = record.get("webhookEvent")
            out.ignored(f"{event if isinstance(event, str) else 'body'}: no status or field change")
            return
        issue = record.get("issue")
        raw = issue if isinstance(issue, dict) else record
        for event in events:
            out.event(event, raw)

    def finish(self, out: Output) -> None:
        return None
