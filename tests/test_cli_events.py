"""`skillrelay events`: what happened, in words, with status names, people as mapped now."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from plugin.settings import DATABASE_ENV
from plugin.store import Store
from tests.test_import_support import Cli

WEBHOOKS = Path(__file__).parent / "fixtures" / "webhooks"
ACCOUNT = "5b10ac8d82e05b22cc7d4ef5"  # the assignee in the webhook fixtures


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    cli = Cli(tmp_path, monkeypatch, capsys)
    # ACME-42 is created in To Do, its labels change while In Progress, then it moves to Done.
    names = ("cloud_issue_created", "cloud_issue_updated_labels", "cloud_issue_updated_status_done")
    bodies = [json.loads((WEBHOOKS / f"{name}.json").read_text()) for name in names]
    (tmp_path / "acme.json").write_text(json.dumps(bodies))
    result = cli("import", "--format", "jira-webhook", tmp_path / "acme.json")
    assert result.code == 0, result.err
    return cli


def table(cli: Cli) -> list[str]:
    result = cli("events")
    assert result.code == 0, result.err
    return result.out.splitlines()


def test_transitions_read_with_status_names(cli: Cli) -> None:
    head, *rows = table(cli)
    assert head.split() == ["#", "source", "when", "person", "skill", "what"]
    assert [row.split("  ")[-1].strip() for row in rows] == [
        "ACME-42 created in To Do",
        "ACME-42 changed while In Progress",
        "ACME-42 In Progress → Done",
    ]


def test_json_names_the_statuses(cli: Cli) -> None:
    rows = cli.events()
    assert [(r["from_status"], r["to_status"]) for r in rows] == [
        (None, "To Do"),
        ("In Progress", "In Progress"),
        ("In Progress", "Done"),
    ]
    assert rows[-1]["happened"] == "ACME-42 In Progress → Done"


def test_delivery_markers_are_not_listed_as_events(cli: Cli) -> None:
    marker = {"identifier": "c0ffee", "event": "jira:issue_updated", "events": 1}
    with Store.open(cli_database(cli)) as store:
        store.inbox.add("jira", "delivery", "jira-delivery:c0ffee", marker)
    rows = table(cli)[1:]
    assert len(rows) == 3
    assert not any("unreadable" in row or "? ?" in row for row in rows)
    assert len(cli.events()) == 3


def test_people_show_as_mapped_now(cli: Cli) -> None:
    assert all(f"? jira:{ACCOUNT}" in row for row in table(cli)[1:])
    assert cli("identities", "map", "jira", ACCOUNT, "ben.carter").code == 0
    rows = table(cli)[1:]
    assert all("ben.carter" in row and ACCOUNT not in row for row in rows)
    assert {r["person"] for r in cli.events()} == {"ben.carter"}


def test_times_carry_the_organisation_offset(cli: Cli) -> None:
    cli.edit_manifest("timezone: Europe/London", "timezone: Europe/Berlin")
    rows = table(cli)[1:]
    # 1794225600123 ms is 2026-11-09 12:00 UTC: 13:00 in Berlin.
    assert "2026-11-09 13:00 +01:00" in rows[-1]
    assert cli.events()[-1]["at"] == "2026-11-09T12:00+00:00"


def cli_database(cli: Cli) -> str:
    return os.environ[DATABASE_ENV]


def test_a_first_transition_names_the_status_it_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # No earlier event of ACME-42 is known: the changelog's own fromString names the status.
    cli = Cli(tmp_path, monkeypatch, capsys)
    body = json.loads((WEBHOOKS / "cloud_issue_updated_status_done.json").read_text())
    (tmp_path / "done.json").write_text(json.dumps([body]))
    assert cli("import", "--format", "jira-webhook", tmp_path / "done.json").code == 0
    rows = cli.events()
    assert [(r["from_status"], r["to_status"]) for r in rows] == [("In Progress", "Done")]
    assert rows[0]["happened"] == "ACME-42 In Progress → Done"


def test_failed_lists_what_was_set_aside_with_the_reason(cli: Cli) -> None:
    with Store.open(cli_database(cli)) as store:  # stored by an older version, say
        store.inbox.add("jira", "ticket", "jira:bad-twin", {"kind": "ticket", "summary": "\x00"})
    assert cli("worker", "--once", "--pipeline-only").code == 0
    result = cli("events", "--failed")
    assert result.code == 0, result.err
    head, *rows, blank, hint = result.out.splitlines()
    assert head.split() == ["#", "source", "received", "event", "reason"]
    assert len(rows) == 1 and "jira:bad-twin" in rows[0] and "unreadable ticket payload" in rows[0]
    assert (blank, hint) == (
        "",
        "fixed what failed them? `skillrelay events retry ID` (or `--all`) gives them back",
    )
    [row] = [json.loads(line) for line in cli("events", "--failed", "--json").out.splitlines()]
    assert row["natural_key"] == "jira:bad-twin" and row["reason"].startswith("unreadable")
    with Store.open(cli_database(cli)) as store:
        assert store.inbox.count_by_status()["processed"] == 3  # the rest decided


def test_retry_gives_events_set_aside_back_to_the_workers(cli: Cli) -> None:
    with Store.open(cli_database(cli)) as store:
        store.inbox.add("jira", "ticket", "jira:bad-twin", {"kind": "ticket", "summary": "\x00"})
    assert cli("worker", "--once", "--pipeline-only").code == 0
    [row] = [json.loads(line) for line in cli("events", "--failed", "--json").out.splitlines()]
    retried = cli("events", "retry", str(row["id"]))
    assert (retried.code, retried.out) == (0, f"1 event(s) go back to the workers: {row['id']}\n")
    with Store.open(cli_database(cli)) as store:
        assert store.inbox.count_by_status()["failed"] == 0
    # Still unreadable: the worker sets it aside again, with its reason.
    assert cli("worker", "--once", "--pipeline-only").code == 0
    [again] = [json.loads(line) for line in cli("events", "--failed", "--json").out.splitlines()]
    assert (again["id"], again["reason"]) == (row["id"], row["reason"])
    assert (
        cli("events", "retry", "--all").out == f"1 event(s) go back to the workers: {row['id']}\n"
    )
    assert cli("events", "retry", "--all").out == "no events are set aside\n"
    with Store.open(cli_database(cli)) as store:
        audited = [(e.target, e.detail, e.remote_addr) for e in store.audit.list()]
    assert audited == [
        ("events:set-aside", {"count": 1, "ids": [row["id"]]}, "cli"),
        (f"event:{row['id']}", {"count": 1, "ids": [row["id"]]}, "cli"),
    ]


def test_retry_refuses_an_event_not_set_aside(cli: Cli) -> None:
    assert cli("worker", "--once", "--pipeline-only").code == 0
    result = cli("events", "retry", "1", "999")
    assert result.code == 2
    assert result.err.splitlines() == [
        "skillrelay: event 1 is processed, not set aside: nothing to retry",
        "skillrelay: event 999 does not exist: nothing to retry",
    ]
    with Store.open(cli_database(cli)) as store:
        assert store.inbox.count_by_status()["processed"] == 3
