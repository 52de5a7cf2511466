"""What the views use, built once by create_app and kept in `app.extensions`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from flask import current_app

from connectors.jira_models import Deployment
from plugin.store import Store
from plugin.store.group_commit import GroupCommit
from plugin.store.intake import Encoded
from webhooks.metrics import Metrics

EXTENSION = "skillrelay"


@dataclass(frozen=True)
class JiraReceiver:
    base_url: str
    deployment: Deployment
    custom_fields: Sequence[str]
    webhook_secret: str | None  # HMAC key of X-Hub-Signature (admin and Data Center webhooks)
    automation_secret: str | None  # value of `automation_header` on Automation requests
    automation_header: str
    projects: frozenset[str] = frozenset()  # the manifest's projects; others are ignored

    @property
    def signed(self) -> bool:
        return bool(self.webhook_secret or self.automation_secret)


@dataclass(frozen=True)
class XapiReceiver:
    """Inbound only: the secret an LRS forwards with, never the credentials skillrelay signs
    in to the LRS with (those are outbound trust, for the sync and the outbox)."""

    modules: Mapping[str, str]  # activity IRI -> module key, as the xAPI sync uses
    secret: str | None  # forward_secret_env: a Bearer token, or the Basic password

    @property
    def signed(self) -> bool:
        return self.secret is not None


@dataclass(frozen=True)
class Services:
    store: Store
    intake: GroupCommit[Encoded]  # stores the inbox rows of concurrent requests together
    metrics: Metrics
    jira: JiraReceiver | None
    xapi: XapiReceiver | None
    outbox_stuck_seconds: float
    inbox_stuck_seconds: float = 900.0
    inbox_failed_limit: int = 10
    # Called after a webhook stored a new event (`serve` wakes its pipeline).
    on_stored: list[Callable[[], None]] = field(default_factory=list)


def services() -> Services:
    found = current_app.extensions[EXTENSION]
    assert isinstance(found, Services)
    return found
