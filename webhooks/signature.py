"""Checking who sent a request, without I/O: HMAC signatures and shared secrets.

`X-Hub-Signature: <method>=<hex>` (WebSub; Jira Cloud admin webhooks and Data Center) is an
HMAC of the raw body with the webhook secret. The method prefix is parsed, not assumed:
Cloud sends sha256; WebSub (and so Data Center) also allows sha1, sha384 and sha512.

Strict both ways (as gidgethub's `validate_event`): a configured secret and no signature is
refused, and so is a signature when no secret is configured. Every comparison is
`hmac.compare_digest` on bytes (it refuses non-ASCII str).
"""

from __future__ import annotations

import hashlib
import hmac
import string

from webhooks.errors import (
    BadSignature,
    MissingSignature,
    UnexpectedSignature,
    UnsupportedSignatureMethod,
)

SUPPORTED_METHODS = ("sha256", "sha1", "sha384", "sha512")
_HEX_DIGITS = {method: hashlib.new(method).digest_size * 2 for method in SUPPORTED_METHODS}
_HEX = frozenset(string.hexdigits)


def parse_signature(header: str) -> tuple[str, str]:
    """(method, lower-case hex digest) of an `X-Hub-Signature` value."""
    method, sep, digest = header.strip().partition("=")
    method = method.strip().lower()
    if not sep or not method or not digest:
        raise BadSignature("X-Hub-Signature: malformed, expected <method>=<hex digest>")
    if method not in SUPPORTED_METHODS:
        raise UnsupportedSignatureMethod(
            f"X-Hub-Signature: unsupported method {method[:16]!r}; "
            f"supported: {', '.join(SUPPORTED_METHODS)}"
        )
    size = _HEX_DIGITS[method]
    if len(digest) != size or not _HEX.issuperset(digest):
        raise BadSignature(f"X-Hub-Signature: {method} digest must be {size} hex digits")
    return method, digest.lower()


def sign(secret: str, body: bytes, method: str = "sha256") -> str:
    """The header value Jira would send for `body`."""
    digest = hmac.new(secret.encode("utf-8"), body, method).hexdigest()
    return f"{method}={digest}"


def verify_signature(secret: str | None, body: bytes, header: str | None) -> None:
    """Raise a SignatureError unless `header` signs `body` with `secret`."""
    if not secret:
        if header:
            raise UnexpectedSignature("X-Hub-Signature: sent, but no webhook secret is configured")
        return
    if not header:
        raise MissingSignature("X-Hub-Signature: missing; this endpoint requires signed requests")
    method, digest = parse_signature(header)
    expected = hmac.new(secret.encode("utf-8"), body, method).hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"), digest.encode("ascii")):
        raise BadSignature("X-Hub-Signature: does not match the body")


def same_secret(expected: str, given: str) -> bool:
    """Constant-time equality of two secrets (any characters)."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))
