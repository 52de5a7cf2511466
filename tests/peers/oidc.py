"""Session fixture: a real OpenID provider on 127.0.0.1 (oidc-provider-mock, from PyPI).

It is a small Flask app built on Authlib's server side that serves discovery, a JWKS and
RS256-signed ID tokens, shows a real authorization form a browser fills in, and takes each
person's claims over HTTP (`PUT /users/<sub>`). It runs in a process of its own, on a free
port, started once per session; one that does not start fails the test (never a skip).

    def test_sign_in(oidc_provider: Provider) -> None:
        sub = oidc_provider.person("amara.okafor@northwind.example")
        ...  # issuer: oidc_provider.issuer; authorize as `sub` on its form

`running(log, port, token_seconds)` starts another one: on a port where a test first found
nothing, or one that hands out expired ID tokens.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

__all__ = ["Provider", "oidc_provider", "running"]

HINT = "`make` installs it with the test extra (pip install -e '.[test]': oidc-provider-mock)"
START_SECONDS = 20
# The provider's own app, with nonces required (a client that sends none is refused), on the
# port given (0: one the kernel picks; a line of its output says which), its tokens valid for
# the seconds given.
SERVER = """
import sys
from datetime import timedelta
import oidc_provider_mock
from werkzeug.serving import make_server

life = timedelta(seconds=int(sys.argv[2]))
app = oidc_provider_mock.app(require_nonce=True, access_token_max_age=life)
server = make_server("127.0.0.1", int(sys.argv[1]), app, threaded=True)
print(f"port {server.server_port}", flush=True)
server.serve_forever(0.1)
"""
PORT_LINE = re.compile(r"^port ([0-9]+)$", re.MULTILINE)


@dataclass(frozen=True)
class Provider:
    issuer: str  # http://127.0.0.1:PORT, as the provider names itself in the ID tokens

    def person(self, email: str, *, verified: bool | None = True, sub: str | None = None) -> str:
        """Claims for a person who signs in as `sub` (default: the e-mail); returns the sub.
        `verified=None` leaves email_verified out, as many providers do."""
        claims: dict[str, object] = {"email": email, "name": email.split("@")[0]}
        if verified is not None:
            claims["email_verified"] = verified
        subject = sub or email
        response = requests.put(
            f"{self.issuer}/users/{quote(subject, safe='')}", json=claims, timeout=10
        )
        assert response.status_code == 204, response.text
        return subject


def _port(log: Path, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        found = PORT_LINE.search(log.read_text(errors="replace"))
        if found:
            return int(found.group(1))
        if process.poll() is not None:
            break
        time.sleep(0.05)
    output = log.read_text(errors="replace")[-2000:]
    pytest.fail(f"the OpenID provider did not start: {HINT}\n{output}", pytrace=False)


@contextmanager
def running(log: Path, port: int = 0, token_seconds: int = 3600) -> Iterator[Provider]:
    """A provider process on `port` (0: a free one), stopped when the block ends; its ID
    tokens expire `token_seconds` after they are issued (negative: already expired)."""
    # The provider refuses plain http unless told this is a test (its own switch).
    env = {**os.environ, "AUTHLIB_INSECURE_TRANSPORT": "1", "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(port), str(token_seconds)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        issuer = f"http://127.0.0.1:{_port(log, process)}"
        discovery = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10)
        if discovery.status_code != 200 or discovery.json().get("issuer") != issuer:
            pytest.fail(f"the OpenID provider answers oddly: {discovery.text[:500]}")
        yield Provider(issuer)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    """One provider for the session; each test adds the people it signs in as."""
    with running(tmp_path_factory.mktemp("oidc") / "provider.log") as provider:
        yield provider
