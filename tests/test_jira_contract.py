"""The contract checks themselves: recorded fixtures match the spec, wrong requests are caught."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.jira_contract import (
    CLOUD_BASE,
    DC_BASE,
    FIXTURES,
    REPO,
    SPEC_ENV,
    CloudContract,
    JiraHarness,
    dc_request_problems,
    load_contract,
    load_fixture,
    require_contract,
    spec_path,
)

pytest_plugins = ["tests.jira_contract", "pytester"]

# Every recorded Cloud payload, and the operation + status (or schema) it answers.
CLOUD_FIXTURES: dict[str, tuple[str, str, int] | str] = {
    "search_page1.json": ("POST", "/rest/api/3/search/jql", 200),
    "search_page2.json": ("POST", "/rest/api/3/search/jql", 200),
    "search_custom_fields.json": ("POST", "/rest/api/3/search/jql", 200),
    "changelog_page1.json": ("GET", "/rest/api/3/issue/10001/changelog", 200),
    "changelog_page2.json": ("GET", "/rest/api/3/issue/10001/changelog", 200),
    "changelog_reopen.json": ("GET", "/rest/api/3/issue/10003/changelog", 200),
    "bulk_changelog_page1.json": ("POST", "/rest/api/3/changelog/bulkfetch", 200),
    "bulk_changelog_page2.json": ("POST", "/rest/api/3/changelog/bulkfetch", 200),
    "bulk_changelog_reopen.json": ("POST", "/rest/api/3/changelog/bulkfetch", 200),
    "statuses.json": ("GET", "/rest/api/3/status", 200),
    "comment_created.json": ("POST", "/rest/api/3/issue/SR-1/comment", 201),
    "property.json": ("GET", "/rest/api/3/issue/SR-1/properties/skillrelay.effects", 200),
    "server_info.json": ("GET", "/rest/api/3/serverInfo", 200),
    "myself.json": ("GET", "/rest/api/3/myself", 200),
    # The removed /rest/api/3/search has no 410 in the spec: check the error body's schema.
    "search_removed_410.json": "ErrorCollection",
}


def prepared(
    method: str, path: str, *, auth: bool = True, **kwargs: Any
) -> requests.PreparedRequest:
    request = requests.Request(method, f"{CLOUD_BASE}/{path}", **kwargs)
    if auth:
        request.auth = ("bot@example.com", "token")
    return request.prepare()


def test_every_cloud_fixture_is_registered() -> None:
    on_disk = {p.name for p in (FIXTURES / "cloud").glob("*.json")}
    assert on_disk == set(CLOUD_FIXTURES)


@pytest.mark.parametrize("name", sorted(CLOUD_FIXTURES), ids=lambda n: n.removesuffix(".json"))
def test_cloud_fixture_matches_the_spec(jira_contract: CloudContract, name: str) -> None:
    body = load_fixture("cloud", name)
    target = CLOUD_FIXTURES[name]
    if isinstance(target, str):
        assert jira_contract.schema_problems(target, body) == []
    else:
        method, path, status = target
        assert jira_contract.response_problems(method, path, status, body) == []


def test_response_check_rejects_a_wrong_shape(jira_contract: CloudContract) -> None:
    body = {"issues": [], "isLast": "yes", "total": 3}  # isLast is boolean; no `total` on /jql
    problems = jira_contract.response_problems("POST", "/rest/api/3/search/jql", 200, body)
    assert any("isLast" in p for p in problems)
    assert any("total" in p for p in problems)
    assert jira_contract.schema_problems("ErrorCollection", {"errorMessages": "x"}) != []


GOOD_SEARCH = {"jql": 'updated >= "2025-12-31 10:00" ORDER BY updated ASC', "fields": ["status"]}
GOOD_BULK = {"issueIdsOrKeys": ["10001"], "fieldIds": ["status"], "maxResults": 1000}
BULK = "rest/api/3/changelog/bulkfetch"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "expected"),
    [
        ("POST", "rest/api/3/search/jql", {"json": {**GOOD_SEARCH, "fields": 5}}, "fields"),
        ("POST", "rest/api/3/search/jql", {"json": {**GOOD_SEARCH, "startAt": 0}}, "startAt"),
        ("POST", "rest/api/3/issue/SR-1/comment", {"json": {"body": "plain text"}}, "not ADF"),
        (
            "POST",
            "rest/api/3/issue/SR-1/comment",
            {"json": {"body": {"type": "doc", "version": 1, "content": [{"type": "text"}]}}},
            "not ADF",
        ),
        ("PUT", "rest/api/3/issue/SR-1", {"json": {"update": {"labels": "x"}}}, "labels"),
        ("GET", "rest/api/3/issue/SR-1/changelog", {"params": {"startAt": "first"}}, "startAt"),
        ("GET", "rest/api/3/issue/SR-1/changelog", {"params": {"since": "1"}}, "'since'"),
        ("GET", "rest/api/3/issue/SR-1/history", {}, "not an operation"),
        ("DELETE", "rest/api/3/status", {}, "not an operation"),
        ("POST", BULK, {"json": {**GOOD_BULK, "issueIdsOrKeys": []}}, "issueIdsOrKeys"),
        ("POST", BULK, {"json": {**GOOD_BULK, "issueIdsOrKeys": ["1"] * 1001}}, "issueIdsOrKeys"),
        (
            "POST",
            BULK,
            {"json": {**GOOD_BULK, "fieldIds": [str(n) for n in range(11)]}},
            "fieldIds",
        ),
        ("POST", BULK, {"json": {**GOOD_BULK, "maxResults": 10_001}}, "maxResults"),
        ("POST", BULK, {"json": {**GOOD_BULK, "startAt": 0}}, "startAt"),
        ("GET", BULK, {}, "not an operation"),
    ],
    ids=[
        "fields-int",
        "unknown-body-key",
        "comment-plain-string",
        "comment-bad-adf",
        "labels-not-a-list",
        "query-not-int",
        "unknown-query",
        "unknown-path",
        "unknown-method",
        "bulk-no-issues",
        "bulk-too-many-issues",
        "bulk-too-many-fields",
        "bulk-page-too-big",
        "bulk-offset",
        "bulk-get",
    ],
)
def test_wrong_cloud_requests_are_rejected(
    jira_contract: CloudContract, method: str, path: str, kwargs: dict[str, Any], expected: str
) -> None:
    problems = jira_contract.request_problems(prepared(method, path, **kwargs), CLOUD_BASE)
    assert any(expected in p for p in problems), problems


def test_right_cloud_requests_pass(jira_contract: CloudContract) -> None:
    adf = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": []}]}
    for request in [
        prepared("POST", "rest/api/3/search/jql", json={**GOOD_SEARCH, "nextPageToken": "t"}),
        prepared("POST", "rest/api/3/issue/SR-1/comment", json={"body": adf}),
        prepared("GET", "rest/api/3/issue/SR-1/changelog", params={"startAt": 0}),
        prepared("POST", BULK, json={**GOOD_BULK, "nextPageToken": "UxAQBFRF"}),
        prepared("PUT", "rest/api/3/issue/SR-1/properties/skillrelay.effects", json={"a": 1}),
    ]:
        assert jira_contract.request_problems(request, CLOUD_BASE) == []


def test_epoch_created_is_accepted_in_bulk_answers_only(jira_contract: CloudContract) -> None:
    per_issue = load_fixture("cloud", "changelog_reopen.json")
    per_issue["values"][0]["created"] = 1767174000
    problems = jira_contract.response_problems(
        "GET", "/rest/api/3/issue/10003/changelog", 200, per_issue
    )
    assert any("created" in p for p in problems), problems
    bulk = load_fixture("cloud", "bulk_changelog_reopen.json")
    bulk["issueChangeLogs"][0]["changeHistories"][0]["created"] = "yesterday"
    assert jira_contract.response_problems("POST", "/" + BULK, 200, bulk) != []
    bulk["issueChangeLogs"][0]["changeHistories"][0]["created"] = "2025-12-31T09:40:00.000+0000"
    bulk["nextPageToken"] = 7
    assert jira_contract.response_problems("POST", "/" + BULK, 200, bulk) != []
    del bulk["nextPageToken"]
    assert jira_contract.response_problems("POST", "/" + BULK, 200, bulk) == []


def test_cloud_requests_need_credentials(jira_contract: CloudContract) -> None:
    request = prepared("GET", "rest/api/3/myself", auth=False)
    assert any("basic-auth" in p for p in jira_contract.request_problems(request, CLOUD_BASE))


def test_harness_catches_a_wrong_request_the_client_did_not_build(jira_cloud: JiraHarness) -> None:
    jira_cloud.mock.post(jira_cloud.url("rest/api/3/search/jql"), json={"isLast": True})
    jira_cloud.client.session.post(jira_cloud.url("rest/api/3/search/jql"), json={"fields": 1})
    with pytest.raises(AssertionError, match="fields"):
        jira_cloud.verify()  # checked now; the automatic check after the test sees nothing new


def test_a_rejected_request_fails_the_test_that_sent_it(
    jira_contract: CloudContract, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # a bare inner run is faster
    pytester.makepyfile(
        test_inner=textwrap.dedent(
            """
            pytest_plugins = ["tests.jira_contract"]

            def test_sends_a_plain_string_comment(jira_cloud):
                url = jira_cloud.url("rest/api/3/issue/SR-1/comment")
                jira_cloud.mock.post(url, status=201, json={"id": "1"})
                jira_cloud.client.session.post(url, json={"body": "plain text"})

            def test_sends_a_good_one(jira_cloud):
                jira_cloud.mock.get(jira_cloud.url("rest/api/3/myself"), json={})
                jira_cloud.client.myself()
            """
        )
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*requests the Jira contract rejects*", "*not ADF*"])


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "expected"),
    [
        ("GET", "rest/api/2/search", {"params": {"startAt": 0}}, "jql is required"),
        ("GET", "rest/api/2/search", {"params": {"jql": "x", "nextPageToken": "t"}}, "unknown"),
        ("GET", "rest/api/2/search", {"params": {"jql": "x", "startAt": "-1"}}, "startAt"),
        ("POST", "rest/api/2/issue/OPS-1/comment", {"json": {"body": {"type": "doc"}}}, "wiki"),
        ("PUT", "rest/api/2/issue/OPS-1", {"json": {"update": {"labels": ["x"]}}}, "labels"),
        ("GET", "rest/api/3/search/jql", {}, "not under"),
        ("GET", "rest/api/2/issue/OPS-1/changelog", {}, "not a documented"),
    ],
    ids=["no-jql", "cloud-token", "negative-offset", "adf-body", "bare-label", "v3", "changelog"],
)
def test_wrong_dc_requests_are_rejected(
    method: str, path: str, kwargs: dict[str, Any], expected: str
) -> None:
    request = requests.Request(method, f"{DC_BASE}/{path}", **kwargs)
    request.headers["Authorization"] = "Bearer pat"
    problems = dc_request_problems(request.prepare(), DC_BASE)
    assert any(expected in p for p in problems), problems


def test_dc_requests_need_a_bearer_token() -> None:
    request = requests.Request("GET", f"{DC_BASE}/rest/api/2/myself").prepare()
    assert any("Bearer" in p for p in dc_request_problems(request, DC_BASE))


@pytest.mark.parametrize("name", ["search_page1.json", "search_page2.json"])
def test_dc_search_fixtures_have_the_documented_offset_shape(name: str) -> None:
    body = load_fixture("datacenter", name)
    assert {"startAt", "maxResults", "total", "issues"} <= set(body)
    assert all(isinstance(body[k], int) for k in ("startAt", "maxResults", "total"))
    assert "nextPageToken" not in body
    for issue in body["issues"]:
        assert {"id", "key", "fields"} <= set(issue)
        assert "accountId" not in (issue["fields"]["assignee"] or {})  # DC names users by name


def test_dc_changelog_fixture_embeds_histories() -> None:
    body = load_fixture("datacenter", "issue_changelog.json")
    changelog = body["changelog"]
    assert changelog["total"] == len(changelog["histories"])
    for history in changelog["histories"]:
        assert {"id", "author", "created", "items"} <= set(history)


def test_the_spec_ships_with_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SPEC_ENV, raising=False)
    path = spec_path()
    assert path.is_file()
    assert path.resolve().is_relative_to(REPO)


def test_missing_spec_fails_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SPEC_ENV, str(tmp_path / "absent.json"))
    load_contract.cache_clear()
    try:
        with pytest.raises(pytest.fail.Exception, match=SPEC_ENV) as failed:
            require_contract()
        assert "absent.json" in str(failed.value)
    finally:
        load_contract.cache_clear()  # the next user loads the real file again


def test_spec_loads_quickly(jira_contract: CloudContract) -> None:
    assert jira_contract.load_seconds < 10, jira_contract.load_seconds


def test_fixture_files_are_valid_json() -> None:
    for path in Path(FIXTURES).rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))
