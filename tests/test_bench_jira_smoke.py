"""Smoke test of the Jira sync benchmark at 1% scale (100 issues): a fake with real HTTP."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
import requests

from bench.bench_jira_sync import (
    AHEAD,
    NOW,
    OURS,
    OURS_PER_ISSUE,
    OURS_SEARCH,
    SEQUENTIAL,
    THEIRS_ALL,
    THEIRS_FIELDS,
    Measurement,
    measure,
    run,
)
from bench.jira_fake import CHANGED_EVERY, serve

N = 100
HAS_JIRA = importlib.util.find_spec("jira") is not None
needs_jira = pytest.mark.skipif(not HAS_JIRA, reason="the bench extra: pip install -e '.[bench]'")


@pytest.fixture(scope="module")
def measured() -> Measurement:
    return measure(N, repeats=1, reference=HAS_JIRA)


def test_our_connector_fetches_every_generated_issue(measured: Measurement) -> None:
    ours = measured.runs[OURS]
    assert (ours.issues, ours.distinct_issues) == (N, N)
    assert measured.changed == N // CHANGED_EVERY
    assert ours.changelog_requests == 1  # one bulk fetch for the search page's changed issues
    assert ours.routes["POST /rest/api/3/changelog/bulkfetch"] == 1
    assert ours.transitions == measured.expected_transitions == 30
    assert ours.search_requests == 1  # 100 issues fit one page
    assert ours.routes["GET /rest/api/3/myself"] == 1
    assert ours.routes["GET /rest/api/3/status"] == 1
    assert ours.requests == 4


def test_without_the_bulk_fetch_ours_reads_each_changed_issue(measured: Measurement) -> None:
    per_issue = measured.runs[OURS_PER_ISSUE]
    assert (per_issue.issues, per_issue.transitions) == (N, 30)
    assert per_issue.routes["POST /rest/api/3/changelog/bulkfetch"] == 1  # the 404, once
    assert per_issue.routes["GET /rest/api/3/issue/{key}/changelog"] == measured.changed
    assert per_issue.changelog_requests == measured.changed + 1
    assert per_issue.requests == 24


def test_at_a_round_trip_ours_reads_the_same_ahead_and_one_page_after_another(
    measured: Measurement,
) -> None:
    ahead, sequential = measured.latent[AHEAD], measured.latent[SEQUENTIAL]
    assert ahead.routes == sequential.routes == measured.runs[OURS].routes
    assert ahead.transitions == sequential.transitions == measured.expected_transitions
    assert ahead.distinct_issues == sequential.distinct_issues == N


def test_search_only_reads_the_same_issues(measured: Measurement) -> None:
    search = measured.runs[OURS_SEARCH]
    assert (search.issues, search.distinct_issues) == (N, N)
    assert search.changelog_requests == 0
    assert search.search_requests == 1


@needs_jira
def test_run_reports_a_table_with_the_jira_library_reference() -> None:
    section = run(0.01)
    assert "| Client | Search req. | Changelog req. |" in section
    for label in ("`JiraSource.pull`", "`*all` fields", "fields=ours"):
        assert label in section
    assert "**Ratios (ours / `jira`):**" in section
    assert "Transitions found: 30 (expected 30); distinct issues: 100." in section
    assert "**With a 20 ms round trip**" in section


@needs_jira
def test_the_jira_library_reads_every_issue_in_one_page(measured: Measurement) -> None:
    m = measured
    for name in (THEIRS_ALL, THEIRS_FIELDS):
        theirs = m.runs[name]
        assert (theirs.issues, theirs.distinct_issues) == (N, N)
        assert theirs.routes["GET /rest/api/2/search/jql"] == 1
        assert theirs.changelog_requests == 0
    assert m.runs[THEIRS_ALL].bytes_out > m.runs[THEIRS_FIELDS].bytes_out


def bulk(url: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{url}/rest/api/3/changelog/bulkfetch", json=body, auth=("a@b.c", "t"), timeout=10
    )


def test_the_fake_pages_the_bulk_fetch_by_max_results_and_token() -> None:
    with serve(N, NOW) as (url, fake):
        body: dict[str, Any] = {
            "issueIdsOrKeys": ["SR-1", "10006", "10011", "SR-2"],  # SR-2 has no changelog
            "fieldIds": ["status"],
            "maxResults": 2,
        }
        pages = [bulk(url, body).json()]
        while token := pages[-1]["nextPageToken"]:
            pages.append(bulk(url, {**body, "nextPageToken": token}).json())
        got = [
            (log["issueId"], h["id"], h["created"], [i["fieldId"] for i in h["items"]])
            for page in pages
            for log in page["issueChangeLogs"]
            for h in log["changeHistories"]
        ]
        assert [len(p["issueChangeLogs"]) for p in pages] == [1, 2, 1]  # SR-11 spans pages
        # SR-1 (2 moves), SR-6 (1), SR-11 (2): status entries only, by time then issue
        assert [(issue, entry) for issue, entry, _, _ in got] == [
            ("10001", "200000"),
            ("10001", "200002"),
            ("10006", "200051"),
            ("10011", "200100"),
            ("10011", "200102"),
        ]
        assert all(isinstance(at, int) and fields == ["status"] for _, _, at, fields in got)
        assert [at for _, _, at, _ in got] == sorted(at for _, _, at, _ in got)
        assert fake.reset().requests["POST /rest/api/3/changelog/bulkfetch"] == 3

        assert bulk(url, {**body, "maxResults": 10_001}).status_code == 400
        assert bulk(url, {**body, "issueIdsOrKeys": []}).status_code == 400
        assert bulk(url, {**body, "nextPageToken": "bm9wZTox"}).status_code == 400
        fake.bulk_changelogs = False
        assert bulk(url, body).status_code == 404
