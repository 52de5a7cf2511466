"""Changelogs, status-category transitions and the Jira EventSource (batches and cursor)."""

from __future__ import annotations

import copy
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from connectors.jira import JiraSource, format_cursor, parse_cursor
from connectors.jira_models import ChangeEntry, field_value, to_ticket, transitions
from plugin.domain import PersonRef, Ticket, TicketTransition
from plugin.errors import FatalError
from plugin.ports import Batch, EventSource
from tests.jira_contract import CLOUD_BASE, JiraHarness, load_fixture

pytest_plugins = ["tests.jira_contract"]

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ADA = "5b10a2844c20165700ede21g"
CATEGORIES = {s["id"]: s["statusCategory"]["key"] for s in load_fixture("cloud", "statuses.json")}


def cloud_source(harness: JiraHarness, **kwargs: Any) -> JiraSource:
    return JiraSource(
        harness.client, projects=["SR"], custom_fields=["customfield_10050"], **kwargs
    )


def serve_cloud_sync(
    harness: JiraHarness, reopen: dict[str, Any] | None = None, *, bulk: bool = True
) -> None:
    """Two search pages (SR-1, SR-2 | SR-3) and the changelogs of SR-1 and SR-3: in bulk
    (SR-1's in two token pages, SR-3's with epoch-second times), or, when `bulk` is False,
    a 404 for the bulk fetch and the per-issue changelogs. `reopen` replaces SR-3's answer."""
    search = harness.url("rest/api/3/search/jql")
    harness.mock.post(search, json=load_fixture("cloud", "search_page1.json"))
    harness.mock.post(search, json=load_fixture("cloud", "search_page2.json"))
    harness.mock.get(harness.url("rest/api/3/status"), json=load_fixture("cloud", "statuses.json"))
    bulkfetch = harness.url("rest/api/3/changelog/bulkfetch")
    if bulk:
        harness.mock.post(bulkfetch, json=load_fixture("cloud", "bulk_changelog_page1.json"))
        harness.mock.post(bulkfetch, json=load_fixture("cloud", "bulk_changelog_page2.json"))
        harness.mock.post(
            bulkfetch, json=reopen or load_fixture("cloud", "bulk_changelog_reopen.json")
        )
        return
    harness.mock.post(bulkfetch, status=404, json={"errorMessages": ["Not Found"]})
    sr1 = harness.url("rest/api/3/issue/10001/changelog")
    harness.mock.get(sr1, json=load_fixture("cloud", "changelog_page1.json"))
    harness.mock.get(sr1, json=load_fixture("cloud", "changelog_page2.json"))
    harness.mock.get(
        harness.url("rest/api/3/issue/10003/changelog"),
        json=reopen or load_fixture("cloud", "changelog_reopen.json"),
    )


def paths(harness: JiraHarness) -> list[str]:
    return [urlsplit(r.url or "").path for r in harness.sent()]


def moves(batch: Batch) -> list[tuple[str, str | None, str | None]]:
    return [
        (e.natural_key, e.from_category, e.to_category)
        for e in batch.events
        if isinstance(e, TicketTransition)
    ]


# --- changelog -----------------------------------------------------------------------------


def test_cloud_changelog_follows_offsets(jira_cloud: JiraHarness) -> None:
    url = jira_cloud.url("rest/api/3/issue/10001/changelog")
    jira_cloud.mock.get(url, json=load_fixture("cloud", "changelog_page1.json"))
    jira_cloud.mock.get(url, json=load_fixture("cloud", "changelog_page2.json"))

    entries = jira_cloud.client.changelog("10001")

    assert [e.id for e in entries] == ["20001", "20002", "20003"]
    starts = [parse_qs(urlsplit(r.url or "").query)["startAt"] for r in jira_cloud.sent()]
    assert starts == [["0"], ["2"]]


def test_cloud_changelog_stops_at_is_last(jira_cloud: JiraHarness) -> None:
    page = {**load_fixture("cloud", "changelog_reopen.json"), "total": 99}
    jira_cloud.mock.get(jira_cloud.url("rest/api/3/issue/10003/changelog"), json=page)
    assert len(jira_cloud.client.changelog("10003")) == 4
    assert len(jira_cloud.mock.calls) == 1


def test_dc_changelog_is_embedded_in_the_issue(jira_dc: JiraHarness) -> None:
    jira_dc.mock.get(
        jira_dc.url("rest/api/2/issue/OPS-1"),
        json=load_fixture("datacenter", "issue_changelog.json"),
    )
    entries = jira_dc.client.changelog("OPS-1")
    assert [e.id for e in entries] == ["30001", "30002", "30003"]
    query = parse_qs(urlsplit(jira_dc.sent()[0].url or "").query)
    assert query == {"expand": ["changelog"], "fields": ["status"]}


def test_transitions_enter_and_leave_done() -> None:
    ticket = Ticket(id="10003", key="SR-3")
    entries = [
        ChangeEntry.model_validate(v)
        for v in load_fixture("cloud", "changelog_reopen.json")["values"]
    ]

    found = transitions(ticket, entries, CATEGORIES, deployment="cloud")

    # 20009 moves inside "indeterminate" and 20012 changes the assignee: neither is a transition.
    assert [(t.natural_key, t.from_category, t.to_category) for t in found] == [
        ("jira:10003:20010", "indeterminate", "done"),
        ("jira:10003:20011", "done", "new"),
    ]
    entered, reopened = found
    assert entered.at == datetime(2025, 12, 31, 10, 30, tzinfo=UTC)
    assert entered.by == PersonRef(
        system="jira", id="712020:0e3c1a5e-9d5b-4a37-9a53-3c6a4f1d2b7e", display_name="Bob Hopper"
    )
    assert reopened.by is not None and reopened.by.email == "ada@example.com"
    since = datetime(2025, 12, 31, 10, 45, tzinfo=UTC)
    assert [
        t.natural_key
        for t in transitions(ticket, entries, CATEGORIES, deployment="cloud", since=since)
    ] == ["jira:10003:20011"]


def test_unknown_status_gives_an_unknown_category() -> None:
    entry = ChangeEntry.model_validate(
        {"id": "1", "created": "2025-12-31T10:00:00.000+0000",
         "items": [{"field": "status", "fieldId": "status", "from": "3", "to": "404"}]}
    )  # fmt: skip
    (move,) = transitions(Ticket(id="1", key="SR-1"), [entry], CATEGORIES, deployment="cloud")
    assert (move.from_category, move.to_category, move.by) == ("indeterminate", None, None)


# --- mapping -------------------------------------------------------------------------------


def test_custom_field_values_map_to_strings() -> None:
    issues = load_fixture("cloud", "search_custom_fields.json")["issues"]
    tickets = [
        to_ticket(
            i, base_url=CLOUD_BASE + "/", deployment="cloud", custom_fields=["customfield_10050"]
        )
        for i in issues
    ]
    assert [t.fields["customfield_10050"] for t in tickets] == [
        "python-testing",  # text field
        "sql",  # single select: {"value": ...}
        ["python-testing", "sql"],  # multi-select
        None,  # empty
    ]
    first = tickets[0]
    assert first.url == f"{CLOUD_BASE}/browse/SR-10"
    assert first.assignee == PersonRef(
        system="jira", id=ADA, email="ada@example.com", display_name="Ada Lovelace"
    )
    assert tickets[1].assignee is not None and tickets[1].assignee.email is None  # hidden
    assert tickets[2].assignee is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("x", "x"),
        (3.5, "3.5"),
        (True, "true"),
        ({"value": "Parent", "child": {"value": "Child"}}, "Parent"),
        ({"accountId": ADA, "displayName": "Ada"}, ADA),
        ({"name": "1.0", "id": "100"}, "1.0"),
        (["a", {"value": "b"}, None], ["a", "b"]),
        (
            {
                "type": "doc",
                "version": 1,
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": "hi"}]}],
            },
            "hi",
        ),
        ({"unknown": 1}, None),
        (None, None),
    ],
    ids=["text", "number", "bool", "cascade", "user", "version", "list", "adf", "unknown", "none"],
)
def test_field_value(raw: Any, expected: Any) -> None:
    assert field_value(raw) == expected


def test_dc_ticket_names_people_by_username() -> None:
    issue = load_fixture("datacenter", "search_page1.json")["issues"][0]
    ticket = to_ticket(
        issue,
        base_url="https://jira.example.test/jira",
        deployment="datacenter",
        custom_fields=["customfield_10050"],
    )
    assert ticket.assignee == PersonRef(
        system="jira", id="ada", email="ada@example.com", display_name="Ada Lovelace"
    )
    assert ticket.fields == {"customfield_10050": "sql"}
    assert ticket.url == "https://jira.example.test/jira/browse/OPS-1"
    assert (ticket.status, ticket.status_category, ticket.project) == ("Done", "done", "OPS")


# --- the event source ----------------------------------------------------------------------


def test_source_satisfies_the_port(jira_cloud: JiraHarness) -> None:
    source: EventSource = cloud_source(jira_cloud)
    assert source.name == "jira"


def test_cloud_sync_emits_transitions_and_moves_the_cursor(jira_cloud: JiraHarness) -> None:
    serve_cloud_sync(jira_cloud)
    source = cloud_source(jira_cloud)

    first, second = source.pull({"issues": "2025-12-31T09:30:00+00:00"}, NOW)

    assert moves(first) == [("jira:10001:20003", "indeterminate", "done")]
    assert first.cursor == "2025-12-31T10:05:00+00:00"
    assert (first.fetched, [r["key"] for r in first.raw]) == (2, ["SR-1", "SR-2"])
    assert moves(second) == [
        ("jira:10003:20010", "indeterminate", "done"),
        ("jira:10003:20011", "done", "new"),
    ]
    assert second.cursor == "2025-12-31T11:00:00+00:00"
    assert first.stream == second.stream == "issues"
    done = first.events[0]
    assert isinstance(done, TicketTransition)
    assert done.ticket.key == "SR-1" and done.ticket.labels == ("python-testing",)
    assert done.ticket.fields == {"customfield_10050": "python-testing"}

    sent = paths(jira_cloud)
    assert sent.count("/rest/api/3/status") == 1  # statuses read once per sync
    bulk = [json.loads(r.body or b"") for r in jira_cloud.sent() if r.url and "bulk" in r.url]
    assert [b["issueIdsOrKeys"] for b in bulk] == [["10001"], ["10001"], ["10003"]]  # not SR-2
    assert [b.get("nextPageToken") for b in bulk] == [None, "UxAQBFRF", None]
    assert {tuple(b["fieldIds"]) for b in bulk} == {("status",)}
    assert not any(p.endswith("/changelog") for p in sent)  # no per-issue reads
    assert jira_cloud.sent_json(0)["jql"].startswith('updated >= "2025-12-31 09:28"')  # overlap


def test_the_next_search_page_is_asked_while_this_ones_changelogs_are_read(
    jira_cloud: JiraHarness,
) -> None:
    """Against a real site every request costs a round trip: Jira works on the second search
    page while the first page's changelogs are fetched, not after them."""
    search = jira_cloud.url("rest/api/3/search/jql")
    asked_second = threading.Event()

    def second_page(request: Any) -> tuple[int, dict[str, str], str]:
        asked_second.set()
        return 200, {}, json.dumps(load_fixture("cloud", "search_page2.json"))

    overlapped: list[bool] = []

    def first_bulk(request: Any) -> tuple[int, dict[str, str], str]:
        overlapped.append(asked_second.wait(5))
        return 200, {}, json.dumps(load_fixture("cloud", "bulk_changelog_page1.json"))

    json_type = "application/json"
    jira_cloud.mock.post(search, json=load_fixture("cloud", "search_page1.json"))
    jira_cloud.mock.add_callback(responses.POST, search, second_page, content_type=json_type)
    statuses = load_fixture("cloud", "statuses.json")
    jira_cloud.mock.get(jira_cloud.url("rest/api/3/status"), json=statuses)
    bulkfetch = jira_cloud.url("rest/api/3/changelog/bulkfetch")
    jira_cloud.mock.add_callback(responses.POST, bulkfetch, first_bulk, content_type=json_type)
    jira_cloud.mock.post(bulkfetch, json=load_fixture("cloud", "bulk_changelog_page2.json"))
    jira_cloud.mock.post(bulkfetch, json=load_fixture("cloud", "bulk_changelog_reopen.json"))

    first, second = cloud_source(jira_cloud).pull({"issues": "2025-12-31T09:30:00+00:00"}, NOW)

    assert overlapped == [True]
    assert moves(first) == [("jira:10001:20003", "indeterminate", "done")]
    assert [m[0] for m in moves(second)] == ["jira:10003:20010", "jira:10003:20011"]
    assert (first.cursor, second.cursor) == (
        "2025-12-31T10:05:00+00:00",
        "2025-12-31T11:00:00+00:00",
    )


def test_cursor_never_passes_now(jira_cloud: JiraHarness) -> None:
    serve_cloud_sync(jira_cloud)
    now = datetime(2025, 12, 31, 10, 2, tzinfo=UTC)
    batches = list(cloud_source(jira_cloud).pull({"issues": "2025-12-31T09:30:00+00:00"}, now))
    assert [b.cursor for b in batches] == [format_cursor(now)] * 2


def test_first_sync_looks_back_and_no_issues_keeps_the_cursor(jira_cloud: JiraHarness) -> None:
    jira_cloud.mock.post(
        jira_cloud.url("rest/api/3/search/jql"), json={"issues": [], "isLast": True}
    )
    source = cloud_source(jira_cloud, lookback=timedelta(days=7))
    (batch,) = source.pull({}, NOW)
    assert (batch.cursor, batch.fetched, list(batch.events)) == (None, 0, [])
    assert jira_cloud.sent_json()["jql"].startswith('updated >= "2025-12-25 00:00"')


def test_unreadable_issue_is_reported_not_fatal(jira_cloud: JiraHarness) -> None:
    page = load_fixture("cloud", "search_page2.json")
    broken = copy.deepcopy(page["issues"][0])
    broken["fields"]["updated"] = "yesterday"
    broken["key"] = "SR-99"
    page["issues"].insert(0, broken)
    jira_cloud.mock.post(jira_cloud.url("rest/api/3/search/jql"), json=page)
    jira_cloud.mock.get(
        jira_cloud.url("rest/api/3/status"), json=load_fixture("cloud", "statuses.json")
    )
    jira_cloud.mock.post(
        jira_cloud.url("rest/api/3/changelog/bulkfetch"),
        json=load_fixture("cloud", "bulk_changelog_reopen.json"),
    )
    (batch,) = cloud_source(jira_cloud).pull({"issues": "2025-12-31T09:30:00+00:00"}, NOW)
    assert list(batch.errors) == ["SR-99: unreadable issue payload"]
    assert [r["key"] for r in batch.raw] == ["SR-3"]
    assert len(batch.events) == 2


def test_a_status_created_during_the_sync_refreshes_the_map_once(jira_cloud: JiraHarness) -> None:
    reopen = load_fixture("cloud", "bulk_changelog_reopen.json")
    history = reopen["issueChangeLogs"][0]["changeHistories"]
    history[2]["items"][0]["to"] = "10099"  # "Triage", created after the map was read
    serve_cloud_sync(jira_cloud, reopen)
    statuses = load_fixture("cloud", "statuses.json")
    triage = {**copy.deepcopy(statuses[0]), "id": "10099", "name": "Triage"}
    jira_cloud.mock.get(jira_cloud.url("rest/api/3/status"), json=[*statuses, triage])

    batches = list(cloud_source(jira_cloud).pull({"issues": "2025-12-31T09:30:00+00:00"}, NOW))

    assert moves(batches[1])[-1] == ("jira:10003:20011", "done", "new")
    assert paths(jira_cloud).count("/rest/api/3/status") == 2


def test_dc_sync_reads_embedded_changelogs(jira_dc: JiraHarness) -> None:
    jira_dc.client.page_size = 2
    search = jira_dc.url("rest/api/2/search")
    jira_dc.mock.get(search, json=load_fixture("datacenter", "search_page1.json"))
    jira_dc.mock.get(search, json=load_fixture("datacenter", "search_page2.json"))
    jira_dc.mock.get(
        jira_dc.url("rest/api/2/status"), json=load_fixture("datacenter", "statuses.json")
    )
    jira_dc.mock.get(
        jira_dc.url("rest/api/2/issue/20001"),
        json=load_fixture("datacenter", "issue_changelog.json"),
    )
    for iid in ("20002", "20003"):
        empty = {
            "id": iid,
            "key": "OPS",
            "changelog": {"startAt": 0, "maxResults": 0, "total": 0, "histories": []},
        }
        jira_dc.mock.get(jira_dc.url(f"rest/api/2/issue/{iid}"), json=empty)

    source = JiraSource(jira_dc.client, projects=["OPS"], custom_fields=["customfield_10050"])
    first, second = source.pull({"issues": "2025-12-31T08:30:00+00:00"}, NOW)

    assert moves(first) == [("jira:20001:30002", "indeterminate", "done")]
    done = first.events[0]
    assert isinstance(done, TicketTransition) and done.by is not None
    assert done.by.id == "ada" and done.ticket.assignee is not None
    assert (first.cursor, second.cursor) == (
        "2025-12-31T09:10:00+00:00",
        "2025-12-31T09:20:00+00:00",
    )
    assert moves(second) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-12-31T10:05:00+00:00", datetime(2025, 12, 31, 10, 5, tzinfo=UTC)),
        ("2025-12-31T10:05:00Z", datetime(2025, 12, 31, 10, 5, tzinfo=UTC)),
        ("2025-12-31T10:05:00", datetime(2025, 12, 31, 10, 5, tzinfo=UTC)),
        ("2025-12-31T11:05:00+01:00", datetime(2025, 12, 31, 10, 5, tzinfo=UTC)),
        (None, None),
        ("", None),
    ],
    ids=["offset", "zulu", "naive-is-utc", "other-zone", "none", "empty"],
)
def test_parse_cursor(raw: str | None, expected: datetime | None) -> None:
    assert parse_cursor(raw) == expected


def test_garbled_cursor_is_fatal() -> None:
    with pytest.raises(FatalError, match="cursor"):
        parse_cursor("last tuesday")


def test_null_labels_and_components_read_as_empty() -> None:
    issue = {"id": "1", "key": "SR-1", "fields": {"labels": None, "components": None}}
    ticket = to_ticket(issue, base_url=CLOUD_BASE, deployment="cloud")
    assert (ticket.labels, ticket.components, ticket.status_category) == ((), (), None)
