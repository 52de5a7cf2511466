"""Secrets never reach the log: tokens, wstoken, Authorization values, registered env secrets."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest

from plugin import logs
from plugin.runtime import Secrets


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("POST https://lms/webservice/rest/server.php?wstoken=abc123def&x=1", "abc123def"),
        ("headers {'Authorization': 'Basic dXNlcjpwYXNz'}", "dXNlcjpwYXNz"),
        ("Authorization: Bearer eyJhbGciOi.J9.xyz", "eyJhbGciOi"),
        ("sent bearer tok_live_9999 to jira", "tok_live_9999"),
        ('{"token": "s3cr3t-value"}', "s3cr3t-value"),
        ("api_token=ATATT3xFfGF0", "ATATT3xFfGF0"),
        ("password=hunter22", "hunter22"),
        ("webhook secret: It's-a-Secret", "It's-a-Secret"),
    ],
    ids=[
        "wstoken",
        "basic-header",
        "bearer-header",
        "bearer-word",
        "json-token",
        "api-token",
        "password",
        "secret",
    ],
)
def test_redact_masks_secrets(text: str, leak: str) -> None:
    assert leak not in logs.redact(text)
    assert logs.REDACTED in logs.redact(text)


def test_registered_secret_values_are_masked_anywhere() -> None:
    logs.register_secret("Zq9-very-private")
    assert logs.redact("url /x/Zq9-very-private/y") == "url /x/***/y"


def test_logging_output_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("skillrelay.test")
    record_filter = logs.RedactingFilter()
    logger.addFilter(record_filter)
    try:
        with caplog.at_level(logging.INFO, logger="skillrelay.test"):
            logger.info("calling %s", "https://lms/x?wstoken=deadbeef42")
    finally:
        logger.removeFilter(record_filter)
    assert "deadbeef42" not in caplog.text
    assert "wstoken=***" in caplog.text


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "_known_secrets", set())


@pytest.mark.usefixtures("clean_registry")
def test_a_registered_secret_is_masked_only_as_a_whole_value() -> None:
    logs.register_secret("relay")
    assert logs.redact("skillrelay ref 12 posted") == "skillrelay ref 12 posted"
    assert logs.redact("relays and relayed") == "relays and relayed"
    assert logs.redact("user relay, password relay") == "user ***, password ***"
    assert logs.redact("GET /x/relay?a=relay&b=1") == "GET /x/***?a=***&b=1"


def test_words_ending_in_token_are_not_keys() -> None:
    text = "moodle: invalidtoken: the token is unknown to Moodle: check the configured token"
    assert logs.redact(text) == text
    assert logs.redact("access_token=abc123 next") == "access_token=*** next"
    assert logs.redact("x-auth-token: abc123") == "x-auth-token: ***"


@pytest.mark.usefixtures("clean_registry")
def test_only_secret_settings_are_registered() -> None:
    settings = {
        "sources[lrs].auth.username_env": "relay",
        "sources[lrs].auth.password_env": "pw-very-private",
        "sources[jira].auth.token_env": "ATATT-token-value",
        "sources[jira].webhook_secret_env": "hook-secret-value",
        "sources[jira].automation_secret_env": "automation-value",
        "sources[lrs].forward_secret_env": "forward-value",
    }
    for field, value in settings.items():
        logs.register_setting(field, value)
    line = "relay sent pw-very-private ATATT-token-value hook-secret-value automation-value"
    assert logs.redact(line + " forward-value") == "relay sent *** *** *** *** ***"


@pytest.mark.usefixtures("clean_registry")
def test_the_runtime_registers_a_username_as_no_secret() -> None:
    env = {"LRS_USER": "relay", "LRS_PASSWORD": "pw-very-private"}
    secrets = Secrets("manifest.yaml", env)
    secrets.get("LRS_USER", "sources[lrs].auth.username_env")
    secrets.get("LRS_PASSWORD", "sources[lrs].auth.password_env")
    assert logs.redact("skillrelay ref 7 by relay: pw-very-private") == (
        "skillrelay ref 7 by relay: ***"
    )


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The handler `logs.configure` installs, writing to a string; the root logger restored."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    logs.configure("INFO")
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_newline_in_an_argument_cannot_forge_a_record(configured: io.StringIO) -> None:
    logging.getLogger("skillrelay.test").info("ticket %s moved", "PAY-1\n2026-01-01 INFO forged")
    text = configured.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert "ticket PAY-1\\n2026-01-01 INFO forged moved" in text


def test_terminal_controls_in_a_record_are_shown_not_sent(configured: io.StringIO) -> None:
    logging.getLogger("skillrelay.test").warning("assignee %s", "Eve\x1b]0;pwned\x07\r\u202e")
    text = configured.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert "\u202e" not in text
    assert "assignee Eve\\x1b]0;pwned\\x07\\r\\u202e" in text


def test_a_traceback_stays_in_its_record_and_is_redacted(configured: io.StringIO) -> None:
    failure = ValueError("GET /x?wstoken=deadbeef42\n2026-01-01 INFO forged")
    try:
        raise failure
    except ValueError:
        logging.getLogger("skillrelay.test").exception("step %s failed", "sync")
    text = configured.getvalue()
    assert text.count("\n") == 1
    assert "step sync failed\\nTraceback (most recent call last):" in text
    assert "deadbeef42" not in text and "wstoken=***" in text


def test_the_filter_escapes_what_it_redacts(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("skillrelay.test.filter")
    record_filter = logs.RedactingFilter()
    logger.addFilter(record_filter)
    try:
        with caplog.at_level(logging.INFO, logger="skillrelay.test.filter"):
            logger.info("key %s token=abc123", "PAY-1\nforged")
    finally:
        logger.removeFilter(record_filter)
    assert caplog.messages == ["key PAY-1\\nforged token=***"]
