"""The shared HTTP policy: retries, Retry-After, classification, safe links — no real sleeping."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
import requests
import responses

from connectors.http import HttpClient, RetryPolicy, parse_retry_after
from plugin.errors import AuthError, FatalError, RetriableError

NOW = 1_800_000_000.0
BASE = "https://service.example/api/"


def make_client(**policy: float) -> tuple[HttpClient, list[float]]:
    waits: list[float] = []
    client = HttpClient(
        "svc",
        BASE,
        policy=RetryPolicy(**policy),  # type: ignore[arg-type]
        sleep=waits.append,
        clock=lambda: NOW,
    )
    return client, waits


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        ("0", 0.0),
        ("2.5", 2.5),
        (format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True), 30.0),
        (format_datetime(datetime.fromtimestamp(NOW - 30, UTC), usegmt=True), 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
    ids=["seconds", "zero", "fraction", "http-date", "date-in-past", "garbage", "empty", "absent"],
)
def test_retry_after_both_forms(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


@responses.activate
def test_429_honours_retry_after_then_succeeds() -> None:
    responses.get(BASE + "x", status=429, headers={"Retry-After": "12"})
    responses.get(BASE + "x", json={"ok": True})
    client, waits = make_client()
    assert client.request("GET", "x").json() == {"ok": True}
    assert waits == [12.0]


@responses.activate
def test_503_burst_backs_off_exponentially_with_cap() -> None:
    for _ in range(4):
        responses.get(BASE + "x", status=503)
    responses.get(BASE + "x", json={})
    client, waits = make_client(backoff_base=1.0, backoff_cap=3.0)
    client.request("GET", "x")
    assert len(waits) == 4
    assert all(0 < w <= 3.0 for w in waits)
    assert waits[0] <= 2.0  # first wait: base plus at most one base of jitter


@responses.activate
def test_gives_up_after_the_configured_attempts() -> None:
    responses.get(BASE + "x", status=502)
    client, waits = make_client(attempts=3)
    with pytest.raises(RetriableError) as err:
        client.request("GET", "x")
    assert err.value.status == 502
    assert len(waits) == 2
    assert len(responses.calls) == 3


@responses.activate
def test_retry_after_longer_than_allowed_stops_at_once() -> None:
    responses.get(BASE + "x", status=429, headers={"Retry-After": "3600"})
    client, waits = make_client(max_retry_after=60)
    with pytest.raises(RetriableError) as err:
        client.request("GET", "x")
    assert err.value.retry_after == 3600
    assert waits == []


@responses.activate
def test_connection_errors_are_retried() -> None:
    responses.get(BASE + "x", body=requests.ConnectionError("refused"))
    responses.get(BASE + "x", json=[1])
    client, waits = make_client()
    assert client.request("GET", "x").json() == [1]
    assert len(waits) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, AuthError), (403, AuthError), (400, FatalError), (404, FatalError), (410, FatalError)],
    ids=["401", "403", "400", "404", "410"],
)
@responses.activate
def test_client_errors_are_not_retried(status: int, error: type[Exception]) -> None:
    responses.get(BASE + "x", status=status, body="secret learner data")
    client, waits = make_client()
    with pytest.raises(error) as err:
        client.request("GET", "x")
    assert waits == []
    assert "secret learner data" not in str(err.value)


@responses.activate
def test_listed_statuses_are_returned_not_raised() -> None:
    responses.post(BASE + "x", status=409)
    client, _ = make_client()
    assert client.request("POST", "x", ok=(409,)).status_code == 409


@responses.activate
def test_every_call_has_a_timeout() -> None:
    responses.get(BASE + "x", json={})
    client, _ = make_client(timeout=(1.0, 2.0))  # type: ignore[arg-type]
    client.request("GET", "x")
    assert responses.calls[0].request.req_kwargs["timeout"] == (1.0, 2.0)


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("/api/next?page=2", "https://service.example/api/next?page=2"),
        ("next?page=2", "https://service.example/api/next?page=2"),
        ("https://service.example/other", "https://service.example/other"),
    ],
    ids=["root-relative", "relative", "same-host-absolute"],
)
def test_links_resolve_on_the_configured_host(link: str, expected: str) -> None:
    client, _ = make_client()
    assert client.url(link) == expected


@pytest.mark.parametrize(
    "link",
    ["https://evil.example/api/next", "http://service.example/api/next", "//evil.example/x"],
    ids=["other-host", "other-scheme", "scheme-relative"],
)
def test_links_to_other_hosts_are_refused(link: str) -> None:
    client, _ = make_client()
    with pytest.raises(FatalError, match="another host"):
        client.url(link)


@responses.activate
def test_redirects_are_not_followed_to_keep_credentials_home() -> None:
    responses.get(BASE + "x", status=302, headers={"Location": "https://evil.example/steal"})
    responses.get("https://evil.example/steal", json={"stolen": True})
    client, _ = make_client()
    with pytest.raises(FatalError, match=r"unexpected redirect to evil\.example"):
        client.request("GET", "x")
    assert len(responses.calls) == 1


@responses.activate
def test_client_headers_and_auth_do_not_leak_into_a_shared_session() -> None:
    responses.get(BASE + "x", json={})
    shared = requests.Session()
    client = HttpClient("svc", BASE, session=shared, headers={"X-Token": "t"}, auth=("u", "p"))
    client.request("GET", "x")
    sent = responses.calls[0].request
    assert sent.headers["X-Token"] == "t"
    assert sent.headers["Authorization"].startswith("Basic ")
    assert "X-Token" not in shared.headers
    assert shared.auth is None
