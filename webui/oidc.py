"""Single sign-on with OpenID Connect, beside the local accounts (which stay the fallback).

Authlib's Flask client runs the authorization code flow with PKCE (S256), state and nonce,
checks the ID token's signature against the provider's JWKS, and its iss, aud, exp and nonce.
The person is whoever in the manifest has the token's (or userinfo's) e-mail, compared
without case, unless the provider says the address is not verified. Admin rights still come
from the users table (`skillrelay users add PERSON --admin --sso-only`).

The discovery document is read on the first sign-in attempt, not at start, so `serve` starts
while the provider is down; until it answers, that attempt gets a 503 page.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError  # type: ignore[import-untyped]
from authlib.integrations.base_client import (  # type: ignore[import-untyped]
    MismatchingStateError,
    OAuthError,
)
from authlib.integrations.flask_client import (  # type: ignore[import-untyped]
    FlaskIntegration,
    FlaskOAuth2App,
)
from flask import Flask, current_app, g, redirect, render_template, request, session, url_for
from joserfc.errors import JoseError
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response as BaseResponse

from plugin import logs
from plugin.errors import ConfigError, Problem
from plugin.manifest import Manifest
from webui import words
from webui.app import OIDC_EXTENSION
from webui.views import audit, bp, home, remote_addr, t, ui, viewer_of

log = logging.getLogger(__name__)

REQUIRED = ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET")
DEFAULT_SCOPES = "openid email profile"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
DISCOVERY = "/.well-known/openid-configuration"
NAME = "skillrelay_oidc"  # Authlib keys its state in the session by this name
TIMEOUT = 10  # seconds for each call to the provider
MAX_PARAM = 4096  # state and code are far shorter; anything longer is not from the provider
MAX_EMAIL = 320

Page = tuple[str, int]


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str


@dataclass
class Sso:
    settings: OidcSettings
    client: Any  # Authlib's FlaskOAuth2App (untyped)
    checked: bool = False  # the discovery document was read and found usable


class ProviderError(Exception):
    """The provider cannot be reached (503), or answered what skillrelay cannot use (502)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Failed(Exception):
    """The callback is not a sign-in that may go on: counted by the rate limit."""

    def __init__(self, status: int, word: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.word = word
        self.reason = reason


# --- settings ---


def _text(config: Mapping[str, Any], key: str) -> str:
    """A setting as written. from_prefixed_env reads a value as JSON when it can, so a numeric
    client id arrives as a number: the environment still has the text."""
    value = config.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        value = os.environ.get(f"SKILLRELAY_{key}", str(value))
    return value.strip()


def secure(url: str) -> bool:
    """https, or plain http to this machine only (tests and local setups)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError on a port that is not a number)
    except ValueError:
        return False
    if not host or parts.username or parts.password:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK)


def settings_of(config: Mapping[str, Any]) -> OidcSettings | None:
    """None when single sign-on is off; ConfigError naming each variable that is missing or
    wrong when it is half configured."""
    values = {key: _text(config, key) for key in REQUIRED}
    if not any(values.values()):
        return None
    both = ", ".join(f"SKILLRELAY_{key}" for key in REQUIRED)
    problems = [
        Problem(
            "",
            None,
            key,
            f"SKILLRELAY_{key} is not set; single sign-on needs all of {both} "
            "(unset them all to turn it off)",
        )
        for key, value in values.items()
        if not value
    ]
    issuer = values["OIDC_ISSUER"]
    if issuer and not (secure(issuer) and not urlsplit(issuer).query and "#" not in issuer):
        message = (
            f"SKILLRELAY_OIDC_ISSUER is {issuer!r}: it must be the provider's https:// issuer "
            "URL, without query or fragment (plain http only for 127.0.0.1 or localhost)"
        )
        problems.append(Problem("", None, "OIDC_ISSUER", message))
    scopes = _text(config, "OIDC_SCOPES") or DEFAULT_SCOPES
    lacking = [s for s in ("openid", "email") if s not in scopes.split()]
    if lacking:
        message = (
            f"SKILLRELAY_OIDC_SCOPES is {scopes!r}: it must include {' and '.join(lacking)} "
            f"(people are matched by e-mail); the default is {DEFAULT_SCOPES!r}"
        )
        problems.append(Problem("", None, "OIDC_SCOPES", message))
    if problems:
        raise ConfigError(problems)
    logs.register_secret(values["OIDC_CLIENT_SECRET"])
    return OidcSettings(
        issuer, values["OIDC_CLIENT_ID"], values["OIDC_CLIENT_SECRET"], " ".join(scopes.split())
    )


def init_app(app: Flask, settings: OidcSettings) -> None:
    """Register the client; nothing is fetched from the provider yet."""
    client = FlaskOAuth2App(
        FlaskIntegration(NAME),
        NAME,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        server_metadata_url=settings.issuer.rstrip("/") + DISCOVERY,
        client_kwargs={
            "scope": settings.scopes,
            "code_challenge_method": "S256",
            "default_timeout": TIMEOUT,
        },
    )
    app.extensions[OIDC_EXTENSION] = Sso(settings, client)


def sso() -> Sso:
    """The configured client; 404 where single sign-on is off."""
    found = current_app.extensions.get(OIDC_EXTENSION)
    if not isinstance(found, Sso):
        raise NotFound()
    return found


# --- the provider ---


def _metadata_problem(found: Mapping[str, Any], issuer: str) -> str | None:
    said = found.get("issuer")
    if not isinstance(said, str) or said.rstrip("/") != issuer.rstrip("/"):
        return f"its discovery document names the issuer {said!r}, not {issuer!r}"
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = found.get(key)
        if not isinstance(value, str) or not secure(value):
            return f"its discovery document has no usable {key} ({value!r})"
    return None


def metadata(found: Sso) -> dict[str, Any]:
    """The provider's discovery document, read once and checked; ProviderError else."""
    client = found.client
    try:
        document = client.load_server_metadata()
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise ProviderError(503, f"cannot be reached ({type(exc).__name__})") from exc
    except (requests.RequestException, ValueError, TypeError) as exc:
        client.server_metadata.clear()
        raise ProviderError(502, f"no discovery document ({type(exc).__name__})") from exc
    if not found.checked:
        problem = _metadata_problem(document, found.settings.issuer)
        if problem:
            client.server_metadata.clear()  # read again on the next attempt
            raise ProviderError(502, problem)
        userinfo = document.get("userinfo_endpoint")
        if userinfo is not None and not (isinstance(userinfo, str) and secure(userinfo)):
            document.pop("userinfo_endpoint")  # the e-mail must then be in the ID token
        found.checked = True
    return cast(dict[str, Any], document)


def _fetch_token(found: Sso) -> dict[str, Any]:
    """The token response with the ID token's claims checked (under "userinfo")."""
    document = metadata(found)
    issuer = document["issuer"]
    try:
        token = found.client.authorize_access_token(
            claims_options={"iss": {"essential": True, "values": [issuer]}}
        )
    except MismatchingStateError as exc:
        raise Failed(400, "oidc_state", "state") from exc
    except OAuthError as exc:
        if exc.error in ("invalid_client", "unauthorized_client"):
            raise ProviderError(502, f"refused the client: {exc.error}") from exc
        raise Failed(400, "oidc_failed", f"token: {str(exc.error)[:100]}") from exc
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise ProviderError(503, f"cannot be reached ({type(exc).__name__})") from exc
    except (requests.RequestException, JoseError, AuthlibBaseError, ValueError) as exc:
        # A bad signature, issuer, audience, expiry or nonce, or a token response that is
        # not one: nothing from it is trusted.
        raise ProviderError(502, f"its ID token was refused ({type(exc).__name__})") from exc
    if not isinstance(token, dict) or not token.get("userinfo"):
        raise ProviderError(502, "it sent no ID token")
    return token


def _email_of(found: Sso, token: dict[str, Any]) -> tuple[object, object]:
    """The e-mail and its email_verified claim: from the ID token, else from userinfo."""
    claims = token["userinfo"]
    if claims.get("email") is not None or "userinfo_endpoint" not in metadata(found):
        return claims.get("email"), claims.get("email_verified")
    try:
        info = found.client.userinfo(token=token)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise ProviderError(503, f"cannot be reached ({type(exc).__name__})") from exc
    except (requests.RequestException, AuthlibBaseError, ValueError) as exc:
        raise ProviderError(502, f"userinfo failed ({type(exc).__name__})") from exc
    if info.get("sub") != claims.get("sub"):
        raise ProviderError(502, "userinfo describes another subject than the ID token")
    return info.get("email"), info.get("email_verified")


def person_with(manifest: Manifest, email: str) -> str | None:
    wanted = email.strip().casefold()
    for person in manifest.people_by_id.values():
        if person.email.casefold() == wanted:
            return person.id
    return None


def unverified(flag: object) -> bool:
    """Only an explicit false counts: many providers (Entra ID) send no email_verified."""
    return flag is False or (isinstance(flag, str) and flag.strip().lower() == "false")


# --- the pages ---


def page(status: int, message: str) -> Page:
    return render_template("error.html", status=status, message=message), status


def limit_key(addr: str) -> str:
    # The limiter counts per person id and per address; before the provider answers there is
    # no person, so the address stands in for both.
    return f"oidc:{addr}"


def provider_down(found: Sso, exc: ProviderError) -> Page:
    log.warning("single sign-on: the provider %s %s", found.settings.issuer, exc.reason)
    audit("login.failed", None, via="oidc", reason=f"provider: {exc.reason}")
    word = "oidc_unreachable" if exc.status == 503 else "oidc_bad_provider"
    return page(exc.status, t(word))


def limited() -> Page | None:
    addr = remote_addr()
    if ui().limiter.blocked(limit_key(addr), addr):
        audit("login.limited", None, via="oidc")
        return page(429, t("too_many"))
    return None


def redirect_uri() -> str:
    """The callback's address: on SKILLRELAY_PUBLIC_URL when set (behind a proxy), else as
    this request reached the server. Register exactly this at the provider."""
    public = _text(current_app.config, "PUBLIC_URL")
    if public:
        return public.rstrip("/") + url_for("webui.oidc_callback")
    return url_for("webui.oidc_callback", _external=True)


@bp.get("/oidc/login")
def oidc_login() -> BaseResponse | Page:
    found = sso()
    if g.viewer is not None:
        return home()
    refused = limited()
    if refused:
        return refused
    try:
        metadata(found)
        uri = redirect_uri()
        start = found.client.create_authorization_url(uri)
    except ProviderError as exc:
        return provider_down(found, exc)
    # One sign-in waits at a time: the session cookie holds its state, nonce and PKCE
    # verifier, and would outgrow a cookie if every abandoned attempt stayed in it.
    for key in [k for k in session if k.startswith(f"_state_{NAME}_")]:
        session.pop(key)
    url = start.pop("url")
    found.client.save_authorize_data(redirect_uri=uri, **start)
    return redirect(url)


def _checked_args(found: Sso) -> None:
    """The callback's parameters, checked before the provider is asked anything."""
    args = request.args
    state, code = args.get("state", ""), args.get("code", "")
    if len(state) > MAX_PARAM or len(code) > MAX_PARAM:
        raise Failed(400, "oidc_state", "too long")
    if "error" in args:  # the person cancelled, or the provider refused them
        if state:  # (some providers leave it out here) that attempt is over
            found.client.framework.clear_state_data(session, state)
        raise Failed(401, "oidc_cancelled", f"provider: {args.get('error', '')[:100]}")
    if not state or found.client.framework.get_state_data(session, state) is None:
        raise Failed(400, "oidc_state", "state")  # not started in this browser, or used
    if not code:
        raise Failed(400, "oidc_state", "code")


@bp.get("/oidc/callback")
def oidc_callback() -> BaseResponse | Page:
    found = sso()
    refused = limited()
    if refused:
        return refused
    limiter, addr = ui().limiter, remote_addr()
    try:
        _checked_args(found)
        token = _fetch_token(found)
        email, verified = _email_of(found, token)
    except Failed as exc:
        limiter.failed(limit_key(addr), addr)
        audit("login.failed", None, via="oidc", reason=exc.reason)
        return page(exc.status, t(exc.word))
    except ProviderError as exc:
        return provider_down(found, exc)
    manifest = ui().manifest
    text = email.strip() if isinstance(email, str) else ""
    matchable = 0 < len(text) <= MAX_EMAIL and not unverified(verified)
    person = person_with(manifest, text) if matchable else None
    text = text[:MAX_EMAIL]
    if person is None:
        limiter.failed(limit_key(addr), addr)
        reason = "no e-mail" if not text else "unverified" if unverified(verified) else "unknown"
        audit("login.refused", text or None, via="oidc", reason=reason, status=403)
        word = {"no e-mail": "oidc_no_email", "unverified": "oidc_unverified"}
        return page(403, t(word.get(reason, "oidc_refused"), email=text))
    limiter.succeeded(person)
    user = ui().store.users.get(person)
    session.clear()  # a new session: nothing from before signing in carries over
    session.permanent = True
    session.update(person=person, at=time.time(), via="oidc", email=text.casefold())
    g.viewer = viewer_of(manifest, person, user is not None and user.is_admin)
    audit("login", via="oidc")
    return home()


words.add(
    {
        "en": {
            "oidc_button": "Sign in with single sign-on",
            "oidc_or": "Or sign in with a skillrelay password:",
            "oidc_refused": "Your account ({email}) is not in skillrelay's people list; ask L&D.",
            "oidc_unverified": "Your provider has not verified the e-mail address {email}, "
            "so it cannot be matched to skillrelay's people list; ask L&D.",
            "oidc_no_email": "Your provider did not share an e-mail address, so your account "
            "cannot be matched to skillrelay's people list; ask L&D.",
            "oidc_state": "This sign-in was not started here, or it expired; nothing was "
            "changed. Start again from the sign-in page.",
            "oidc_failed": "Single sign-on could not be completed; nothing was changed. "
            "Start again from the sign-in page.",
            "oidc_cancelled": "Single sign-on did not complete: it was cancelled, or the "
            "provider refused it. Nothing was changed.",
            "oidc_unreachable": "The single sign-on provider cannot be reached right now. "
            "Try again in a few minutes, or sign in with a skillrelay password.",
            "oidc_bad_provider": "The single sign-on provider sent an answer skillrelay "
            "cannot use; nothing was changed. Ask your administrator to check the settings.",
        },
        "ru": {
            "oidc_button": "Войти через единый вход (SSO)",
            "oidc_or": "Или войдите с паролем skillrelay:",
            "oidc_refused": "Вашей учётной записи ({email}) нет в списке сотрудников "
            "skillrelay; обратитесь в отдел обучения (L&D).",
            "oidc_unverified": "Ваш провайдер не подтвердил адрес {email}, поэтому его нельзя "
            "сопоставить со списком сотрудников skillrelay; обратитесь в отдел обучения (L&D).",
            "oidc_no_email": "Ваш провайдер не передал адрес электронной почты, поэтому "
            "учётную запись нельзя сопоставить со списком сотрудников skillrelay; "
            "обратитесь в отдел обучения (L&D).",
            "oidc_state": "Этот вход начат не здесь или устарел; ничего не изменилось. "
            "Начните снова со страницы входа.",
            "oidc_failed": "Единый вход не удалось завершить; ничего не изменилось. "
            "Начните снова со страницы входа.",
            "oidc_cancelled": "Единый вход не завершён: его отменили или провайдер отказал. "
            "Ничего не изменилось.",
            "oidc_unreachable": "Провайдер единого входа сейчас недоступен. Попробуйте через "
            "несколько минут или войдите с паролем skillrelay.",
            "oidc_bad_provider": "Провайдер единого входа прислал ответ, который skillrelay "
            "не может использовать; ничего не изменилось. Попросите администратора проверить "
            "настройки.",
        },
    }
)
