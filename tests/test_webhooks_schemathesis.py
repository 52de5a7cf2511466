"""/openapi.json is the contract: schemathesis against the signed app, with every check.

Generated requests go to the real app (signatures and credentials required), each signed
the way its sender signs: a Jira webhook body (it names `webhookEvent`) with the HMAC of the
exact bytes sent in `X-Hub-Signature`, any other Jira body with the Automation header, and
xAPI statements with the forward secret (Bearer or Basic). Every check schemathesis has runs
on every response, for schema-valid (positive) and schema-invalid (negative) requests:
valid bodies must be accepted, invalid ones refused with a documented 4xx, and every
status, content type, header and body must be the one the document declares.
"""

from __future__ import annotations

import base64
from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder

from plugin.manifest import Manifest
from plugin.store import Store
from tests.test_webhooks_support import (
    AUTOMATION_HEADER,
    AUTOMATION_SECRET,
    FORWARD_SECRET,
    SECRET,
    make_app,
    manifest,
)
from webhooks.signature import sign

__all__ = ["manifest"]  # the fixture shared from the support module

EXAMPLES = 150  # per database, positive and negative together: under 10 s on 2 cores
CREDENTIALS = {name.lower() for name in ("X-Hub-Signature", AUTOMATION_HEADER, "Authorization")}


def sent_bytes(case: schemathesis.Case[Any]) -> bytes:
    """The body exactly as the WSGI transport will send it (what a signature covers)."""
    kwargs = case.as_transport_kwargs()
    fields = {k: kwargs[k] for k in ("method", "path", "data", "json") if k in kwargs}
    return bytes(EnvironBuilder(**fields).get_request().get_data())


def credentials(case: schemathesis.Case[Any]) -> dict[str, str]:
    """What the sender of this request adds: a signature, a token, or LRS credentials."""
    if case.path == "/webhooks/jira":
        if isinstance(case.body, dict) and "webhookEvent" in case.body:
            return {"X-Hub-Signature": sign(SECRET, sent_bytes(case))}
        return {AUTOMATION_HEADER: AUTOMATION_SECRET}
    if case.path == "/webhooks/xapi":
        if len(sent_bytes(case)) % 2:  # both schemes an LRS may forward with
            pair = base64.b64encode(f"lrs:{FORWARD_SECRET}".encode()).decode()
            return {"Authorization": f"Basic {pair}"}
        return {"Authorization": f"Bearer {FORWARD_SECRET}"}
    return {}


def without_credentials(case: schemathesis.Case[Any]) -> schemathesis.Case[Any]:
    """The case with any credentials schemathesis generated taken out (they are invalid)."""
    for key in [k for k in case.headers or {} if k.lower() in CREDENTIALS]:
        del case.headers[key]
    return case


def run_contract(app: Flask) -> dict[tuple[str, str, int], int]:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    schema.config.generation.update(allow_x00=True)
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    cases = st.one_of([schema.as_strategy(mode) for mode in modes])
    seen: dict[tuple[str, str, int], int] = {}

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case[Any]) -> None:
        case = without_credentials(case)
        assert case.meta is not None
        # Passed as the caller's headers: schemathesis knows them as real credentials, and its
        # ignored_auth check sends the request again without them, and with wrong ones.
        response = case.call_and_validate(headers=credentials(case))
        mode = case.meta.generation.mode.value
        key = (mode, case.path, response.status_code)
        seen[key] = seen.get(key, 0) + 1

    check()
    return seen


def _assert_covered(seen: dict[tuple[str, str, int], int]) -> None:
    for path in ("/webhooks/jira", "/webhooks/xapi"):
        positive = {status for mode, p, status in seen if p == path and mode == "positive"}
        negative = {status for mode, p, status in seen if p == path and mode == "negative"}
        assert 200 in positive, (path, seen)
        assert 400 in negative, (path, seen)


def test_the_signed_app_keeps_the_contract(store: Store, manifest: Manifest) -> None:
    _assert_covered(run_contract(make_app(store, manifest)))
