"""The app factory: config, the injected store/manifest/secrets, blueprints, errors, metrics.

The two webhook routes are served in front of Flask (webhooks.direct). The web UI (package
webui) is mounted under /ui/ only when UI_SECRET_KEY is set.

Config comes from DEFAULTS, then `test_config`, then `SKILLRELAY_*` environment variables
(`app.config.from_prefixed_env("SKILLRELAY")`: e.g. SKILLRELAY_MAX_CONTENT_LENGTH=2097152,
SKILLRELAY_ALLOW_UNSIGNED=true). The composition root passes the store and the manifest; when
it does not, they are opened from DATABASE_URL and MANIFEST (the usual SKILLRELAY_* names).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, request

import webui
from plugin.manifest import Manifest, load_manifest
from plugin.settings import database_url, manifest_path
from plugin.store import Store
from plugin.store.group_commit import GroupCommit
from webhooks import errors, health, inbox_health, jira, openapi, unsubscribe, xapi
from webhooks.config import DEFAULTS, receivers
from webhooks.direct import DirectRoutes
from webhooks.metrics import Metrics
from webhooks.services import EXTENSION, Services


def create_app(
    test_config: Mapping[str, Any] | None = None,
    *,
    store: Store | None = None,
    manifest: Manifest | None = None,
    env: Mapping[str, str] | None = None,
) -> Flask:
    """The webhook app. `env` holds the secrets the manifest names (default: os.environ).

    Raises ConfigError when a secret the manifest names is not set, unless ALLOW_UNSIGNED.
    """
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.config.from_prefixed_env("SKILLRELAY")

    manifest_file = str(manifest_path(app.config["MANIFEST"]))
    if manifest is None:
        manifest = load_manifest(manifest_file)
    jira_receiver, xapi_receiver = receivers(
        manifest,
        os.environ if env is None else env,
        allow_unsigned=bool(app.config["ALLOW_UNSIGNED"]),
        file=manifest_file if app.config["MANIFEST"] else "",
    )
    if store is None:
        store = Store.open(database_url(app.config["DATABASE_URL"]))
    metrics = Metrics()
    opened = store
    metrics.watch_store(
        store.outbox.backlog,
        store.inbox.count_by_status,
        lambda: inbox_health.failed_by_reason(opened),
    )
    found = Services(
        store=store,
        intake=GroupCommit(store.inbox_writer.write),
        metrics=metrics,
        jira=jira_receiver,
        xapi=xapi_receiver,
        outbox_stuck_seconds=float(app.config["OUTBOX_STUCK_SECONDS"]),
        inbox_stuck_seconds=float(app.config["INBOX_STUCK_SECONDS"]),
        inbox_failed_limit=int(app.config["INBOX_FAILED_LIMIT"]),
    )
    app.extensions[EXTENSION] = found
    for blueprint in (jira.bp, xapi.bp, health.bp, openapi.bp, unsubscribe.bp):
        app.register_blueprint(blueprint)
    if app.config["UI_SECRET_KEY"]:
        webui.init_app(app, store, manifest)
    errors.register(app)
    _time_requests(app, metrics)
    app.wsgi_app = DirectRoutes(app, found, app.wsgi_app)  # type: ignore[method-assign]
    return app


def _time_requests(app: Flask, metrics: Metrics) -> None:
    @app.before_request
    def start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def observe(response: Response) -> Response:
        started = g.get("started")
        if started is not None:
            endpoint = request.url_rule.rule if request.url_rule else "unmatched"
            metrics.latency.labels(endpoint=endpoint).observe(time.perf_counter() - started)
        return response
