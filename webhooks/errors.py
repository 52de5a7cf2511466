"""Every error is JSON `{"error": code, "message": text}`; bad input is always a 4xx.

The codes refine plugin.errors' WebhookError classes (one per reason a request is refused);
they are also the `reason` label of the rejected-requests counter. An unreachable store is a
503 (the sender retries it); anything unexpected a bare 500 with no detail.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from plugin.errors import PayloadError, SignatureError, StoreError, WebhookError
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


def error_body(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify(error=code, message=message), status


def register(app: Flask) -> None:
    """Install the one error handler: every error becomes the same JSON shape."""

    @app.errorhandler(Exception)
    def handle(exc: Exception) -> tuple[Response, int]:
        if isinstance(exc, WebhookError):
            _rejected(app, exc.code)
            response, status = error_body(exc.status, exc.code, exc.message)
            if status == 401:
                for challenge in CHALLENGES.get(_sender(), ()):
                    response.headers.add("WWW-Authenticate", challenge)
            return response, status
        if isinstance(exc, HTTPException):
            return _http_error(app, exc)
        if isinstance(exc, SQLAlchemyError | StoreError):
            log.warning("store unavailable: %s", type(exc).__name__)
            return error_body(503, "store_unavailable", "the store is unavailable; try again later")
        log.exception("unexpected error in %s %s", request.method, request.path)
        return error_body(500, "internal_error", "unexpected error")


def _http_error(app: Flask, exc: HTTPException) -> tuple[Response, int]:
    """Werkzeug's own errors (404, 405, 413, ...), with our codes and a JSON body."""
    status = exc.code or 500
    code = HTTP_CODES.get(status, "http_error")
    _rejected(app, code)
    message = exc.description or code
    if status == 413:
        message = f"body: larger than the limit of {app.config['MAX_CONTENT_LENGTH']} bytes"
    response, _ = error_body(status, code, message)
    for name, value in exc.get_headers():
        if name == "Allow":  # a 405 names the methods that would work
            response.headers[name] = value
    return response, status


SENDERS = ("jira", "xapi")
# What a 401 offers (RFC 9110 11.6.1). Jira signs with X-Hub-Signature or a shared header,
# which no HTTP authentication scheme names, so only the xAPI receiver has challenges.
CHALLENGES: dict[str, tuple[str, ...]] = {
    "xapi": ('Basic realm="skillrelay", charset="UTF-8"', 'Bearer realm="skillrelay"'),
}


def _rejected(app: Flask, code: str) -> None:
    found = app.extensions.get(EXTENSION)
    if isinstance(found, Services):
        found.metrics.rejected.labels(sender=_sender(), reason=code).inc()


def _sender() -> str:
    """The sender a refused request was meant for (a bounded label: jira, xapi or other)."""
    name = request.blueprint or request.path.removeprefix("/webhooks/").partition("/")[0]
    return name if name in SENDERS else "other"
