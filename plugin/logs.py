"""Logging that never prints secrets: tokens, `wstoken`, Authorization values.

Only secrets are masked (API tokens, passwords, webhook and forwarding secrets), and only
as whole values: a user name is no secret, and masking it inside other words would garble
the log ("skillrelay" with a user "relay").

One record is one line: ticket keys, names and error messages come from outside, and a
newline in one would forge a record, an ESC byte would drive the reader's terminal. So
control characters are shown as escapes (`\\n`, `\\x1b`), a traceback's lines included.
"""

from __future__ import annotations

import logging
import re
import sys

from plugin.printable import printable

# A key is a whole word (`token`, `api_token`, `x-auth-token`), never the end of another
# one: Moodle's error code `invalidtoken: the token is unknown` names no secret.
_KEY = r"(?i)(?<![a-z0-9])"
_PATTERNS = [
    re.compile(r"(?i)(wstoken=)[^&\s\"']+"),
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(basic|bearer)?\s*[^\s\"',}]+"),
    re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(_KEY + r"(token[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"),
    re.compile(_KEY + r"(password[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"),
    re.compile(_KEY + r"(secret[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"),
]
# Manifest settings naming a variable that holds a secret; `username_env` is not one.
SECRET_SETTINGS = ("token_env", "password_env", "secret_env", "api_key_env")
_known_secrets: set[str] = set()
REDACTED = "***"
# A value is whole when no letter, digit, `_` or `-` touches it on either side.
_EDGE = r"[\w-]"


def register_secret(value: str | None) -> None:
    """Remember a secret value (read from the environment) so it is masked wherever it appears
    as a whole value."""
    if value and len(value) >= 4:
        _known_secrets.add(value)


def is_secret_setting(field: str) -> bool:
    """Whether a manifest field (`sources[jira].auth.token_env`) names a secret."""
    return field.rsplit(".", 1)[-1].endswith(SECRET_SETTINGS)


def register_setting(field: str, value: str | None) -> None:
    """Register `value`, read from the variable the manifest `field` names, if it is a secret."""
    if is_secret_setting(field):
        register_secret(value)


def redact(text: str) -> str:
    if _known_secrets:
        text = _known_pattern(frozenset(_known_secrets)).sub(REDACTED, text)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


_cache: dict[frozenset[str], re.Pattern[str]] = {}


def _known_pattern(secrets: frozenset[str]) -> re.Pattern[str]:
    found = _cache.get(secrets)
    if found is None:
        # Longest first, so a secret containing another is masked whole.
        values = "|".join(re.escape(s) for s in sorted(secrets, key=len, reverse=True))
        found = re.compile(f"(?<!{_EDGE})(?:{values})(?!{_EDGE})")
        _cache.clear()
        _cache[secrets] = found
    return found


def clean(text: str) -> str:
    """Secrets masked (on the raw text, where they match), then controls escaped."""
    return printable(redact(text))


class RedactingFilter(logging.Filter):
    """For a handler of its own: the message redacted and escaped before any formatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = clean(record.getMessage())
        record.args = None
        return True


class LineFormatter(logging.Formatter):
    """The whole record, traceback too, redacted and on one line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return clean(super().format(record))


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
