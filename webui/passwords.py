"""Password hashes: Argon2id with argon2-cffi's defaults (RFC 9106's second recommendation)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from plugin.errors import ConfigError

MIN_LENGTH = 10
MAX_LENGTH = 1024  # hashing a megabyte on every sign-in attempt would be a cheap denial of service
_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    problem = weak(password)
    if problem:
        raise ConfigError(problem)
    return _HASHER.hash(password)


def weak(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"a password needs {MIN_LENGTH} characters at least"
    if len(password) > MAX_LENGTH:
        return f"a password may have {MAX_LENGTH} characters at most"
    return None


@cache
def _dummy() -> str:
    return _HASHER.hash("no account has this password")


def verify(stored: str | None, password: str) -> bool:
    """Whether `password` matches; with no account, as slow as a real check (no timing hint)."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(stored or _dummy(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)
