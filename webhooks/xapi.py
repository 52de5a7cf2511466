"""POST /webhooks/xapi: statements an LRS forwards (one statement or an array).

Inbound trust only: the LRS signs in with the xAPI source's forward secret
(`forward_secret_env`), as a bearer token or as the password of Basic auth (any user name,
for LRSs that forward with Basic only). The credentials skillrelay itself reads the LRS with
(`auth`) are outbound and never accepted here. Secrets are compared in constant time; a 401
names both schemes in `WWW-Authenticate` (webhooks.errors). Completions, and progress on a
module (launched, viewed... see connectors.xapi_source), go to the inbox under their
statement id, like the xAPI sync's; other statements are acknowledged and counted as
ignored, by reason.
"""

from __future__ import annotations

from flask import Blueprint, Response, request
from werkzeug.datastructures import Authorization

from webhooks import verbatim
from webhooks.errors import (
    BadCredentials,
    MissingCredentials,
    NotConfigured,
    UnexpectedCredentials,
)
from webhooks.incoming import Incoming
from webhooks.intake import Outcome, Prepared, json_body, prepare_events, respond
from webhooks.services import Services, XapiReceiver, services
from webhooks.signature import same_secret
from webhooks.statements import parse_statements

bp = Blueprint("xapi", __name__)


def authenticate(xapi: XapiReceiver, header: str | None) -> None:
    """Raise a SignatureError unless `header` carries the forward secret."""
    if not header:
        if xapi.signed:
            raise MissingCredentials("Authorization: missing (Basic or Bearer)")
        return
    auth = Authorization.from_header(header)
    if auth is None or auth.type not in ("basic", "bearer"):
        raise BadCredentials("Authorization: expected Basic or Bearer credentials")
    if xapi.secret is None:
        raise UnexpectedCredentials(
            f"Authorization: {auth.type.title()} sent, but no forward secret is set"
        )
    if auth.type == "basic":
        if not same_secret(xapi.secret, auth.password or ""):
            raise BadCredentials(
                "Authorization: wrong password; Basic takes the forward secret as its password"
            )
        return
    if not same_secret(xapi.secret, auth.token or ""):
        raise BadCredentials("Authorization: wrong bearer token")


@bp.post("/webhooks/xapi")
def receive() -> Response:
    """Reached only through Flask (tests hold it to webhooks.direct, which serves the route)."""
    incoming = Incoming(request.environ, request.max_content_length)
    return respond(services(), "xapi", take, incoming).response()


def take(found: Services, incoming: Incoming) -> Prepared:
    xapi = found.xapi
    if xapi is None:
        raise NotConfigured(
            "no xAPI source with forwarding credentials is configured in the manifest"
        )
    body = incoming.body()
    authenticate(xapi, incoming.header("Authorization"))
    data = json_body(incoming, body)
    texts = verbatim.items(body) if isinstance(data, list) else [verbatim.whole(body)]
    parsed = parse_statements(data, xapi.modules, texts)

    def count_ignored(outcome: Outcome) -> None:
        for why, count in sorted(parsed.ignored.items()):  # "ignored_verb" -> reason "verb"
            reason = why.removeprefix("ignored_")
            found.metrics.ignored.labels(sender="xapi", reason=reason).inc(count)

    ignored = sum(parsed.ignored.values())
    return prepare_events(
        found.store, parsed.events, parsed.raws, ignored=ignored, then=count_ignored
    )
