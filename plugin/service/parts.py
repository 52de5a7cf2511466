"""The pieces a service runs, built from the manifest and the environment's secrets.

- senders: Jira through `JiraSender` (its API token is then required), or with
  `--jira-dry-run` a dry run that logs what would be written and records it as done; the
  LRS through `LrsSender` when the manifest names one (its credentials are then required).
  Delivery clients use `DELIVERY_POLICY`: the outbox worker, not the client, waits out a
  Retry-After.
- sync sources: every configured source; Jira only when its API token is set (without it
  tickets arrive by webhook alone, as the dry run says).
- the pipeline: claims new inbox events, decides, writes decisions, awards and effects.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime

from connectors.delivery import DELIVERY_POLICY, JiraSender, LrsSender, render
from connectors.notify_chat import ChatWebhookSender
from connectors.notify_email import EmailSender
from connectors.notify_moodle import MoodleMessageSender
from plugin.effects import Effect, EffectSender
from plugin.errors import ConfigError, Problem
from plugin.manifest import Manifest
from plugin.manifest.notifications import ChatChannel, EmailChannel, MoodleMessageChannel
from plugin.pipeline import Pipeline
from plugin.ports import Batch, EventSource
from plugin.runtime import Secrets, build_sources, jira_client, lrs_client
from plugin.store import Store

log = logging.getLogger("skillrelay.service")


def jira_token_set(manifest: Manifest, env: Mapping[str, str]) -> bool:
    jira = manifest.jira
    return jira is not None and bool(env.get(jira.auth.token_env))


class DryRunLog:
    """The Jira dry run of a long-running service: each effect rendered to the log, nothing
    kept (DryRunJiraSender keeps every rendering and key, which suits a demo, not a
    service). An effect sent again after a lapsed lease is logged again."""

    def __init__(self, deployment: str | None) -> None:
        self.deployment = deployment

    def send(self, effect: Effect) -> None:
        log.info("jira dry run, not written: %s", render(effect, self.deployment))


def senders(
    manifest: Manifest,
    secrets: Secrets,
    env: Mapping[str, str],
    *,
    jira_dry_run: bool = False,
    file: str = "",
) -> tuple[dict[str, EffectSender], list[str]]:
    """The sender per outbox target, and a line describing each for the start-up log.

    A dry run records Jira's effects as done without writing them, so it is never chosen
    because a token is missing: that is a ConfigError unless `jira_dry_run` asks for it."""
    found: dict[str, EffectSender] = {}
    lines: list[str] = []
    jira = manifest.jira
    if jira is not None and not jira_dry_run:
        if not jira_token_set(manifest, env):
            raise ConfigError(
                [
                    Problem(
                        file=file,
                        line=None,
                        field=f"sources[{jira.id}].auth.token_env",
                        message=(
                            f"{jira.auth.token_env} is not set: the outbox cannot write "
                            "comments and labels to Jira. Set it, or start with "
                            "--jira-dry-run to log them instead (they are then recorded as "
                            "done and never written)"
                        ),
                    )
                ]
            )
        client = jira_client(manifest, secrets, policy=DELIVERY_POLICY)
        found["jira"] = JiraSender(client)
        lines.append(f"jira {jira.deployment} {jira.base_url}")
    else:
        # Effects on Jira exist only for Jira tickets, so a manifest without Jira has none.
        found["jira"] = DryRunLog(jira.deployment if jira else None)
        why = "--jira-dry-run" if jira else "no Jira source"
        lines.append(f"jira DRY RUN ({why}: comments and labels are logged, not written)")
    if manifest.xapi is not None:
        found["lrs"] = LrsSender(lrs_client(manifest, secrets, policy=DELIVERY_POLICY))
        lines.append(f"lrs {manifest.xapi.endpoint}")
    message_senders(manifest, secrets, found, lines)
    return found, lines


def message_senders(
    manifest: Manifest, secrets: Secrets, found: dict[str, EffectSender], lines: list[str]
) -> None:
    """The channels learners' and managers' messages go out on (Jira mentions are comments,
    delivered by the Jira sender)."""
    for i, channel in enumerate(manifest.notifications.channels):
        where = f"notifications.channels[{i}]"
        if isinstance(channel, EmailChannel):
            smtp = channel.smtp
            user = (
                secrets.get(smtp.username_env, f"{where}.smtp.username_env")
                if smtp.username_env
                else None
            )
            password = (
                secrets.get(smtp.password_env, f"{where}.smtp.password_env")
                if smtp.password_env
                else None
            )
            found["email"] = EmailSender(
                smtp.host,
                smtp.port,
                from_address=smtp.sender,
                from_name=manifest.organisation.name,
                security=smtp.security,
                username=user,
                password=password,
            )
            lines.append(f"email {smtp.host}:{smtp.port} ({smtp.security})")
        elif isinstance(channel, ChatChannel):
            found["chat"] = ChatWebhookSender(secrets.get(channel.url_env, f"{where}.url_env"))
            lines.append("chat webhook")
        elif isinstance(channel, MoodleMessageChannel) and manifest.moodle is not None:
            src = manifest.moodle
            token = secrets.get(src.token_env, f"sources[{src.id}].token_env")
            found["moodle"] = MoodleMessageSender(src.url, token)
            lines.append(f"moodle messages {src.url}")


def sync_sources(manifest: Manifest, secrets: Secrets, env: Mapping[str, str]) -> list[EventSource]:
    sources: list[EventSource] = []
    for name in ("moodle", "xapi"):
        if getattr(manifest, name) is not None:
            sources.extend(build_sources(manifest, secrets, only=name))
    if jira_token_set(manifest, env):
        sources.extend(build_sources(manifest, secrets, only="jira"))
    return sources


class Stoppable:
    """A source whose pull ends between pages once `stop` is set: what was stored keeps its
    cursor, the rest is read on the next sync."""

    def __init__(self, source: EventSource, stop: threading.Event) -> None:
        self.source = source
        self.name = source.name
        self.stop = stop

    def pull(self, cursors: Mapping[str, str | None], now: datetime) -> Iterator[Batch]:
        pages = self.source.pull(cursors, now)
        try:
            for batch in pages:
                yield batch
                if self.stop.is_set():
                    return
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()


def pipeline(store: Store, manifest: Manifest, worker_id: str) -> Pipeline:
    """The pipeline, its engine rebuilt from the inbox (this reads every stored event)."""
    jira = manifest.jira
    return Pipeline(
        store,
        manifest,
        worker_id=worker_id,
        jira_base_url=str(jira.base_url).rstrip("/") if jira else "",
        deployment=jira.deployment if jira else "cloud",
        clock=store.clock,
    )
