"""Cloud changelogs in bulk (`POST /rest/api/3/changelog/bulkfetch`), and the per-issue fallback."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from connectors.jira_client import BULK_CHANGELOG_ISSUES
from connectors.jira_models import BulkChangelogPage, ChangeEntry
from plugin.domain import TicketTransition
from plugin.errors import FatalError
from plugin.ports import Batch
from tests.jira_contract import JiraHarness, load_fixture
from tests.test_jira_source import NOW, cloud_source, moves, serve_cloud_sync

pytest_plugins = ["tests.jira_contract"]

BULK = "rest/api/3/changelog/bulkfetch"
CURSOR = {"issues": "2025-12-31T09:30:00+00:00"}


def bulk_bodies(harness: JiraHarness) -> list[dict[str, Any]]:
    return [json.loads(r.body or b"") for r in harness.sent() if (r.url or "").endswith(BULK)]


def per_issue_paths(harness: JiraHarness) -> list[str]:
    paths = [urlsplit(r.url or "").path for r in harness.sent()]
    return [p for p in paths if p.endswith("/changelog")]


def histories(name: str) -> list[dict[str, Any]]:
    """The entries of a recorded bulk page (one issue each)."""
    (issue,) = load_fixture("cloud", name)["issueChangeLogs"]
    return list(issue["changeHistories"])


def restart(harness: JiraHarness) -> None:
    """Check what was sent so far, then forget the mock's answers and calls (a new sync)."""
    harness.verify()
    harness.mock.reset()
    harness.checked = 0


# --- the client ----------------------------------------------------------------------------


def test_bulk_changelogs_follow_the_token_and_ask_for_status_only(
    jira_cloud: JiraHarness,
) -> None:
    url = jira_cloud.url(BULK)
    jira_cloud.mock.post(url, json=load_fixture("cloud", "bulk_changelog_page1.json"))
    jira_cloud.mock.post(url, json=load_fixture("cloud", "bulk_changelog_page2.json"))

    found = jira_cloud.client.bulk_changelogs(["10001"])

    assert found is not None and list(found) == ["10001"]
    assert [e.id for e in found["10001"]] == ["20001", "20003"]
    assert bulk_bodies(jira_cloud) == [
        {"issueIdsOrKeys": ["10001"], "maxResults": 1000, "fieldIds": ["status"]},
        {
            "issueIdsOrKeys": ["10001"],
            "maxResults": 1000,
            "fieldIds": ["status"],
            "nextPageToken": "UxAQBFRF",
        },
    ]


def test_bulk_changelogs_group_an_issue_split_across_pages(jira_cloud: JiraHarness) -> None:
    sr1, sr3 = histories("bulk_changelog_page1.json"), histories("bulk_changelog_reopen.json")
    sr1 += histories("bulk_changelog_page2.json")
    # Jira pages by change date across issues: one issue's entries may span pages.
    first = {
        "issueChangeLogs": [
            {"issueId": "10001", "changeHistories": sr1[:1]},
            {"issueId": "10003", "changeHistories": sr3[:1]},
        ],
        "nextPageToken": "CAEaAggD",
    }
    second = {
        "issueChangeLogs": [
            {"issueId": "10003", "changeHistories": sr3[2:0:-1]},  # out of order on purpose
            {"issueId": "10001", "changeHistories": sr1[1:]},
        ],
        "nextPageToken": None,
    }
    jira_cloud.client.bulk_page_size = 3
    jira_cloud.mock.post(jira_cloud.url(BULK), json=first)
    jira_cloud.mock.post(jira_cloud.url(BULK), json=second)

    found = jira_cloud.client.bulk_changelogs(["10001", "10003", "10001"])

    assert found is not None
    assert {k: [e.id for e in v] for k, v in found.items()} == {
        "10001": ["20001", "20003"],
        "10003": ["20009", "20010", "20011"],  # oldest first
    }
    bodies = bulk_bodies(jira_cloud)
    assert [b["issueIdsOrKeys"] for b in bodies] == [["10001", "10003"]] * 2  # deduplicated
    assert [b["maxResults"] for b in bodies] == [3, 3]


def test_a_repeated_bulk_token_is_a_loop(jira_cloud: JiraHarness) -> None:
    page = load_fixture("cloud", "bulk_changelog_page1.json")
    jira_cloud.mock.post(jira_cloud.url(BULK), json=page)
    jira_cloud.mock.post(jira_cloud.url(BULK), json=page)
    with pytest.raises(FatalError, match="pagination loop") as raised:
        jira_cloud.client.bulk_changelogs(["10001"])
    assert raised.value.status is None
    assert len(jira_cloud.sent()) == 2


@pytest.mark.parametrize(
    "tail",
    [{"nextPageToken": None}, {}, {"nextPageToken": ""}],
    ids=["null-token", "no-token", "empty-token"],
)
def test_a_missing_bulk_token_ends_the_walk(jira_cloud: JiraHarness, tail: dict[str, Any]) -> None:
    page = {"issueChangeLogs": [{"issueId": "10001", "changeHistories": []}], **tail}
    jira_cloud.mock.post(jira_cloud.url(BULK), json=page)
    assert jira_cloud.client.bulk_changelogs(["10001"]) == {"10001": []}
    assert len(jira_cloud.sent()) == 1


def test_bulk_changelogs_ask_for_at_most_1000_issues_a_request(jira_cloud: JiraHarness) -> None:
    jira_cloud.mock.post(jira_cloud.url(BULK), json={"issueChangeLogs": [], "nextPageToken": None})
    ids = [str(20_000 + n) for n in range(2 * BULK_CHANGELOG_ISSUES + 345)]

    assert jira_cloud.client.bulk_changelogs(ids) == {}

    sizes = [len(b["issueIdsOrKeys"]) for b in bulk_bodies(jira_cloud)]
    assert sizes == [1000, 1000, 345]
    assert [i for b in bulk_bodies(jira_cloud) for i in b["issueIdsOrKeys"]] == ids


def test_no_issues_send_no_request(jira_cloud: JiraHarness) -> None:
    assert jira_cloud.client.bulk_changelogs([]) == {}
    assert jira_cloud.sent() == []


def test_a_site_without_the_bulk_fetch_answers_none(jira_cloud: JiraHarness) -> None:
    jira_cloud.mock.post(jira_cloud.url(BULK), status=404, json={"errorMessages": ["Not Found"]})
    assert jira_cloud.client.bulk_changelogs(["10001"]) is None


def test_a_404_on_a_later_page_also_answers_none(jira_cloud: JiraHarness) -> None:
    jira_cloud.mock.post(
        jira_cloud.url(BULK), json=load_fixture("cloud", "bulk_changelog_page1.json")
    )
    jira_cloud.mock.post(jira_cloud.url(BULK), status=404, json={"errorMessages": ["Not Found"]})
    assert jira_cloud.client.bulk_changelogs(["10001"]) is None


@pytest.mark.parametrize(
    "answer",
    [["not", "an", "object"], {"issueChangeLogs": "x"}, {"issueChangeLogs": [{"id": "1"}]}],
    ids=["list", "not-a-list", "no-issue-id"],
)
def test_an_unreadable_bulk_answer_is_fatal_without_status(
    jira_cloud: JiraHarness, answer: Any
) -> None:
    jira_cloud.mock.post(jira_cloud.url(BULK), json=answer)
    with pytest.raises(FatalError) as raised:
        jira_cloud.client.bulk_changelogs(["10001"])
    assert raised.value.status is None


def test_bulk_fetch_is_cloud_only(jira_dc: JiraHarness) -> None:
    with pytest.raises(ValueError, match="Cloud"):
        jira_dc.client.bulk_changelogs(["20001"])
    assert jira_dc.sent() == []


def test_bulk_fetch_filters_by_at_most_ten_fields(jira_cloud: JiraHarness) -> None:
    with pytest.raises(ValueError, match="10 fields"):
        jira_cloud.client.bulk_changelogs(["10001"], fields=[f"f{n}" for n in range(11)])


def test_no_fields_asks_for_every_entry(jira_cloud: JiraHarness) -> None:
    jira_cloud.mock.post(jira_cloud.url(BULK), json={"issueChangeLogs": []})
    jira_cloud.client.bulk_changelogs(["10001"], fields=[])
    assert "fieldIds" not in bulk_bodies(jira_cloud)[0]


# --- `created`: ISO in the per-issue changelog, epoch seconds in the bulk example -----------

AT = datetime(2025, 12, 31, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "created",
    [
        "2025-12-31T10:30:00.000+0000",
        "2025-12-31T10:30:00Z",
        "2025-12-31T11:30:00.000+0100",
        1767177000,
        1767177000.0,
        1767177000000,
        "1767177000",
    ],
    ids=["iso-jira", "iso-zulu", "iso-offset", "epoch-s", "epoch-float", "epoch-ms", "epoch-str"],
)
def test_created_reads_iso_and_epoch_times(created: Any) -> None:
    entry = ChangeEntry.model_validate({"id": "1", "created": created})
    assert entry.created == AT
    assert entry.created.utcoffset() is not None  # always aware


@pytest.mark.parametrize("created", [True, "yesterday", None], ids=["bool", "text", "null"])
def test_unreadable_created_is_rejected(created: Any) -> None:
    with pytest.raises(ValueError, match="created"):
        ChangeEntry.model_validate({"id": "1", "created": created})


def test_the_recorded_bulk_pages_read_both_time_forms() -> None:
    iso = BulkChangelogPage.model_validate(load_fixture("cloud", "bulk_changelog_page2.json"))
    epoch = BulkChangelogPage.model_validate(load_fixture("cloud", "bulk_changelog_reopen.json"))
    assert iso.issues[0].histories[0].created == datetime(2025, 12, 31, 10, 0, tzinfo=UTC)
    assert [h.created for h in epoch.issues[0].histories][1] == AT
    assert (iso.next_page_token, epoch.next_page_token) == (None, None)


def test_entries_of_one_instant_sort_by_id() -> None:
    at = "2025-12-31T10:30:00.000+0000"
    entries = [ChangeEntry.model_validate({"id": i, "created": at}) for i in ("100", "99", "x")]
    assert [e.id for e in sorted(entries, key=ChangeEntry.order)] == ["x", "99", "100"]


# --- the event source ----------------------------------------------------------------------


def dumped(batches: list[Batch]) -> list[dict[str, Any]]:
    return [
        {
            "events": [e.model_dump(mode="json") for e in b.events],
            "cursor": b.cursor,
            "fetched": b.fetched,
            "raw": list(b.raw),
            "errors": list(b.errors),
        }
        for b in batches
    ]


@pytest.mark.parametrize("cursors", [CURSOR, {}], ids=["from-cursor", "first-sync-lookback"])
def test_bulk_and_per_issue_reads_give_the_same_transitions(
    jira_cloud: JiraHarness, cursors: dict[str, str]
) -> None:
    serve_cloud_sync(jira_cloud, bulk=True)
    in_bulk = list(cloud_source(jira_cloud).pull(cursors, NOW))
    assert len(bulk_bodies(jira_cloud)) == 3 and per_issue_paths(jira_cloud) == []
    restart(jira_cloud)
    serve_cloud_sync(jira_cloud, bulk=False)
    one_by_one = list(cloud_source(jira_cloud).pull(cursors, NOW))
    assert len(bulk_bodies(jira_cloud)) == 1 and len(per_issue_paths(jira_cloud)) == 3

    assert dumped(in_bulk) == dumped(one_by_one)
    found = [e for b in in_bulk for e in b.events if isinstance(e, TicketTransition)]
    assert len(found) == (3 if cursors else 4)  # the first sync also sees SR-1 leave "To Do"
    done = next(e for e in found if e.natural_key == "jira:10003:20010")  # epoch time in bulk
    assert done.at == AT and done.by is not None and done.by.display_name == "Bob Hopper"


def test_a_404_falls_back_to_per_issue_reads_once_per_sync(
    jira_cloud: JiraHarness, caplog: pytest.LogCaptureFixture
) -> None:
    serve_cloud_sync(jira_cloud, bulk=False)
    with caplog.at_level(logging.INFO, logger="skillrelay.jira"):
        first, second = cloud_source(jira_cloud).pull(CURSOR, NOW)

    assert moves(first) == [("jira:10001:20003", "indeterminate", "done")]
    assert [m[0] for m in moves(second)] == ["jira:10003:20010", "jira:10003:20011"]
    assert len(bulk_bodies(jira_cloud)) == 1  # not tried again for the second page
    assert per_issue_paths(jira_cloud) == [
        "/rest/api/3/issue/10001/changelog",
        "/rest/api/3/issue/10001/changelog",
        "/rest/api/3/issue/10003/changelog",
    ]
    (record,) = [r for r in caplog.records if "bulk" in r.getMessage()]
    assert record.levelno == logging.INFO and "404" in record.getMessage()

    restart(jira_cloud)  # the next sync tries the bulk fetch again
    serve_cloud_sync(jira_cloud, bulk=True)
    list(cloud_source(jira_cloud).pull(CURSOR, NOW))
    assert len(bulk_bodies(jira_cloud)) == 3 and per_issue_paths(jira_cloud) == []


def test_other_bulk_errors_end_the_sync(jira_cloud: JiraHarness) -> None:
    search = jira_cloud.url("rest/api/3/search/jql")
    jira_cloud.mock.post(search, json=load_fixture("cloud", "search_page2.json"))
    jira_cloud.mock.post(jira_cloud.url(BULK), status=400, json={"errorMessages": ["Bad"]})
    with pytest.raises(FatalError) as raised:
        list(cloud_source(jira_cloud).pull(CURSOR, NOW))
    assert raised.value.status == 400
    assert per_issue_paths(jira_cloud) == []


def test_an_unreadable_bulk_answer_is_reported_per_changed_issue(jira_cloud: JiraHarness) -> None:
    page = load_fixture("cloud", "search_page1.json")
    page["issues"][1]["fields"]["statuscategorychangedate"] = None  # SR-2 may have moved too
    page["isLast"] = True
    del page["nextPageToken"]
    jira_cloud.mock.post(jira_cloud.url("rest/api/3/search/jql"), json=page)
    jira_cloud.mock.post(jira_cloud.url(BULK), json={"issueChangeLogs": "garbled"})

    (batch,) = cloud_source(jira_cloud).pull(CURSOR, NOW)

    assert list(batch.errors) == ["SR-1: unreadable changelog", "SR-2: unreadable changelog"]
    assert (batch.fetched, len(batch.raw), list(batch.events)) == (2, 2, [])
    assert batch.cursor == "2025-12-31T10:05:00+00:00"
    assert bulk_bodies(jira_cloud)[0]["issueIdsOrKeys"] == ["10001", "10002"]


def test_an_issue_missing_from_the_bulk_answer_has_no_transitions(
    jira_cloud: JiraHarness,
) -> None:
    other = load_fixture("cloud", "bulk_changelog_reopen.json")
    other["issueChangeLogs"][0]["issueId"] = "10099"  # an issue we did not ask about
    serve_cloud_sync(jira_cloud, other)

    first, second = cloud_source(jira_cloud).pull(CURSOR, NOW)

    assert len(moves(first)) == 1
    assert (list(second.events), list(second.errors)) == ([], [])
