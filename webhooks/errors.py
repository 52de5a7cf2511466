"""Every error is JSON `{"error": code, "message": text}`; bad input is always a 4xx.

The codes refine plugin.errors' WebhookError classes (one per reason a request is refused);
they are also the `reason` label of the rejected-requests counter. An unreachable store is a
503 (the sender retries it); anything unexpected a bare 500 with no detail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import msgspec
from flask import Flask, Response, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from plugin.errors import PayloadError, SignatureError, StoreError, WebhookError
from webhooks.incoming import JSON_TYPE
from webhooks.metrics import SENDERS, Metrics
from webhooks.services import EXTENSION, Services

log = logging.getLogger("skillrelay.webhooks")


class MissingSignature(SignatureError):
    code = "missing_signature"


class BadSignature(SignatureError):
    code = "bad_signature"


class UnsupportedSignatureMethod(SignatureError):
    code = "unsupported_signature_method"


class UnexpectedSignature(SignatureError):
    """Credentials were sent, but none are configured to check them against."""

    code = "unexpected_signature"


class UnexpectedCredentials(SignatureError):
    code = "unexpected_credentials"


class BadToken(SignatureError):
    code = "bad_token"


class MissingCredentials(SignatureError):
    code = "missing_credentials"


class BadCredentials(SignatureError):
    code = "bad_credentials"


class BadJson(PayloadError):
    code = "bad_json"


class UnsupportedMediaType(WebhookError):
    status = 415
    code = "unsupported_media_type"


class NotConfigured(WebhookError):
    status = 404
    code = "not_configured"


# Werkzeug's exceptions by status: the code each gets in our JSON body.
HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


@dataclass(frozen=True)
class Answer:
    """A JSON answer as the WSGI route and Flask both send it."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    def response(self) -> Response:
        response = Response(self.body, self.status, mimetype=JSON_TYPE)
        for name, value in self.headers:
            response.headers.add(name, value)
        return response


def error_body(
    status: int, code: str, message: str, headers: tuple[tuple[str, str], ...] = ()
) -> Answer:
    return Answer(status, msgspec.json.encode({"error": code, "message": message}), headers)


def answer(
    exc: Exception, sender: str, limit: int | None, metrics: Metrics | None, where: str
) -> Answer:
    """The answer to a request `exc` ended, counted as refused by `sender` (jira, xapi or
    other). `limit` is MAX_CONTENT_LENGTH (a 413 names it); `where` the method and path."""
    if isinstance(exc, WebhookError):
        _rejected(metrics, sender, exc.code)
        offered = CHALLENGES.get(sender, ()) if exc.status == 401 else ()
        challenges = tuple(("WWW-Authenticate", c) for c in offered)
        return error_body(exc.status, exc.code, exc.message, challenges)
    if isinstance(exc, HTTPException):
        return _http_error(exc, sender, limit, metrics)
    if isinstance(exc, SQLAlchemyError | StoreError):
        log.warning("store unavailable: %s", type(exc).__name__)
        return error_body(503, "store_unavailable", "the store is unavailable; try again later")
    log.error("unexpected error in %s", where, exc_info=exc)
    return error_body(500, "internal_error", "unexpected error")


def register(app: Flask) -> None:
    """Install the one error handler: every error becomes the same JSON shape."""

    @app.errorhandler(Exception)
    def handle(exc: Exception) -> Response:
        found = app.extensions.get(EXTENSION)
        metrics = found.metrics if isinstance(found, Services) else None
        limit = app.config["MAX_CONTENT_LENGTH"]
        where = f"{request.method} {request.path}"
        return answer(exc, _sender(), limit, metrics, where).response()


def _http_error(
    exc: HTTPException, sender: str, limit: int | None, metrics: Metrics | None
) -> Answer:
    """Werkzeug's own errors (404, 405, 413, ...), with our codes and a JSON body."""
    status = exc.code or 500
    code = HTTP_CODES.get(status, "http_error")
    _rejected(metrics, sender, code)
    message = exc.description or code
    if status == 413:
        message = f"body: larger than the limit of {limit} bytes"
    allow = tuple((n, v) for n, v in exc.get_headers() if n == "Allow")  # a 405's methods
    return error_body(status, code, message, allow)


# What a 401 offers (RFC 9110 11.6.1). Jira signs with X-Hub-Signature or a shared header,
# which no HTTP authentication scheme names, so only the xAPI receiver has challenges.
CHALLENGES: dict[str, tuple[str, ...]] = {
    "xapi": ('Basic realm="skillrelay", charset="UTF-8"', 'Bearer realm="skillrelay"'),
}


def _rejected(metrics: Metrics | None, sender: str, code: str) -> None:
    if metrics is not None:
        metrics.rejected.labels(sender=sender, reason=code).inc()


def _sender() -> str:
    """The sender a refused request was meant for (a bounded label: jira, xapi or other)."""
    name = request.blueprint or request.path.removeprefix("/webhooks/").partition("/")[0]
    return name if name in SENDERS else "other"
