"""Configuration: Flask defaults, and the receivers built from the manifest and environment.

Secrets live in environment variables the manifest names. Every one a receiver needs must be
set, or create_app refuses to start (ConfigError naming the variable), unless
`ALLOW_UNSIGNED` is true: "explicitly allowed for local demos". A secret that is set must
have MIN_SECRET_LENGTH characters at least, whatever ALLOW_UNSIGNED says. Even then a request that
carries credentials nobody configured is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugin import logs
from plugin.engine import ticket_fields
from plugin.errors import ConfigError, Problem
from plugin.manifest import Manifest
from plugin.runtime import xapi_modules
from webhooks.services import JiraReceiver, XapiReceiver

DEFAULTS: dict[str, Any] = {
    "MAX_CONTENT_LENGTH": 1024 * 1024,  # 1 MiB; larger bodies get a JSON 413
    "ALLOW_UNSIGNED": False,  # accept unsigned requests when no secret is set (demos only)
    "OUTBOX_STUCK_SECONDS": 900,  # /readyz fails when the oldest due effect is older
    "INBOX_STUCK_SECONDS": 900,  # ... when an event waits undecided longer than this
    "INBOX_FAILED_LIMIT": 10,  # ... when this many events received in that window failed
    "MANIFEST": None,  # manifest path, when create_app is not given one
    "DATABASE_URL": None,  # database URL, when create_app is not given a store
    "UNSUBSCRIBE_SECRET": None,  # signs the unsubscribe links in messages (off when unset)
    "UI_SECRET_KEY": None,  # signs the web UI's sessions; the UI under /ui/ is off when unset
    "UI_INSECURE_HTTP": False,  # session cookies without Secure: plain-http demos and tests
    "UI_SESSION_MINUTES": 480,  # a web UI session ends this long after signing in
    # Single sign-on (webui.oidc): on when any of the three is set, and then all three must
    # be (ConfigError naming the one missing). Read on the first sign-in, not at start.
    "OIDC_ISSUER": None,  # the OpenID provider's issuer URL (https; http only on loopback)
    "OIDC_CLIENT_ID": None,  # the client (application) id registered at the provider
    "OIDC_CLIENT_SECRET": None,  # its secret
    "OIDC_SCOPES": "openid email profile",  # must include openid and email
}
UNSIGNED_HINT = "set it, or SKILLRELAY_ALLOW_UNSIGNED=true to accept unsigned requests (demos)"
# An HMAC key or shared token this short can be guessed offline from one captured delivery
# (the signature, or the token, and the body are all an attacker needs to test guesses).
MIN_SECRET_LENGTH = 16
SHORT_HINT = (
    "a shorter HMAC key or shared token can be guessed offline from one captured delivery; "
    "use a random one, e.g. `openssl rand -hex 32`"
)


class _Env:
    """Reads secrets, collecting a Problem for every one that is missing, and for every one
    too short (refused even when unsigned requests are allowed: it is set, so it is meant)."""

    def __init__(self, env: Mapping[str, str], file: str) -> None:
        self.env = env
        self.file = file
        self.problems: list[Problem] = []
        self.short: list[Problem] = []

    def get(self, name: str, field: str) -> str | None:
        value = self.env.get(name, "")
        if not value:
            message = f"environment variable {name} is not set; {UNSIGNED_HINT}"
            self.problems.append(Problem(self.file, None, field, message))
            return None
        logs.register_setting(field, value)  # only secrets are masked in logs
        if len(value) < MIN_SECRET_LENGTH:
            message = (
                f"environment variable {name} holds {len(value)} characters; at least "
                f"{MIN_SECRET_LENGTH} are required: {SHORT_HINT}"
            )
            self.short.append(Problem(self.file, None, field, message))
        return value


def receivers(
    manifest: Manifest, env: Mapping[str, str], *, allow_unsigned: bool, file: str = ""
) -> tuple[JiraReceiver | None, XapiReceiver | None]:
    """The configured senders; ConfigError if a secret is missing and unsigned is not allowed."""
    secrets = _Env(env, file)
    jira = _jira(manifest, secrets)
    xapi = _xapi(manifest, secrets, allow_unsigned)
    problems = secrets.short if allow_unsigned else [*secrets.problems, *secrets.short]
    if problems:
        raise ConfigError(problems)
    return jira, xapi


def _jira(manifest: Manifest, secrets: _Env) -> JiraReceiver | None:
    src = manifest.jira
    if src is None:
        return None
    field = f"sources[{src.id}]"
    automation = None
    if src.automation_secret_env:
        automation = secrets.get(src.automation_secret_env, f"{field}.automation_secret_env")
    return JiraReceiver(
        base_url=src.base_url,
        deployment=src.deployment,
        custom_fields=ticket_fields(manifest),
        webhook_secret=secrets.get(src.webhook_secret_env, f"{field}.webhook_secret_env"),
        automation_secret=automation,
        automation_header=src.automation_header,
        projects=frozenset(src.projects),
    )


def _xapi(manifest: Manifest, secrets: _Env, allow_unsigned: bool) -> XapiReceiver | None:
    """None (the endpoint answers 404) without `forward_secret_env`: statements are pulled
    then. The credentials skillrelay reads the LRS with never open the receiver."""
    src = manifest.xapi
    if src is None:
        return None
    if not src.forward_secret_env:
        return XapiReceiver(xapi_modules(manifest), None) if allow_unsigned else None
    secret = secrets.get(src.forward_secret_env, f"sources[{src.id}].forward_secret_env")
    return XapiReceiver(modules=xapi_modules(manifest), secret=secret)
