"""POST /webhooks/xapi: statements an LRS forwards (one statement or an array).

The LRS signs in with the xAPI source's basic credentials or with the forward secret as a
bearer token (both compared in constant time). Completions go to the inbox under their
statement id, like the xAPI sync's; other statements are acknowledged and counted as ignored.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from werkzeug.datastructures import Authorization

from webhooks.errors import (
    BadCredentials,
    MissingCredentials,
    NotConfigured,
    UnexpectedCredentials,
)
from webhooks.intake import json_body, raw_body, store_events
from webhooks.services import XapiReceiver, services
from webhooks.signature import same_secret
from webhooks.statements import parse_statements

bp = Blueprint("xapi", __name__)


def authenticate(xapi: XapiReceiver, header: str | None) -> None:
    """Raise a SignatureError unless `header` holds the configured credentials."""
    if not header:
        if xapi.signed:
            raise MissingCredentials("Authorization: missing (Basic or Bearer)")
        return
    auth = Authorization.from_header(header)
    if auth is None or auth.type not in ("basic", "bearer"):
        raise BadCredentials("Authorization: expected Basic or Bearer credentials")
    if auth.type == "basic":
        if xapi.basic is None:
            raise UnexpectedCredentials("Authorization: Basic sent, but none is configured")
        user, password = xapi.basic
        # Both compared every time: the answer's timing tells nothing about which differed.
        same_user = same_secret(user, auth.username or "")
        same_password = same_secret(password, auth.password or "")
        if not (same_user and same_password):
            raise BadCredentials("Authorization: wrong username or password")
        return
    if xapi.bearer is None:
        raise UnexpectedCredentials("Authorization: Bearer sent, but no forward secret is set")
    if not same_secret(xapi.bearer, auth.token or ""):
        raise BadCredentials("Authorization: wrong bearer token")


@bp.post("/webhooks/xapi")
def receive() -> tuple[Response, int]:
    found = services()
    found.metrics.received.labels(sender="xapi").inc()
    xapi = found.xapi
    if xapi is None:
        raise NotConfigured(
            "no xAPI source with forwarding credentials is configured in the manifest"
        )
    body = raw_body(request)
    authenticate(xapi, request.headers.get("Authorization"))
    parsed = parse_statements(json_body(request, body), xapi.modules)
    ignored = sum(parsed.ignored.values())
    outcome = store_events(found.store, found.intake, parsed.events, parsed.raws, ignored=ignored)
    metrics = found.metrics
    if outcome.duplicate:
        metrics.duplicates.labels(sender="xapi").inc()
    if outcome.new:
        metrics.stored.labels(source="xapi").inc(outcome.new)
    if ignored:
        metrics.ignored.labels(sender="xapi").inc(ignored)
    return jsonify(outcome.body()), 200
