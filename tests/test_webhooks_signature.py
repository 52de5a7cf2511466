"""X-Hub-Signature and shared secrets: Atlassian's known-answer vector and every malformed form."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from plugin.errors import SignatureError
from webhooks.errors import (
    BadSignature,
    MissingSignature,
    UnexpectedSignature,
    UnsupportedSignatureMethod,
)
from webhooks.signature import parse_signature, same_secret, sign, verify_signature

# Atlassian's test vector for Jira webhook signatures.
VECTOR_SECRET = "It's a Secret to Everybody"
VECTOR_BODY = b"Hello World!"
VECTOR_SIGNATURE = "sha256=a4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9"
SHA1 = "sha1=" + hmac.new(VECTOR_SECRET.encode(), VECTOR_BODY, hashlib.sha1).hexdigest()


def test_known_answer_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_BODY) == VECTOR_SIGNATURE
    verify_signature(VECTOR_SECRET, VECTOR_BODY, VECTOR_SIGNATURE)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (VECTOR_SIGNATURE, ("sha256", VECTOR_SIGNATURE[7:])),
        (SHA1, ("sha1", SHA1[5:])),
        ("SHA256=" + VECTOR_SIGNATURE[7:].upper(), ("sha256", VECTOR_SIGNATURE[7:])),
        (" " + VECTOR_SIGNATURE + " ", ("sha256", VECTOR_SIGNATURE[7:])),
    ],
    ids=["sha256", "sha1", "upper-case", "surrounding-space"],
)
def test_parse_signature_accepts(header: str, expected: tuple[str, str]) -> None:
    assert parse_signature(header) == expected


@pytest.mark.parametrize(
    ("header", "error", "message"),
    [
        ("md5=" + "0" * 32, UnsupportedSignatureMethod, "supported: sha256, sha1, sha384, sha512"),
        (VECTOR_SIGNATURE[7:], BadSignature, "malformed"),
        ("", BadSignature, "malformed"),
        ("sha256=", BadSignature, "malformed"),
        ("=" + "0" * 64, BadSignature, "malformed"),
        ("sha256=" + "z" * 64, BadSignature, "64 hex digits"),
        ("sha256=" + "0" * 63, BadSignature, "64 hex digits"),
        ("sha1=" + "0" * 64, BadSignature, "40 hex digits"),
    ],
    ids=[
        "unknown-method",
        "missing-equals",
        "empty",
        "empty-digest",
        "empty-method",
        "non-hex",
        "short",
        "sha1-wrong-length",
    ],
)
def test_parse_signature_refuses(header: str, error: type[SignatureError], message: str) -> None:
    with pytest.raises(error, match=message) as caught:
        parse_signature(header)
    assert caught.value.status == 401


@pytest.mark.parametrize(
    ("secret", "body", "header", "error"),
    [
        (VECTOR_SECRET, VECTOR_BODY, None, MissingSignature),
        (VECTOR_SECRET, VECTOR_BODY, "", MissingSignature),
        (None, VECTOR_BODY, VECTOR_SIGNATURE, UnexpectedSignature),
        ("", VECTOR_BODY, VECTOR_SIGNATURE, UnexpectedSignature),
        ("another secret", VECTOR_BODY, VECTOR_SIGNATURE, BadSignature),
        (VECTOR_SECRET, b"Hello World?", VECTOR_SIGNATURE, BadSignature),
        (VECTOR_SECRET, VECTOR_BODY, "sha512=" + "0" * 128, BadSignature),
    ],
    ids=[
        "secret-no-signature",
        "secret-empty-signature",
        "signature-no-secret",
        "signature-empty-secret",
        "wrong-secret",
        "body-changed",
        "other-method-wrong-digest",
    ],
)
def test_verify_refuses(
    secret: str | None, body: bytes, header: str | None, error: type[SignatureError]
) -> None:
    with pytest.raises(error):
        verify_signature(secret, body, header)


@pytest.mark.parametrize("method", ["sha1", "sha256", "sha384", "sha512"])
def test_verify_accepts_every_supported_method(method: str) -> None:
    verify_signature(VECTOR_SECRET, VECTOR_BODY, sign(VECTOR_SECRET, VECTOR_BODY, method))


def test_no_secret_and_no_signature_is_unsigned_mode() -> None:
    verify_signature(None, VECTOR_BODY, None)  # the caller allows this only with ALLOW_UNSIGNED


def test_comparisons_are_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("webhooks.signature.hmac.compare_digest", spy)
    verify_signature(VECTOR_SECRET, VECTOR_BODY, VECTOR_SIGNATURE)
    assert same_secret("s3cret", "s3cret")
    assert not same_secret("s3cret", "s3creT")
    assert len(calls) == 3
    assert all(isinstance(a, bytes) and isinstance(b, bytes) for a, b in calls)


@pytest.mark.parametrize(
    ("expected", "given", "same"),
    [("päss", "päss", True), ("päss", "pass", False), ("", "", True), ("a", "", False)],
    ids=["non-ascii", "non-ascii-differs", "empty", "empty-given"],
)
def test_same_secret_handles_any_characters(expected: str, given: str, same: bool) -> None:
    assert same_secret(expected, given) is same
