"""Secrets never reach the log: tokens, wstoken, Authorization values, registered env secrets."""

from __future__ import annotations

import logging

import pytest

from plugin import logs


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
