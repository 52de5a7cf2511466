"""GET and POST /unsubscribe/<token>: the link at the bottom of every optional message.

It works without a login: the token names the person and the kind of message and is signed
with SKILLRELAY_UNSUBSCRIBE_SECRET, so nobody can unsubscribe someone else. GET shows what
the link does and a button; POST (the button, or a mail client's one-click unsubscribe,
RFC 8058) records it. Recording twice changes nothing.
"""

from __future__ import annotations

from html import escape

from flask import Blueprint, Response, current_app

from plugin.errors import WebhookError
from plugin.notify.unsubscribe import BadLink, verify
from webhooks.services import services

bp = Blueprint("unsubscribe", __name__)

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}
button{{font:inherit;padding:.4rem 1rem}}</style></head>
<body><h1>{title}</h1><p>{body}</p>{form}</body></html>"""


def _kind(kind: str) -> str:
    return kind.replace("_", " ")


class NotEnabled(WebhookError):
    status = 404
    code = "not_found"


class BadToken(WebhookError):
    code = "bad_link"


def _check(token: str) -> tuple[str, str]:
    """(person, kind) of a genuine link; a JSON 404 when links are off, 400 when forged."""
    secret = current_app.config.get("UNSUBSCRIBE_SECRET")
    if not secret:
        raise NotEnabled("unsubscribe links are not enabled here")
    try:
        return verify(str(secret).encode(), token)
    except BadLink as exc:
        raise BadToken(str(exc)) from None


def _page(title: str, body: str, form: str = "") -> Response:
    page = PAGE.format(title=title, body=body, form=form)
    return Response(page, 200, content_type="text/html; charset=utf-8")


@bp.get("/unsubscribe/<token>")
def confirm(token: str) -> Response:
    _, kind = _check(token)
    form = '<form method="post"><button type="submit">Unsubscribe</button></form>'
    return _page("Unsubscribe", f"You will no longer get “{escape(_kind(kind))}” messages.", form)


@bp.post("/unsubscribe/<token>")
def unsubscribe(token: str) -> Response:
    person, kind = _check(token)
    if services().store.optouts.add(person, kind):
        return _page("Unsubscribed", f"Done: no more “{escape(_kind(kind))}” messages.")
    return _page(
        "Unsubscribed", f"You had already unsubscribed from “{escape(_kind(kind))}” messages."
    )
