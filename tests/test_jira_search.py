"""Incremental issue search: Cloud token pages, Data Center offset pages and the 10,000 split."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests

from connectors.jira import JiraClient
from connectors.jira_client import DC_SEARCH_LIMIT
from connectors.jira_jql import jql_time, quote, split_window, updated_jql
from plugin.errors import AuthError, FatalError
from tests.jira_contract import NOW, JiraHarness, load_fixture

pytest_plugins = ["tests.jira_contract"]

SINCE = datetime(2025, 12, 31, 9, 28, 30, tzinfo=UTC)
UNTIL = datetime(2026, 1, 1, tzinfo=UTC)
CLOUD_JQL = (
    'updated >= "2025-12-31 09:28" AND updated < "2026-01-01 00:00" '
    'AND project in ("SR") ORDER BY updated ASC, key ASC'
)


def cloud_search(harness: JiraHarness, **kwargs: Any) -> list[list[str]]:
    pages = harness.client.search_updated(
        SINCE, until=UNTIL, projects=["SR"], custom_fields=["customfield_10050"], **kwargs
    )
    return [[issue["key"] for issue in page.issues] for page in pages]


# --- Cloud ---------------------------------------------------------------------------------


def test_cloud_walks_next_page_tokens(jira_cloud: JiraHarness) -> None:
    url = jira_cloud.url("rest/api/3/search/jql")
    jira_cloud.mock.post(url, json=load_fixture("cloud", "search_page1.json"))
    jira_cloud.mock.post(url, json=load_fixture("cloud", "search_page2.json"))

    assert cloud_search(jira_cloud) == [["SR-1", "SR-2"], ["SR-3"]]

    first, second = jira_cloud.sent_json(0), jira_cloud.sent_json(1)
    assert first == {
        "jql": CLOUD_JQL,
        "maxResults": 100,
        "fields": [
            "status",
            "resolution",
            "assignee",
            "labels",
            "components",
            "summary",
            "project",
            "updated",
            "resolutiondate",
            "statuscategorychangedate",
            "issuetype",
            "customfield_10050",
        ],
    }
    assert second == {**first, "nextPageToken": "CAEaAggD"}


def test_cloud_stops_at_is_last_even_with_a_token(jira_cloud: JiraHarness) -> None:
    page = {**load_fixture("cloud", "search_page2.json"), "nextPageToken": "CAEaAggE"}
    jira_cloud.mock.post(jira_cloud.url("rest/api/3/search/jql"), json=page)
    assert cloud_search(jira_cloud) == [["SR-3"]]
    assert len(jira_cloud.mock.calls) == 1


def test_cloud_detects_a_repeated_token(jira_cloud: JiraHarness) -> None:
    page = load_fixture("cloud", "search_page1.json")  # always answers the same token
    jira_cloud.mock.post(jira_cloud.url("rest/api/3/search/jql"), json=page)
    with pytest.raises(FatalError, match="pagination loop"):
        cloud_search(jira_cloud)
    assert len(jira_cloud.mock.calls) == 2


def test_cloud_410_says_the_old_search_is_gone(jira_cloud: JiraHarness) -> None:
    body = load_fixture("cloud", "search_removed_410.json")
    jira_cloud.mock.post(jira_cloud.url("rest/api/3/search/jql"), status=410, json=body)
    with pytest.raises(FatalError) as err:
        cloud_search(jira_cloud)
    assert err.value.status == 410
    message = str(err.value)
    assert "removed" in message
    assert "/rest/api/3/search/jql" in message
    assert "CHANGE-2046" in message
    assert "migration guideline" not in message  # errors never carry response bodies


def test_dc_client_pointed_at_cloud_gets_the_410_advice(jira_dc: JiraHarness) -> None:
    body = load_fixture("cloud", "search_removed_410.json")
    jira_dc.mock.get(jira_dc.url("rest/api/2/search"), status=410, json=body)
    with pytest.raises(FatalError, match="set the Jira source's deployment to 'cloud'"):
        list(jira_dc.client.search_updated(SINCE, until=UNTIL))


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [
        ("7", 7.0),
        (format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True), 30.0),
    ],
    ids=["seconds", "http-date"],
)
def test_cloud_429_waits_as_told_then_succeeds(
    jira_cloud: JiraHarness, retry_after: str, wait: float
) -> None:
    url = jira_cloud.url("rest/api/3/search/jql")
    jira_cloud.mock.post(url, status=429, headers={"Retry-After": retry_after}, json={})
    jira_cloud.mock.post(url, json=load_fixture("cloud", "search_page2.json"))
    assert cloud_search(jira_cloud) == [["SR-3"]]
    assert jira_cloud.sleeps == [wait]


def test_cloud_503_burst_backs_off_then_succeeds(jira_cloud: JiraHarness) -> None:
    url = jira_cloud.url("rest/api/3/search/jql")
    for _ in range(3):
        jira_cloud.mock.post(url, status=503)
    jira_cloud.mock.post(url, json=load_fixture("cloud", "search_page2.json"))
    assert cloud_search(jira_cloud) == [["SR-3"]]
    assert len(jira_cloud.sleeps) == 3
    assert all(0 < w <= 30.0 for w in jira_cloud.sleeps)
    assert len(jira_cloud.mock.calls) == 4


def test_cloud_401_is_an_auth_error_without_retries(jira_cloud: JiraHarness) -> None:
    jira_cloud.mock.post(jira_cloud.url("rest/api/3/search/jql"), status=401)
    with pytest.raises(AuthError):
        cloud_search(jira_cloud)
    assert jira_cloud.sleeps == []


def test_cloud_400_points_at_the_manifest(jira_cloud: JiraHarness) -> None:
    body = {"errorMessages": ["The value 'NOPE' does not exist for the field 'project'."]}
    jira_cloud.mock.post(jira_cloud.url("rest/api/3/search/jql"), status=400, json=body)
    with pytest.raises(FatalError, match="project keys") as err:
        cloud_search(jira_cloud)
    assert "NOPE" not in str(err.value)


def test_jql_dates_are_in_the_search_users_zone(jira_cloud: JiraHarness) -> None:
    client = JiraClient(
        jira_cloud.base_url, "cloud", email="bot@example.com", token="t0ken", clock=lambda: NOW
    )
    jira_cloud.mock.get(
        jira_cloud.url("rest/api/3/myself"), json=load_fixture("cloud", "myself.json")
    )
    jira_cloud.mock.post(
        jira_cloud.url("rest/api/3/search/jql"), json=load_fixture("cloud", "search_page2.json")
    )
    for _ in range(2):
        list(client.search_updated(SINCE, until=UNTIL))
    assert client.jql_timezone() == ZoneInfo("Australia/Sydney")
    assert [c.request.method for c in jira_cloud.mock.calls] == ["GET", "POST", "POST"]
    assert jira_cloud.sent_json()["jql"].startswith(  # UTC+11 in December
        'updated >= "2025-12-31 20:28" AND updated < "2026-01-01 11:00"'
    )


def test_credentials_are_required() -> None:
    with pytest.raises(AuthError, match="API token"):
        JiraClient("https://x.atlassian.net", "cloud", email="a@example.com")
    with pytest.raises(AuthError, match="personal access token"):
        JiraClient("https://jira.example.test", "datacenter")


# --- JQL -----------------------------------------------------------------------------------

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("at", "tz", "bound", "expected"),
    [
        (datetime(2025, 12, 31, 9, 28, 59, tzinfo=UTC), UTC, "lower", "2025-12-31 09:28"),
        (datetime(2025, 12, 31, 9, 28, 1, tzinfo=UTC), UTC, "upper", "2025-12-31 09:29"),
        (datetime(2025, 12, 31, 9, 28, tzinfo=UTC), UTC, "upper", "2025-12-31 09:28"),
        (datetime(2025, 7, 1, 12, 0, tzinfo=UTC), PARIS, "lower", "2025-07-01 14:00"),
        # 00:30 UTC on 26 Oct 2025 is 02:30 in Paris, a wall time that occurs twice.
        (datetime(2025, 10, 26, 0, 30, tzinfo=UTC), PARIS, "lower", "2025-10-26 01:30"),
        (datetime(2025, 10, 26, 0, 30, tzinfo=UTC), PARIS, "upper", "2025-10-26 02:30"),
        (datetime(2025, 10, 26, 1, 30, tzinfo=UTC), PARIS, "upper", "2025-10-26 03:30"),
    ],
    ids=["floor", "ceil", "exact", "zone", "dst-lower", "dst-upper-first", "dst-upper-second"],
)
def test_jql_time(at: datetime, tz: Any, bound: Any, expected: str) -> None:
    assert jql_time(at, tz, bound) == expected


def test_jql_quotes_and_orders() -> None:
    assert quote('a"b\\c') == '"a\\"b\\\\c"'
    assert updated_jql(SINCE) == 'updated >= "2025-12-31 09:28" ORDER BY updated ASC, key ASC'
    with pytest.raises(ValueError, match="aware"):
        jql_time(datetime(2025, 1, 1), UTC)


def test_split_window_halves_on_whole_minutes() -> None:
    lo = datetime(2025, 12, 31, 0, 0, tzinfo=UTC)
    assert split_window(lo, lo + timedelta(minutes=10)) == lo + timedelta(minutes=5)
    assert split_window(lo, lo + timedelta(minutes=3)) == lo + timedelta(minutes=1)
    assert split_window(lo, lo + timedelta(minutes=1)) is None


# --- Data Center ---------------------------------------------------------------------------


def test_dc_walks_offsets_under_its_context_path(jira_dc: JiraHarness) -> None:
    jira_dc.client.page_size = 2
    url = jira_dc.url("rest/api/2/search")
    jira_dc.mock.get(url, json=load_fixture("datacenter", "search_page1.json"))
    jira_dc.mock.get(url, json=load_fixture("datacenter", "search_page2.json"))

    pages = list(jira_dc.client.search_updated(SINCE, until=UNTIL, projects=["OPS"]))

    assert [[i["key"] for i in p.issues] for p in pages] == [["OPS-1", "OPS-2"], ["OPS-3"]]
    queries = [parse_qs(urlsplit(r.url or "").query) for r in jira_dc.sent()]
    assert [q["startAt"] for q in queries] == [["0"], ["2"]]
    assert all(urlsplit(r.url or "").path == "/jira/rest/api/2/search" for r in jira_dc.sent())
    assert queries[0]["jql"] == [
        'updated >= "2025-12-31 09:28" AND updated < "2026-01-01 00:00" '
        'AND project in ("OPS") ORDER BY updated ASC, key ASC'
    ]
    assert queries[0]["fields"][0].startswith("status,resolution,assignee,")
    assert queries[0]["maxResults"] == ["2"]


_WINDOW = re.compile(r'updated >= "([^"]+)" AND updated < "([^"]+)"')


class FakeDataCenter:
    """A Data Center search over a fixed set of issues that enforces the 10,000 window."""

    def __init__(self, updated: list[datetime]) -> None:
        self.issues = [
            {"id": str(n), "key": f"OPS-{n}", "fields": {"updated": at.isoformat()}}
            for n, at in enumerate(updated, start=1)
        ]
        self.times = updated
        self.windows: list[tuple[str, str, int]] = []

    def __call__(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        query = parse_qs(urlsplit(request.url or "").query)
        lo, hi = (
            datetime.strptime(v, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
            for v in _WINDOW.search(query["jql"][0]).groups()  # type: ignore[union-attr]
        )
        start, size = int(query["startAt"][0]), int(query["maxResults"][0])
        if start + size > DC_SEARCH_LIMIT:
            body = {"errorMessages": ["Search limit exceeded: 10,000 results"], "errors": {}}
            return 400, {}, json.dumps(body)
        hits = [i for i, at in zip(self.issues, self.times, strict=True) if lo <= at < hi]
        self.windows.append((lo.isoformat(), hi.isoformat(), len(hits)))
        page = {"startAt": start, "maxResults": size, "total": len(hits)}
        return 200, {}, json.dumps({**page, "issues": hits[start : start + size]})


def dc_server(harness: JiraHarness, server: Callable[..., Any]) -> None:
    harness.mock.add_callback(
        "GET", harness.url("rest/api/2/search"), callback=server, content_type="application/json"
    )


def test_dc_splits_a_window_past_10000_results(jira_dc: JiraHarness) -> None:
    start = datetime(2025, 12, 31, 0, 0, tzinfo=UTC)
    times = [start + timedelta(seconds=1.5 * n) for n in range(24_000)]  # 10 hours
    server = FakeDataCenter(times)
    dc_server(jira_dc, server)
    jira_dc.client.page_size = 1000

    pages = list(jira_dc.client.search_updated(start, until=start + timedelta(hours=10)))

    keys = [issue["key"] for page in pages for issue in page.issues]
    assert len(keys) == len(set(keys)) == 24_000  # every issue once, none lost at a boundary
    assert max(n for *_, n in server.windows) > DC_SEARCH_LIMIT  # the first window was too wide
    served = [w for w in server.windows if w[2] <= DC_SEARCH_LIMIT]
    assert served and all(w[0] < w[1] for w in served)
    seen = [datetime.fromisoformat(str(i["fields"]["updated"])) for p in pages for i in p.issues]
    assert seen == sorted(seen)  # windows are walked oldest first


def test_dc_gives_up_when_one_minute_passes_the_limit(jira_dc: JiraHarness) -> None:
    at = datetime(2025, 12, 31, 9, 0, 10, tzinfo=UTC)
    dc_server(jira_dc, FakeDataCenter([at] * (DC_SEARCH_LIMIT + 1)))
    with pytest.raises(FatalError, match="in one minute"):
        list(jira_dc.client.search_updated(at, until=at + timedelta(minutes=1)))
