"""The planner as the service runs it: words with the admin's overrides, the Jira search for
"apply it now", and the unsubscribe links."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from plugin.errors import ConfigError, Problem
from plugin.manifest import Manifest
from plugin.notify.locale import Locales, jira_lookup, moodle_lookup
from plugin.notify.scheduler import Links, Scheduler, Suggest
from plugin.notify.suggest import suggester
from plugin.notify.words import Words
from plugin.runtime import Secrets, jira_client, moodle_client
from plugin.store import Store

log = logging.getLogger("skillrelay.notify")

PUBLIC_URL = "SKILLRELAY_PUBLIC_URL"
UNSUBSCRIBE_SECRET = "SKILLRELAY_UNSUBSCRIBE_SECRET"  # noqa: S105 (a variable name)


def words_for(manifest_file: Path) -> Words:
    """The built-in words, with a `templates/` folder next to the manifest overriding them."""
    folder = manifest_file.parent / "templates"
    words = Words(folder if folder.is_dir() else None)
    for problem in words.problems():
        log.warning("notify: %s (the built-in text is used instead)", problem)
    return words


def scheduler_for(
    store: Store,
    manifest: Manifest,
    manifest_file: Path,
    secrets: Secrets,
    env: Mapping[str, str],
    *,
    jira_dry_run: bool = False,
    offline_suggest: Suggest | None = None,
) -> Scheduler | None:
    """None when the manifest names no channel that reaches people. `offline_suggest` answers
    "apply it now" when Jira is a dry run (the demo's backlog)."""
    if not any(c.type != "lrs_statement" for c in manifest.notifications.channels):
        log.info("notify: no message channel in the manifest; nothing is planned")
        return None
    suggest = offline_suggest if jira_dry_run else None
    if manifest.jira is not None and not jira_dry_run:
        suggest = suggester(manifest, jira_client(manifest, secrets).search_first)
    secret = env.get(UNSUBSCRIBE_SECRET)
    public = env.get(PUBLIC_URL)
    if secret and len(secret) < 16:
        raise ConfigError([Problem("", None, UNSUBSCRIBE_SECRET, "must be 16 characters at least")])
    links = Links(public, secret.encode()) if secret and public else Links()
    lookups = []
    if manifest.moodle is not None and any(
        c.type == "moodle_message" for c in manifest.notifications.channels
    ):
        moodle = moodle_client(manifest, secrets)

        def moodle_lang(user: int) -> str | None:
            found = moodle.users_by_field("id", [user])
            return found[0].lang if found else None

        lookups.append(moodle_lookup(moodle_lang))
    if manifest.jira is not None and not jira_dry_run:
        jira = jira_client(manifest, secrets)
        lookups.append(jira_lookup(lambda account: jira.user(account).locale))
    if not links.secret:
        log.info("notify: no unsubscribe links (set %s and %s)", PUBLIC_URL, UNSUBSCRIBE_SECRET)
    return Scheduler(
        store,
        manifest,
        words_for(manifest_file),
        suggest=suggest,
        links=links,
        locales=Locales(tuple(lookups)),
    )
