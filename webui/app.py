"""Mounting the UI: its configuration, services and security headers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from plugin.errors import ConfigError, Problem
from plugin.manifest import Manifest
from plugin.pipeline import AwardActions, EffectSettings
from plugin.store import Store
from webui.limits import LoginLimiter

UI_EXTENSION = "skillrelay.webui"
OIDC_EXTENSION = "skillrelay.webui.oidc"  # set only when single sign-on is configured
MIN_KEY_LENGTH = 32
csrf = CSRFProtect()


@dataclass(frozen=True)
class UiServices:
    store: Store
    manifest: Manifest
    actions: AwardActions
    limiter: LoginLimiter
    session_seconds: int


def init_app(app: Flask, store: Store, manifest: Manifest) -> None:
    """Mount the UI under /ui/; ConfigError when UI_SECRET_KEY is shorter than 32 characters,
    or single sign-on (OIDC_*) is half configured."""
    key = str(app.config["UI_SECRET_KEY"])
    if len(key) < MIN_KEY_LENGTH:
        message = (
            f"SKILLRELAY_UI_SECRET_KEY holds {len(key)} characters; at least {MIN_KEY_LENGTH} "
            "are required (it signs the session cookies): e.g. `openssl rand -hex 32`"
        )
        raise ConfigError([Problem("", None, "UI_SECRET_KEY", message)])
    from webui import oidc  # imports the views, which import this module

    sso = oidc.settings_of(app.config)  # ConfigError when half configured
    minutes = int(app.config["UI_SESSION_MINUTES"])
    app.secret_key = key
    app.config.update(
        SESSION_COOKIE_NAME="skillrelay_ui",
        SESSION_COOKIE_PATH="/ui",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not bool(app.config["UI_INSECURE_HTTP"]),
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=minutes),
        # The UI checks tokens itself (views.before_request): the webhooks take no cookies.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=minutes * 60,
    )
    csrf.init_app(app)
    actions = AwardActions(store, manifest, EffectSettings.of(manifest), store.clock)
    limiter = LoginLimiter()
    app.extensions[UI_EXTENSION] = UiServices(store, manifest, actions, limiter, minutes * 60)
    if sso is not None:
        oidc.init_app(app, sso)
    from webui.pages import load
    from webui.views import bp  # the views import this module

    load()
    app.register_blueprint(bp)
