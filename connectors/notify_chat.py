"""Learner notifications to a chat incoming webhook (outbox target "chat").

One POST per effect of the Slack-compatible body `{"text": ...}`, which Slack, Mattermost
and Rocket.Chat incoming webhooks all take: the subject in bold, the paragraphs, then one
line per link as `<url|text>`. `&`, `<` and `>` in the words are written as `&amp;`,
`&lt;`, `&gt;` (Slack's escaping; the others render them the same), so nothing in a
message can forge a link or a mention.

The webhook URL is a credential (whoever holds it posts to the channel): it is never logged
nor put in an error, and redirects are not followed. Responses are classified by the
project's HTTP policy (connectors.http.classify): 429 and 5xx are RetriableError (with
Retry-After), 401/403 AuthError, any other 4xx FatalError with its status, reason phrase and
the service's error code when it sends one (Slack: `invalid_payload`, `no_service`, ...;
Mattermost: `web.incoming_webhook...`), never free text. Connection errors and time-outs are
RetriableError. One attempt per send: the outbox is the retry loop, and a webhook cannot tell
a repeat, so a reply lost after the post may show the message twice.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from connectors.http import classify
from connectors.notify_message import Notification
from plugin.effects import Effect
from plugin.errors import FatalError, RetriableError
from plugin.logs import register_secret

log = logging.getLogger("skillrelay.chat")

SERVICE = "chat"
LOOPBACK = ("localhost", "127.0.0.1", "::1")
MAX_TEXT = 35_000  # Slack truncates a message's text at 40,000 characters
_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,80}$")


def escape(value: str) -> str:
    """Slack's three control characters, as entities."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, text: str) -> str:
    """`<url|text>`; the URL's own `|`, `<`, `>` and spaces percent-encoded, so it cannot end
    the link early."""
    safe = quote(url, safe=":/?#[]@!$&'()*+,;=%~-._")
    label = " ".join(text.split()).replace("|", "¦")
    return f"<{safe}|{escape(label)}>"


def chat_text(note: Notification) -> str:
    """The message as webhook text: *subject*, paragraphs, links."""
    parts = [f"*{escape(' '.join(note.subject.split()))}*"]
    parts += [escape(p) for p in note.paragraphs()]
    if note.links:
        parts.append("\n".join(link(item.url, item.text) for item in note.links))
    text = "\n\n".join(parts)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


class ChatWebhookSender:
    def __init__(
        self,
        url: str,
        *,
        timeout: tuple[float, float] = (5.0, 15.0),
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("the chat webhook URL must be an https:// URL")
        if parts.scheme == "http" and parts.hostname not in LOOPBACK:
            raise ValueError(
                "the chat webhook URL must be https:// (plain http only to this machine): "
                "it is a credential"
            )
        # Whole, and as urllib3's debug log shows it (the request line: path and query).
        register_secret(url)
        register_secret(parts.path + (f"?{parts.query}" if parts.query else ""))
        self._url = url
        self.timeout = timeout
        self.session = session or requests.Session()
        self.clock = clock

    def __repr__(self) -> str:  # the URL is a credential
        return f"{type(self).__name__}(url=***)"

    def body(self, effect: Effect) -> dict[str, Any]:
        """The JSON the webhook gets for `effect`."""
        return {"text": chat_text(Notification.read(effect, SERVICE))}

    def send(self, effect: Effect) -> None:
        data = json.dumps(self.body(effect), ensure_ascii=False).encode("utf-8")
        try:
            response = self.session.post(
                self._url,
                data=data,
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            # requests' messages name the URL: only the kind of failure goes on.
            raise RetriableError(SERVICE, f"connection failed: {type(exc).__name__}") from None
        except requests.RequestException as exc:
            raise FatalError(SERVICE, f"request failed: {type(exc).__name__}") from None
        log.debug("chat: webhook answered %s for %s", response.status_code, effect.idempotency_key)
        try:
            classify(SERVICE, response, self.clock())
        except FatalError as exc:
            code = _error_code(response)
            if code is None:
                raise
            raise type(exc)(SERVICE, f"{_reason(exc)}: {code}", exc.status) from None


def _reason(exc: FatalError) -> str:
    return str(exc).split(": ", 1)[-1]


def _error_code(response: requests.Response) -> str | None:
    """The service's error code, if its body is one (Slack answers `invalid_payload` as
    text; Mattermost a JSON object whose `id` is one); never free text."""
    body = response.text.strip()
    if _CODE.match(body):
        return body
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict):
        for name in ("id", "error"):
            value = data.get(name)
            if isinstance(value, str) and _CODE.match(value):
                return value
    return None
