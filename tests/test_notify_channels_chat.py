"""ChatWebhookSender against a real HTTP server on 127.0.0.1: the exact JSON posted, and how
the webhook's answers are classified; the URL (a credential) stays out of errors and logs."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from connectors.notify_chat import ChatWebhookSender, chat_text, escape, link
from connectors.notify_message import Notification
from plugin.errors import AuthError, FatalError, RetriableError
from plugin.logs import LineFormatter
from tests.test_notify_channels_support import RU, notification

SECRET_PATH = "/hooks/T0001/B0002/xoxb-not-a-real-secret-4f9a"


@dataclass
class Hook:
    """What the webhook received, and what it answers next."""

    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""
    stall: bool = False  # hold the answer until the test ends
    released: threading.Event = field(default_factory=threading.Event)

    def answer(self, status: int, body: str = "", **headers: str) -> None:
        self.answers.append((status, headers, body.encode()))

    def posted(self, index: int = -1) -> Any:
        return json.loads(self.requests[index][2])


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(size)
            state.requests.append((self.path, dict(self.headers.items()), body))
            if state.stall:
                state.released.wait(10)
            status, headers, reply = state.answers.pop(0) if state.answers else (200, {}, b"ok")
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}{SECRET_PATH}"
    try:
        yield state
    finally:
        state.released.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_posts_the_exact_slack_compatible_json(hook: Hook) -> None:
    ChatWebhookSender(hook.url).send(notification("chat"))

    [(path, headers, body)] = hook.requests
    assert path == SECRET_PATH
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(body) == {
        "text": (
            "*You earned a paid learning hour*\n\n"
            "Hi Ben,\n\n"
            "You applied SQL indexing in PAY-101 &amp; it shows.\n"
            "Your manager approved the reward.\n\n"
            "Keep going!\n\n"
            "<https://northwind.atlassian.net/browse/PAY-7|PAY-7 Fix the slow query>\n"
            "<https://lms.northwind.example/mod/page/view.php?id=2101|SQL indexing &lt;module&gt;>"
        )
    }


def test_russian_text_is_sent_as_utf8(hook: Hook) -> None:
    ChatWebhookSender(hook.url).send(notification("chat", base=RU, links=[]))
    assert "Вы применили навык «Индексы SQL»".encode() in hook.requests[0][2]
    assert hook.posted() == {
        "text": (
            "*Вы заработали оплачиваемый час обучения*\n\n"
            "Здравствуйте, Ольга!\n\n"
            "Вы применили навык «Индексы SQL» в PAY-101."
        )
    }


def test_nothing_in_a_message_can_forge_a_link_or_mention() -> None:
    effect = notification(
        "chat",
        text="See <!channel> and <https://evil.example|your bank>",
        links=[{"text": "a|b>c", "url": "https://x.example/a b|c>d"}],
    )
    text = chat_text(Notification.read(effect, "chat"))
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; and &lt;https://evil.example|your bank&gt;" in text
    assert text.endswith("<https://x.example/a%20b%7Cc%3Ed|a¦b&gt;c>")
    assert escape("a & b") == "a &amp; b"
    assert link("https://x.example/?q=1&r=2", "go") == "<https://x.example/?q=1&r=2|go>"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried(hook: Hook, status: int) -> None:
    hook.answer(status, "upstream trouble")
    with pytest.raises(RetriableError) as caught:
        ChatWebhookSender(hook.url).send(notification("chat"))
    assert caught.value.status == status


def test_429_is_retried_after_the_servers_pause(hook: Hook) -> None:
    hook.answer(429, "rate_limited", Retry_After="30")
    with pytest.raises(RetriableError) as caught:
        ChatWebhookSender(hook.url).send(notification("chat"))
    assert caught.value.retry_after == 30


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (400, "invalid_payload", "Bad Request: invalid_payload"),
        (404, "no_service", "Not Found: no_service"),
        (410, "channel_is_archived", "Gone: channel_is_archived"),
        (
            400,
            json.dumps({"id": "web.incoming_webhook.text.app_error", "message": "No text"}),
            "Bad Request: web.incoming_webhook.text.app_error",
        ),
        (400, "Ben Carter's message could not be posted", "Bad Request"),
    ],
)
def test_4xx_is_fatal_with_the_reason(hook: Hook, status: int, body: str, reason: str) -> None:
    hook.answer(status, body)
    with pytest.raises(FatalError) as caught:
        ChatWebhookSender(hook.url).send(notification("chat"))
    assert not isinstance(caught.value, RetriableError)
    assert str(caught.value) == f"chat (HTTP {status}): {reason}"


def test_403_is_an_auth_error(hook: Hook) -> None:
    hook.answer(403, "action_prohibited")
    with pytest.raises(AuthError, match="action_prohibited"):
        ChatWebhookSender(hook.url).send(notification("chat"))


def test_a_redirect_is_not_followed(hook: Hook) -> None:
    hook.answer(302, "", Location="https://elsewhere.example/collect")
    with pytest.raises(FatalError, match=re.escape("redirect to elsewhere.example")):
        ChatWebhookSender(hook.url).send(notification("chat"))
    assert len(hook.requests) == 1


def test_nothing_listening_is_retried_without_the_url(
    hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    url = hook.url.replace(hook.url.split("/")[2], "127.0.0.1:9")  # discard port: refused
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RetriableError, match="connection failed: ConnectionError") as caught:
        ChatWebhookSender(url, timeout=(1.0, 1.0)).send(notification("chat"))
    assert SECRET_PATH not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_slow_webhook_times_out_and_is_retried(hook: Hook) -> None:
    hook.stall = True
    with pytest.raises(RetriableError, match="connection failed: ReadTimeout"):
        ChatWebhookSender(hook.url, timeout=(1.0, 0.3)).send(notification("chat"))


def test_the_url_never_reaches_a_log_line(hook: Hook, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sender = ChatWebhookSender(hook.url)
    sender.send(notification("chat"))
    hook.answer(404, "no_service")
    with pytest.raises(FatalError):
        sender.send(notification("chat"))
    formatter = LineFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert any("POST" in line for line in lines)  # urllib3 logged its request line...
    assert not any(SECRET_PATH in line for line in lines)  # ...without the secret part
    assert SECRET_PATH not in repr(sender)


@pytest.mark.parametrize(
    "url", ["http://hooks.example/services/x", "ftp://127.0.0.1/x", "hooks.example/x"]
)
def test_only_https_or_loopback_http(url: str) -> None:
    with pytest.raises(ValueError, match="https://"):
        ChatWebhookSender(url)


def test_an_unreadable_payload_is_fatal_before_posting(hook: Hook) -> None:
    with pytest.raises(FatalError, match="has no subject"):
        ChatWebhookSender(hook.url).send(notification("chat", subject=""))
    assert hook.requests == []
