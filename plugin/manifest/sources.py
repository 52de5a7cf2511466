"""Where skillrelay reads from: one Jira, one Moodle and one xAPI LRS, each with its own auth."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StrictBool, StrictInt, StringConstraints, ValidationInfo

from plugin.manifest.base import Email, EnvName, Id, Strict, Url

LOOPBACK = ("localhost", "::1")


def secure_url(url: str, info: ValidationInfo) -> str:
    """A source's URL carries its credentials: plain http only to this machine, or when the
    manifest says so (`allow_insecure_http: true`, declared before the URL)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    local = host in LOOPBACK or host.startswith("127.")
    if parts.scheme == "http" and not local and not info.data.get("allow_insecure_http"):
        raise ValueError(
            f"{url} would send the credentials in clear text; use https://, or set "
            "allow_insecure_http: true on this source (plain http is allowed to loopback)"
        )
    return url


SecureUrl = Annotated[Url, AfterValidator(secure_url)]
HEADER_PATTERN = r"^[A-Za-z0-9-]+$"
PROJECT_PATTERN = r"^[A-Z][A-Z0-9_]+$"
CUSTOM_FIELD_PATTERN = r"^customfield_[0-9]+$"


class JiraBasicAuth(Strict):
    """Jira Cloud: the account's email and an API token (held in an environment variable)."""

    type: Literal["basic"]
    email: Email
    token_env: EnvName


class JiraBearerAuth(Strict):
    """Jira Data Center: a personal access token (held in an environment variable)."""

    type: Literal["bearer"]
    token_env: EnvName


class XapiBasicAuth(Strict):
    type: Literal["basic"]
    username_env: EnvName
    password_env: EnvName


class XapiBearerAuth(Strict):
    type: Literal["bearer"]
    token_env: EnvName


JiraAuth = Annotated[JiraBasicAuth | JiraBearerAuth, Field(discriminator="type")]
XapiAuth = Annotated[XapiBasicAuth | XapiBearerAuth, Field(discriminator="type")]


class JiraSource(Strict):
    id: Id
    type: Literal["jira"]
    deployment: Literal["cloud", "datacenter"]
    allow_insecure_http: StrictBool = False
    base_url: SecureUrl
    auth: JiraAuth
    # Admin webhooks sign their body with this secret (X-Hub-Signature).
    webhook_secret_env: EnvName
    # Automation "Send web request" rules cannot sign; they send a shared secret header.
    automation_secret_env: EnvName | None = None
    automation_header: Annotated[str, StringConstraints(pattern=HEADER_PATTERN)] = (
        "X-Skillrelay-Token"
    )
    projects: tuple[Annotated[str, StringConstraints(pattern=PROJECT_PATTERN)], ...] = Field(
        min_length=1
    )
    skill_field: Annotated[str, StringConstraints(pattern=CUSTOM_FIELD_PATTERN)] | None = None


class MoodleSource(Strict):
    id: Id
    type: Literal["moodle"]
    allow_insecure_http: StrictBool = False
    url: SecureUrl
    token_env: EnvName
    concurrency: Annotated[StrictInt, Field(ge=1, le=32)] = 4
    # A new enrolment in the course of a module of interest counts as starting it (for the
    # stalled-module reminders); an activity viewed but not completed always counts.
    started_on_enrolment: StrictBool = True


class XapiSource(Strict):
    id: Id
    type: Literal["xapi"]
    allow_insecure_http: StrictBool = False
    endpoint: SecureUrl
    auth: XapiAuth
    xapi_version: Literal["1.0.3", "2.0.0"] = "1.0.3"
    # Shared secret an LRS sends when it forwards statements to our webhook.
    forward_secret_env: EnvName | None = None
    # What the LRS's `since` compares: `stored` (the xAPI spec), `timestamp` (Ralph), or
    # `auto`: probed once, and read as for `timestamp` (safe on both) until then.
    since_compares: Literal["auto", "stored", "timestamp"] = "auto"
    # Where `since` compares `timestamp`, this trailing window is read again this often, for
    # statements stored late with older timestamps (Logstore xAPI retrying its queue).
    reread_window_hours: Annotated[StrictInt, Field(ge=1, le=720)] = 24
    reread_every_minutes: Annotated[StrictInt, Field(ge=5, le=10080)] = 60


Source = Annotated[JiraSource | MoodleSource | XapiSource, Field(discriminator="type")]
SOURCE_TYPES = ("jira", "moodle", "xapi")
