"""POST /webhooks/jira: admin webhooks (Cloud, Data Center) and Automation web requests.

Raw bytes -> who sent it -> parse (connectors.jira_webhook) -> inbox -> 200. Issues of
projects the manifest does not list are acknowledged and ignored, as events other than an
issue's creation or change are (counted by reason: project, event). Jira counts only
200 and 204 as delivered, and retries 408, 409, 425, 429 and 5xx: bad input gets a 4xx (no
retry), an unreachable store a 503 (retried).
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint, Response, request

from connectors.jira_webhook import parse_automation, parse_jira_webhook
from plugin.domain import TicketTransition
from plugin.errors import PayloadError
from plugin.store.models import JsonText
from webhooks import verbatim
from webhooks.errors import BadToken, MissingSignature, NotConfigured, UnexpectedSignature
from webhooks.incoming import Incoming
from webhooks.intake import Delivery, Outcome, Prepared, json_body, prepare_events, respond
from webhooks.services import JiraReceiver, Services, services
from webhooks.signature import same_secret, verify_signature

bp = Blueprint("jira", __name__)

SIGNATURE_HEADER = "X-Hub-Signature"
DELIVERY_HEADER = "X-Atlassian-Webhook-Identifier"
MAX_IDENTIFIER = 200

Sender = Literal["webhook", "automation"]


def authenticate(
    jira: JiraReceiver, body: bytes, signature: str | None, token: str | None
) -> Sender | None:
    """Which sender signed the request (None: unsigned, allowed only with no secret set).

    `signature` is the X-Hub-Signature header, `token` the automation header.
    """
    if signature is not None:
        verify_signature(jira.webhook_secret, body, signature)
        return "webhook"
    if token is not None:
        if not jira.automation_secret:
            raise UnexpectedSignature(
                f"{jira.automation_header}: sent, but no automation secret is configured"
            )
        if not same_secret(jira.automation_secret, token):
            raise BadToken(f"{jira.automation_header}: wrong value")
        return "automation"
    if jira.signed:
        raise MissingSignature(
            f"{SIGNATURE_HEADER} (admin webhooks) or {jira.automation_header} (Automation) "
            "is required"
        )
    return None


@bp.post("/webhooks/jira")
def receive() -> Response:
    """Reached only through Flask (tests hold it to webhooks.direct, which serves the route)."""
    incoming = Incoming(request.environ, request.max_content_length)
    return respond(services(), "jira", take, incoming).response()


def take(found: Services, incoming: Incoming) -> Prepared:
    jira = found.jira
    if jira is None:
        raise NotConfigured("no Jira source is configured in the manifest")
    body = incoming.body()
    signature = incoming.header(SIGNATURE_HEADER)
    sender = authenticate(jira, body, signature, incoming.header(jira.automation_header))
    data = json_body(incoming, body)
    if not isinstance(data, dict):
        raise PayloadError(f"body: expected a JSON object, got {type(data).__name__}")
    if sender is None:  # unsigned demo mode: tell the formats apart by their shape
        sender = "webhook" if "webhookEvent" in data else "automation"
    parse = parse_jira_webhook if sender == "webhook" else parse_automation
    parsed = parse(
        data,
        base_url=jira.base_url,
        deployment=jira.deployment,
        custom_fields=jira.custom_fields,
    )
    events = [e for e in parsed if _listed(e, jira.projects)]
    reason = "project" if parsed and not events else "event"

    def count_ignored(outcome: Outcome) -> None:
        if outcome.ignored and not outcome.duplicate:
            found.metrics.ignored.labels(sender="jira", reason=reason).inc(outcome.ignored)

    return prepare_events(
        found.store,
        events,
        [_raw_issue(data, body)] * len(events) if events else [],
        ignored=0 if events else 1,
        delivery=_delivery(incoming.header(DELIVERY_HEADER), data, len(events)),
        then=count_ignored,
    )


def _listed(event: TicketTransition, projects: frozenset[str]) -> bool:
    """The issue is in one of the manifest's projects (the sync searches only those)."""
    ticket = event.ticket
    project = ticket.project or ticket.key.rpartition("-")[0]
    return not projects or project in projects


def _delivery(identifier: str | None, data: dict[str, Any], events: int) -> Delivery | None:
    if not identifier:
        return None
    if len(identifier) > MAX_IDENTIFIER:
        raise PayloadError(f"{DELIVERY_HEADER}: longer than {MAX_IDENTIFIER} characters")
    if not identifier.isprintable():  # it is stored: no NUL or other control characters
        raise PayloadError(f"{DELIVERY_HEADER}: contains control characters")
    event = data.get("webhookEvent")
    payload = {"identifier": identifier, "event": event if isinstance(event, str) else None}
    return Delivery("jira", f"jira-delivery:{identifier}", {**payload, "events": events})


def _raw_issue(data: dict[str, Any], body: bytes) -> dict[str, Any] | JsonText:
    """The issue as sent, in the bytes received (the event's `raw`, as the sync stores the
    issues it searched for); the body itself when it holds no issue object."""
    issue = data.get("issue")
    if not isinstance(issue, dict):
        return verbatim.whole(body)
    return verbatim.issue(body) or issue
