"""connectors.jira_webhook: recorded bodies to TicketTransitions, natural keys, field errors."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.jira_models import ChangeEntry, to_ticket, transitions
from connectors.jira_webhook import canonical_sha256, parse_automation, parse_jira_webhook
from plugin.domain import TicketTransition
from plugin.errors import PayloadError
from tests.test_webhooks_support import fixture_json

BASE = "https://acme.atlassian.net"
FIELDS = ("customfield_10050",)
Parser = Callable[..., list[TicketTransition]]


def parse(parser: Parser, body: dict[str, Any], deployment: str = "cloud") -> TicketTransition:
    found = parser(body, base_url=BASE, deployment=deployment, custom_fields=FIELDS)
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize(
    ("name", "parser", "deployment", "key", "before", "after", "at", "by"),
    [
        (
            "cloud_issue_updated_status_done",
            parse_jira_webhook,
            "cloud",
            "jira:99291:10124",
            None,
            "done",
            datetime(2026, 11, 9, 12, 0, 0, 123000, tzinfo=UTC),
            "5b10ac8d82e05b22cc7d4ef5",
        ),
        (
            "cloud_issue_updated_labels",
            parse_jira_webhook,
            "cloud",
            "jira:99291:10119",
            "indeterminate",
            "indeterminate",
            datetime(2026, 11, 9, 11, 0, 0, 456000, tzinfo=UTC),
            "5b10ac8d82e05b22cc7d4ef5",
        ),
        (
            "cloud_issue_created",
            parse_jira_webhook,
            "cloud",
            "jira:99291:created",
            None,
            "new",
            datetime(2026, 11, 8, 8, 12, 44, 120000, tzinfo=UTC),
            "5b10ac8d82e05b22cc7d4ef5",
        ),
        (
            "datacenter_issue_updated",
            parse_jira_webhook,
            "datacenter",
            "jira:20417:31337",
            None,
            "done",
            datetime(2026, 11, 10, 15, 45, 3, tzinfo=UTC),
            "ada",
        ),
        (
            "automation_format",
            parse_automation,
            "cloud",
            "jira-automation:",
            None,
            "done",
            datetime(2026, 11, 9, 9, 50, 11, 662000, tzinfo=UTC),
            None,
        ),
        (
            "automation_jira_format",
            parse_automation,
            "cloud",
            "jira-automation:",
            None,
            "done",
            datetime(2026, 11, 9, 9, 50, 11, 662000, tzinfo=UTC),
            None,
        ),
    ],
    ids=[
        "status-to-done",
        "labels-only-snapshot",
        "created",
        "datacenter",
        "automation-format",
        "automation-jira-format",
    ],
)
def test_recorded_bodies(
    name: str,
    parser: Parser,
    deployment: str,
    key: str,
    before: str | None,
    after: str | None,
    at: datetime,
    by: str | None,
) -> None:
    found = parse(parser, fixture_json(name), deployment)
    assert found.natural_key.startswith(key)
    assert (found.from_category, found.to_category) == (before, after)
    assert found.at == at and found.at.tzinfo is UTC
    assert (found.by.id if found.by else None) == by
    assert found.ticket.fields == {"customfield_10050": "SQL"}
    assert found.ticket.url == f"{BASE}/browse/{found.ticket.key}"
    assert found.source == "jira" and found.kind == "ticket"


def test_the_ticket_is_read_like_the_sync_reads_it() -> None:
    body = fixture_json("cloud_issue_updated_status_done")
    found = parse(parse_jira_webhook, body)
    synced = to_ticket(body["issue"], base_url=BASE, deployment="cloud", custom_fields=FIELDS)
    assert found.ticket == synced
    assert found.ticket.labels == ("skill-sql",) and found.ticket.components == ("Billing",)
    assert found.ticket.issue_type == "Story"  # the report counts bug-type work by it


def test_a_status_change_has_the_sync_connectors_natural_key() -> None:
    body = fixture_json("cloud_issue_updated_status_done")
    webhook = parse(parse_jira_webhook, body)
    entry = ChangeEntry.model_validate(
        {**body["changelog"], "author": body["user"], "created": "2026-11-09T13:00:00.098+0100"}
    )
    categories = {"3": "indeterminate", "10002": "done"}
    (synced,) = transitions(webhook.ticket, [entry], categories, deployment="cloud")
    assert webhook.natural_key == synced.natural_key == "jira:99291:10124"
    assert (synced.from_category, synced.to_category) == ("indeterminate", "done")
    assert webhook.to_category == synced.to_category


def test_an_issue_already_in_a_later_status_gives_an_unknown_category() -> None:
    body = fixture_json("cloud_issue_updated_status_done")
    body["changelog"]["items"][1]["to"] = "10001"  # moved to another status since
    found = parse(parse_jira_webhook, body)
    assert (found.from_category, found.to_category) == (None, None)


def test_a_status_item_found_by_field_id() -> None:
    body = fixture_json("cloud_issue_updated_status_done")
    body["changelog"]["items"] = [{"field": "Status", "fieldId": "status", "to": "10002"}]
    assert parse(parse_jira_webhook, body).from_category is None


def test_without_timestamp_the_issue_updated_time_counts() -> None:
    body = fixture_json("cloud_issue_updated_status_done")
    del body["timestamp"]
    assert parse(parse_jira_webhook, body).at == datetime(2026, 11, 9, 12, 0, 0, 98000, tzinfo=UTC)


@pytest.mark.parametrize(
    "change",
    [
        {"webhookEvent": "jira:issue_deleted"},
        {"webhookEvent": "comment_created"},
        {"webhookEvent": "jira:issue_updated", "changelog": None},
    ],
    ids=["deleted", "comment", "update-without-changelog"],
)
def test_events_the_engine_does_not_read_give_nothing(change: dict[str, Any]) -> None:
    body = {**fixture_json("cloud_issue_updated_status_done"), **change}
    assert parse_jira_webhook(body, base_url=BASE, deployment="cloud") == []


def test_automation_key_is_a_hash_of_the_canonical_body() -> None:
    body = fixture_json("automation_format")
    reordered = dict(reversed(list(body.items())))
    key = parse(parse_automation, body).natural_key
    assert key == f"jira-automation:{canonical_sha256(body)}"
    assert parse(parse_automation, reordered).natural_key == key
    body["fields"]["labels"] = ["skill-sql", "perf"]
    assert parse(parse_automation, body).natural_key != key


def test_automation_ids_sent_as_numbers_become_strings() -> None:
    found = parse(parse_automation, fixture_json("automation_format"))
    assert (found.ticket.id, found.ticket.key, found.ticket.status) == ("11111", "ACME-53", "Done")


def test_automation_changelog_histories_key_the_newest_change() -> None:
    body = fixture_json("automation_jira_format")
    body["issue"]["changelog"] = {
        "startAt": 0,
        "total": 2,
        "histories": [
            {"id": 500, "created": "2026-11-09T10:00:00.000+0530", "items": []},
            {
                "id": 501,
                "created": "2026-11-09T15:20:11.662+0530",
                "items": [{"field": "status", "from": 3, "to": 10002}],
            },
        ],
    }
    found = parse(parse_automation, body)
    assert found.natural_key == "jira:11112:501"
    assert (found.from_category, found.to_category) == (None, "done")


def test_automation_webhook_style_changelog_keys_like_the_sync() -> None:
    body = fixture_json("automation_jira_format")
    body["changelog"] = {"id": "10124", "items": [{"field": "labels", "toString": "x"}]}
    del body["issue"]["changelog"]
    found = parse(parse_automation, body)
    assert found.natural_key == "jira:11112:10124"
    assert (found.from_category, found.to_category) == ("done", "done")


def _without(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(body: dict[str, Any]) -> None:
        node = body
        for name in parents:
            node = node[name]
        del node[last]

    return change


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(body: dict[str, Any]) -> None:
        node = body
        for name in parents:
            node = node[name]
        node[last] = value

    return change


@pytest.mark.parametrize(
    ("name", "parser", "change", "message"),
    [
        ("cloud_issue_updated_status_done", parse_jira_webhook, _without("webhookEvent"),
         "webhookEvent: missing"),
        ("cloud_issue_updated_status_done", parse_jira_webhook, _set("webhookEvent", 7),
         "webhookEvent: expected a non-empty string, got int"),
        ("cloud_issue_updated_status_done", parse_jira_webhook, _without("issue"),
         "issue: missing"),
        ("cloud_issue_updated_status_done", parse_jira_webhook, _without("issue.id"),
         "issue.id: missing"),
        ("cloud_issue_updated_status_done", parse_jira_webhook, _set("issue.key", ["A-1"]),
         "issue.key: expected a string, got list"),
        ("cloud_issue_updated_status_done", parse_jira_webhook, _without("issue.fields"),
         "issue.fields: missing"),
        ("cloud_issue_updated_status_done", parse_jira_webhook, _without("issue.fields.status"),
         "issue.fields.status: missing"),
        ("cloud_issue_updated_status_done", parse_jira_webhook,
         _without("issue.fields.status.statusCategory.key"),
         "issue.fields.status.statusCategory.key: missing"),
        ("cloud_issue_updated_status_done", parse_jira_webhook,
         _set("issue.fields.labels", "skill-sql"), "issue.fields.labels: "),
        ("cloud_issue_updated_status_done", parse_jira_webhook, _set("timestamp", "yesterday"),
         "timestamp: expected epoch milliseconds, got str"),
        ("cloud_issue_updated_status_done", parse_jira_webhook, _set("timestamp", -1),
         "timestamp: expected epoch milliseconds"),
        ("cloud_issue_updated_status_done", parse_jira_webhook, _set("user", "ada"),
         "user: expected an object, got str"),
        ("cloud_issue_updated_status_done", parse_jira_webhook, _set("changelog", []),
         "changelog: expected an object, got list"),
        ("cloud_issue_updated_status_done", parse_jira_webhook, _set("changelog.items", {}),
         "changelog.items: expected a list, got dict"),
        ("cloud_issue_updated_status_done", parse_jira_webhook, _set("changelog.items", [1]),
         "changelog.items[0]: expected an object, got int"),
        ("cloud_issue_updated_status_done", parse_jira_webhook, _set("changelog.id", True),
         "changelog.id: expected a string or an integer, got bool"),
        ("automation_format", parse_automation, _without("fields"), "fields: missing"),
        ("automation_format", parse_automation, _without("fields.updated"),
         "fields.updated: missing (and no timestamp)"),
        ("automation_jira_format", parse_automation, _without("issue.fields.status"),
         "issue.fields.status: missing"),
        ("automation_jira_format", parse_automation, _set("issue", "ACME-1"),
         "issue: expected an object, got str"),
    ],
    ids=[
        "no-event",
        "event-not-string",
        "no-issue",
        "no-issue-id",
        "key-not-string",
        "no-fields",
        "no-status",
        "no-category-key",
        "labels-not-list",
        "timestamp-text",
        "timestamp-negative",
        "user-not-object",
        "changelog-not-object",
        "items-not-list",
        "item-not-object",
        "changelog-id-bool",
        "automation-no-fields",
        "automation-no-time",
        "jira-format-no-status",
        "jira-format-issue-not-object",
    ],
)  # fmt: skip
def test_malformed_bodies_name_the_field(
    name: str, parser: Parser, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    body = copy.deepcopy(fixture_json(name))
    change(body)
    with pytest.raises(PayloadError) as caught:
        parser(body, base_url=BASE, deployment="cloud")
    assert str(caught.value).startswith(message)
    assert caught.value.status == 400
