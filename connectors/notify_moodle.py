"""Learner notifications as Moodle personal messages (outbox target "moodle", action "message").

One `core_message_send_instant_messages` call per effect, from the web-service token's user
to the person's Moodle user: the HTML body (textformat 1), with the idempotency key as
`clientmsgid` (Moodle takes only letters, digits, `_` and `-` there: see `client_msgid`).

Moodle answers a refused message with HTTP 200 and an item `{"msgid": -1, "errormessage":
...}` (the user does not exist, their preferences refuse messages from the sender, the text
is too long): FatalError with Moodle's words. Its exceptions are classified by
connectors.moodle_wire (a bad token or a missing function: AuthError; maintenance mode:
RetriableError); messaging switched off on the site is AuthError here (an admin must turn it
on; the worker pauses the target instead of dead-lettering every message). A person without
a Moodle user id is FatalError.

Moodle does not deduplicate by `clientmsgid` (it only echoes it), so the client makes one
attempt per send (the delivery policy): a reply lost after Moodle stored the message is the
one case that shows it twice.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import requests
from pydantic import TypeAdapter, ValidationError

from connectors.delivery import DELIVERY_POLICY
from connectors.http import RetryPolicy
from connectors.moodle import SEND_MESSAGES, MoodleClient
from connectors.moodle_models import SentMessage
from connectors.notify_message import Notification
from plugin.effects import Effect
from plugin.errors import AuthError, FatalError

SERVICE = "moodle"
MESSAGE = "message"
FORMAT_HTML = 1
MAX_CLIENT_MSGID = 64
MAX_ERROR = 200
_SENT = TypeAdapter(list[SentMessage])
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def client_msgid(key: str) -> str:
    """The idempotency key as Moodle's PARAM_ALPHANUMEXT (a value it would have to clean
    is refused as invalidparameter): other characters become `-`, and a key that had any,
    or was longer than MAX_CLIENT_MSGID, ends in a hash of itself so two keys stay two."""
    safe = _UNSAFE.sub("-", key)
    if safe == key and len(key) <= MAX_CLIENT_MSGID:
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    return f"{safe[: MAX_CLIENT_MSGID - len(digest) - 1]}-{digest}"


class MoodleMessageSender:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        session: requests.Session | None = None,
        policy: RetryPolicy = DELIVERY_POLICY,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        extra: dict[str, Any] = {} if sleep is None else {"sleep": sleep}
        self.client = MoodleClient(url, token, session=session, policy=policy, **extra)

    def params(self, effect: Effect) -> dict[str, Any]:
        """The call's arguments for `effect` (FatalError when its recipient has no user)."""
        if effect.action != MESSAGE:
            raise FatalError(SERVICE, f"no Moodle action {effect.action!r}")
        note = Notification.read(effect, SERVICE)
        if note.to.moodle_user_id is None:
            raise FatalError(
                SERVICE,
                f"person {note.person} has no Moodle user id; link their Moodle account "
                f"(moodle sync) or turn Moodle messages off for them (notification {note.key})",
            )
        message = {
            "touserid": note.to.moodle_user_id,
            "text": note.html,
            "textformat": FORMAT_HTML,
            "clientmsgid": client_msgid(note.key),
        }
        return {"messages": [message]}

    def send(self, effect: Effect) -> None:
        params = self.params(effect)
        [message] = params["messages"]
        try:
            body = self.client.call(SEND_MESSAGES, params)
        except FatalError as exc:
            if isinstance(exc, AuthError) or f"{SEND_MESSAGES}: disabled:" not in str(exc):
                raise
            raise AuthError(
                SERVICE,
                f"{SEND_MESSAGES}: messaging is disabled on the site; enable it (Site "
                "administration > General > Messaging) or turn Moodle messages off",
            ) from None
        try:
            results = _SENT.validate_python(body)
        except ValidationError:
            raise FatalError(SERVICE, f"{SEND_MESSAGES}: unexpected answer shape") from None
        if len(results) != 1:
            raise FatalError(SERVICE, f"{SEND_MESSAGES}: {len(results)} results for 1 message")
        [result] = results
        if result.clientmsgid is not None and result.clientmsgid != message["clientmsgid"]:
            raise FatalError(SERVICE, f"{SEND_MESSAGES}: the answer is for another message")
        if result.msgid == -1 or result.msgid <= 0:
            why = _short(result.errormessage) or "message not sent"
            raise FatalError(
                SERVICE,
                f"{SEND_MESSAGES}: Moodle refused the message to user {message['touserid']}: {why}",
            )


def _short(value: str | None) -> str:
    text = " ".join(str(value or "").split())
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"
