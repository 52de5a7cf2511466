"""The composition root: turn a manifest and the environment into concrete connectors.

The only place in `plugin/` that knows the connector classes; everything else sees the
`EventSource` protocol.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta

from connectors.http import RetryPolicy
from connectors.jira import JiraClient, JiraSource
from connectors.moodle import MoodleClient
from connectors.moodle_sync import MoodleSource
from connectors.xapi import LrsClient, XapiSource
from plugin import logs
from plugin.engine import ticket_fields
from plugin.errors import ConfigError, Problem
from plugin.manifest import Manifest
from plugin.manifest.sources import (
    JiraBasicAuth,
    XapiBasicAuth,
)
from plugin.ports import Batch, EventSource

SOURCE_NAMES = ("jira", "moodle", "xapi")


class Secrets:
    """Reads the secrets the manifest names; a missing one is a config error naming both."""

    def __init__(self, manifest_file: str, env: Mapping[str, str] | None = None) -> None:
        self.file = manifest_file
        self.env = os.environ if env is None else env

    def get(self, name: str, field: str) -> str:
        value = self.env.get(name, "")
        if not value:
            raise ConfigError(
                [Problem(self.file, None, field, f"environment variable {name} is not set")]
            )
        logs.register_setting(field, value)  # a user name is no secret
        return value


def jira_client(
    manifest: Manifest, secrets: Secrets, policy: RetryPolicy | None = None
) -> JiraClient:
    src = manifest.jira
    assert src is not None
    field = f"sources[{src.id}].auth.token_env"
    token = secrets.get(src.auth.token_env, field)
    if isinstance(src.auth, JiraBasicAuth):
        return JiraClient(
            src.base_url, src.deployment, email=src.auth.email, token=token, policy=policy
        )
    return JiraClient(src.base_url, src.deployment, pat=token, policy=policy)


def lrs_client(
    manifest: Manifest, secrets: Secrets, policy: RetryPolicy | None = None
) -> LrsClient:
    src = manifest.xapi
    assert src is not None
    field = f"sources[{src.id}].auth"
    auth: tuple[str, str] | str
    if isinstance(src.auth, XapiBasicAuth):
        auth = (
            secrets.get(src.auth.username_env, field + ".username_env"),
            secrets.get(src.auth.password_env, field + ".password_env"),
        )
    else:
        auth = secrets.get(src.auth.token_env, field + ".token_env")
    return LrsClient(src.endpoint, auth=auth, version=src.xapi_version, policy=policy)


def moodle_client(manifest: Manifest, secrets: Secrets) -> MoodleClient:
    src = manifest.moodle
    assert src is not None
    return MoodleClient(src.url, secrets.get(src.token_env, f"sources[{src.id}].token_env"))


def xapi_modules(manifest: Manifest) -> dict[str, str]:
    """Activity IRI -> module key; for xAPI the key is the IRI itself (see modules_by_key)."""
    return {
        m.xapi_activity: m.xapi_activity
        for s in manifest.skills
        for m in s.modules
        if m.xapi_activity
    }


class LazyMoodleSource:
    """Builds the MoodleSource on the first pull; it finds unplaced modules' courses itself."""

    name = "moodle"

    def __init__(self, manifest: Manifest, client: MoodleClient) -> None:
        self.manifest = manifest
        self.client = client
        self._source: MoodleSource | None = None

    def source(self) -> MoodleSource:
        if self._source is None:
            src = self.manifest.moodle
            assert src is not None
            modules = [m for s in self.manifest.skills for m in s.modules if m.moodle_cmid]
            courses = {m.moodle_course for m in modules if m.moodle_course is not None}
            unplaced = [m.moodle_cmid for m in modules if m.moodle_course is None and m.moodle_cmid]
            cmids = [m.moodle_cmid for m in modules if m.moodle_cmid is not None]
            self._source = MoodleSource(
                self.client,
                courses=courses,
                cmids=cmids,
                unplaced=unplaced,
                concurrency=src.concurrency,
                started_on_view=True,
                started_on_enrolment=src.started_on_enrolment,
            )
        return self._source

    def pull(self, cursors: Mapping[str, str | None], now: datetime) -> Iterator[Batch]:
        return self.source().pull(cursors, now)


def build_sources(
    manifest: Manifest, secrets: Secrets, only: str | None = None
) -> list[EventSource]:
    """The configured pull sources, in a fixed order (completions before tickets)."""
    sources: list[EventSource] = []
    if manifest.moodle is not None and only in (None, "moodle"):
        sources.append(LazyMoodleSource(manifest, moodle_client(manifest, secrets)))
    if manifest.xapi is not None and only in (None, "xapi"):
        xapi = manifest.xapi
        sources.append(
            XapiSource(
                lrs_client(manifest, secrets),
                xapi_modules(manifest),
                since_compares=xapi.since_compares,
                reread_window=timedelta(hours=xapi.reread_window_hours),
                reread_every=timedelta(minutes=xapi.reread_every_minutes),
            )
        )
    if manifest.jira is not None and only in (None, "jira"):
        jira = manifest.jira
        fields = ticket_fields(manifest)
        sources.append(
            JiraSource(jira_client(manifest, secrets), projects=jira.projects, custom_fields=fields)
        )
    if only is not None and not sources:
        raise ConfigError(
            [Problem(secrets.file, None, "sources", f"no source of type {only} is configured")]
        )
    return sources
