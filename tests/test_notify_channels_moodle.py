"""MoodleMessageSender against recorded core_message_send_instant_messages answers (responses):
the form sent, the 200-with-error answers (msgid -1), exceptions and transport failures."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
import responses

from connectors.moodle import REQUIRED_FUNCTIONS, SEND_MESSAGES
from connectors.notify_moodle import MAX_CLIENT_MSGID, MoodleMessageSender, client_msgid
from plugin.errors import AuthError, FatalError, RetriableError
from tests.test_notify_channels_support import EN, KEY, RU, notification

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "moodle"
URL = "https://lms.northwind.example/moodle"
ENDPOINT = f"{URL}/webservice/rest/server.php"
TOKEN = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


class Moodle:
    """Answers each POST with the next queued (status, body) and keeps the forms."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.answers: list[tuple[int, Any]] = []
        self.forms: list[dict[str, str]] = []
        mock.add_callback(responses.POST, ENDPOINT, callback=self.handle)

    def queue(self, body: Any, status: int = 200) -> None:
        self.answers.append((status, body))

    def handle(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = request.body
        text = body.decode() if isinstance(body, bytes) else str(body or "")
        self.forms.append(dict(parse_qsl(text, keep_blank_values=True)))
        status, answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return status, {"Content-Type": "application/json"}, json.dumps(answer)


@pytest.fixture
def moodle() -> Iterator[Moodle]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield Moodle(mock)


def sender() -> MoodleMessageSender:
    return MoodleMessageSender(URL, TOKEN)


def test_sends_one_html_message_with_the_key_as_clientmsgid(moodle: Moodle) -> None:
    moodle.queue(fixture("send_instant_message_sent"))
    sender().send(notification("moodle", "message"))
    [form] = moodle.forms
    assert form == {
        "wstoken": TOKEN,
        "wsfunction": SEND_MESSAGES,
        "moodlewsrestformat": "json",
        "messages[0][touserid]": "102",
        "messages[0][text]": EN["html"],
        "messages[0][textformat]": "1",
        "messages[0][clientmsgid]": "notify-41-awarded-ben-carter-bccf8a9dac7c",
    }
    # The recorded answer echoes the id we sent.
    assert fixture("send_instant_message_sent")[0]["clientmsgid"] == client_msgid(KEY)


def test_russian_html_travels_as_utf8(moodle: Moodle) -> None:
    moodle.queue(fixture("send_instant_message_sent"))
    sender().send(notification("moodle", "message", base=RU, key=KEY))
    assert moodle.forms[0]["messages[0][text]"] == RU["html"]
    assert moodle.forms[0]["messages[0][touserid]"] == "103"


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("send_instant_message_cant_message", "due to their message preferences"),
        ("send_instant_message_no_user", "user id (102) that doesn't exist"),
    ],
)
def test_a_refused_message_in_a_200_answer_is_fatal_with_moodles_words(
    moodle: Moodle, name: str, words: str
) -> None:
    moodle.queue(fixture(name))
    with pytest.raises(FatalError) as caught:
        sender().send(notification("moodle", "message"))
    assert not isinstance(caught.value, (RetriableError, AuthError))
    message = str(caught.value)
    assert message.startswith(f"moodle: {SEND_MESSAGES}: Moodle refused the message to user 102: ")
    assert words in message
    assert len(moodle.forms) == 1


def test_messaging_disabled_is_an_auth_error_that_says_what_to_do(moodle: Moodle) -> None:
    moodle.queue(fixture("error_messaging_disabled"))
    with pytest.raises(AuthError, match="messaging is disabled on the site; enable it"):
        sender().send(notification("moodle", "message"))


def test_a_missing_function_is_an_auth_error(moodle: Moodle) -> None:
    moodle.queue(fixture("error_accessexception_debug"))
    with pytest.raises(AuthError, match=SEND_MESSAGES):
        sender().send(notification("moodle", "message"))


def test_invalid_parameter_is_fatal(moodle: Moodle) -> None:
    moodle.queue(fixture("error_invalidparameter"))
    with pytest.raises(FatalError, match="invalidparameter") as caught:
        sender().send(notification("moodle", "message"))
    assert not isinstance(caught.value, AuthError)
    assert "mdl_user" not in str(caught.value)  # debuginfo never copied


@pytest.mark.parametrize("status", [502, 503])
def test_5xx_is_retried_by_the_outbox_not_in_the_call(moodle: Moodle, status: int) -> None:
    moodle.queue({"error": "bad gateway"}, status)
    moodle.queue(fixture("send_instant_message_sent"))  # would be a second message
    with pytest.raises(RetriableError):
        sender().send(notification("moodle", "message"))
    assert len(moodle.forms) == 1  # one attempt: Moodle would not notice a repeat


def test_maintenance_mode_is_retried(moodle: Moodle) -> None:
    moodle.queue(fixture("error_sitemaintenance"))
    with pytest.raises(RetriableError):
        sender().send(notification("moodle", "message"))


def test_connection_failure_is_retried(moodle: Moodle) -> None:
    moodle.queue(requests.ConnectionError("refused"))
    with pytest.raises(RetriableError, match="connection failed"):
        sender().send(notification("moodle", "message"))


def test_an_answer_of_another_shape_is_fatal(moodle: Moodle) -> None:
    moodle.queue({"warnings": []})
    with pytest.raises(FatalError, match="unexpected answer shape"):
        sender().send(notification("moodle", "message"))
    moodle.queue([*fixture("send_instant_message_sent"), *fixture("send_instant_message_sent")])
    with pytest.raises(FatalError, match="2 results for 1 message"):
        sender().send(notification("moodle", "message"))


def test_person_without_a_moodle_user_is_fatal_before_calling(moodle: Moodle) -> None:
    with pytest.raises(FatalError, match=re.escape("person ben.carter has no Moodle user id")):
        sender().send(notification("moodle", "message", to={"moodle_user_id": None}))
    with pytest.raises(FatalError, match="moodle_user_id that is not a positive integer"):
        sender().send(notification("moodle", "message", to={"moodle_user_id": "102"}))
    with pytest.raises(FatalError, match="no Moodle action 'notify'"):
        sender().send(notification("moodle", "notify"))
    assert moodle.forms == []


@pytest.mark.parametrize(
    "key",
    [
        "notify:41:awarded:ben.carter",
        "notify:41:awarded#2:ben.carter",
        "plain-key_1",
        "x" * 200,
        "digest:2026-W02:оля",
    ],
)
def test_client_msgid_is_what_moodle_accepts(key: str) -> None:
    value = client_msgid(key)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", value)  # PARAM_ALPHANUMEXT, nothing to clean
    assert len(value) <= MAX_CLIENT_MSGID
    assert client_msgid(key) == value  # deterministic


def test_client_msgid_keeps_keys_apart() -> None:
    assert client_msgid("plain-key_1") == "plain-key_1"
    assert client_msgid("a-b") == "a-b"
    assert client_msgid("a:b").startswith("a-b-") and client_msgid("a:b") != "a-b"
    assert client_msgid("x" * 200) != client_msgid("x" * 199)


def test_the_function_is_listed_for_the_admin() -> None:
    listed = (REPO / "manifest" / "moodle-functions.txt").read_text(encoding="utf-8").split()
    assert SEND_MESSAGES in listed
    assert SEND_MESSAGES in REQUIRED_FUNCTIONS
