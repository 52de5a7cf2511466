"""The one-click unsubscribe link: who and which kind, signed, so it works without a login
and cannot be forged for someone else."""

from __future__ import annotations

import base64
import hashlib
import hmac

from plugin.errors import SkillrelayError


class BadLink(SkillrelayError):
    exit_code = 2


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, b"unsubscribe:" + body, hashlib.sha256).digest()[:16]


def token(secret: bytes, person: str, kind: str) -> str:
    body = f"{person}\n{kind}".encode()
    return f"{_b64(body)}.{_b64(_mac(secret, body))}"


def link(public_url: str, secret: bytes, person: str, kind: str) -> str:
    return f"{public_url.rstrip('/')}/unsubscribe/{token(secret, person, kind)}"


def verify(secret: bytes, value: str) -> tuple[str, str]:
    """(person, kind) of a genuine token; BadLink otherwise."""
    try:
        body_text, mac_text = value.split(".", 1)
        body, mac = _unb64(body_text), _unb64(mac_text)
        person, kind = body.decode("utf-8").split("\n", 1)
    except (ValueError, UnicodeDecodeError):
        raise BadLink("this unsubscribe link is not one skillrelay made") from None
    if not hmac.compare_digest(mac, _mac(secret, body)):
        raise BadLink("this unsubscribe link is not one skillrelay made")
    return person, kind
