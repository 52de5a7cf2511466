"""`skillrelay import --format jira-webhook|jira-issues`: Jira history into the inbox, under
the same natural keys the sync and the webhooks use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.test_import_support import FIXTURES, Cli

PAY_101 = ["PAY-101 - -> indeterminate", "PAY-101 - -> done"]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path, monkeypatch, capsys)


def imported(cli: Cli, fmt: str, name: str, *more: str) -> tuple[int, dict[str, Any], str]:
    result = cli("import", "--format", fmt, FIXTURES / name, "--json", *more)
    assert result.code in (0, 1), result.err
    return result.code, json.loads(result.out), result.err


def whats(cli: Cli, key: str) -> list[str]:
    return [r["what"] for r in cli.events() if r["what"].startswith(key + " ")]


def test_webhook_bodies_in_an_array(cli: Cli) -> None:
    code, found, err = imported(cli, "jira-webhook", "webhooks.json")
    assert (code, err) == (0, "")
    assert (found["read"], found["new"], found["rejected"]) == (3, 2, {})
    assert found["ignored"] == {"comment_created: no status or field change": 1}
    rows = cli.events()
    assert [(r["person"], r["skills"], r["what"]) for r in rows] == [
        ("ben.carter", ["sql-indexing"], PAY_101[0]),
        ("ben.carter", ["sql-indexing"], PAY_101[1]),
    ]
    assert [r["natural_key"] for r in rows] == ["jira:10101:30001", "jira:10101:30002"]


def test_webhook_bodies_in_json_lines_with_bad_ones(cli: Cli) -> None:
    code, found, err = imported(cli, "jira-webhook", "webhooks.jsonl")
    assert code == 1
    name = FIXTURES / "webhooks.jsonl"
    assert err.splitlines() == [
        f"{name}:2: not JSON: Expecting property name enclosed in double quotes (column 78)",
        f"{name}:4: issue.fields.status: missing",
    ]
    assert found["rejected"] == {"not JSON": 1, "unreadable webhook body": 1}
    # Line 1 is an Automation body (no webhookEvent), line 3 an admin webhook.
    rows = cli.events()
    assert [r["what"] for r in rows] == ["PAY-106 - -> indeterminate", "PAY-107 - -> new"]
    assert rows[0]["natural_key"].startswith("jira-automation:")


def test_data_center_and_automation_jira_format_bodies(cli: Cli) -> None:
    samples = Path(__file__).parent / "fixtures" / "webhooks"
    bodies = [
        json.loads((samples / name).read_text())
        for name in ("datacenter_issue_updated.json", "automation_jira_format.json")
    ]
    path = cli.tmp_path / "bodies.json"
    path.write_text(json.dumps(bodies))
    result = cli("import", "--format", "jira-webhook", path, "--json")
    assert (result.code, json.loads(result.out)["new"]) == (0, 2)
    keys = [r["natural_key"] for r in cli.events()]
    assert keys[0] == "jira:20417:31337"
    assert keys[1].startswith("jira-automation:")  # no changelog id: keyed by the body's hash


def test_search_pages_with_changelogs(cli: Cli) -> None:
    code, found, err = imported(
        cli, "jira-issues", "search_cloud.json", "--statuses", str(FIXTURES / "statuses.json")
    )
    assert (code, err, found["rejected"]) == (0, "", {})
    assert (found["read"], found["events"], found["new"]) == (5, 11, 11)
    assert whats(cli, "PAY-101") == [
        "PAY-101 new -> indeterminate",
        "PAY-101 indeterminate -> done",
    ]
    assert whats(cli, "PAY-105") == [
        "PAY-105 new -> indeterminate",
        "PAY-105 indeterminate -> done",
        "PAY-105 done -> indeterminate",
    ]
    [note] = found["notes"]
    assert note.startswith("1 issue(s) came with a truncated changelog")


def test_a_change_seen_by_webhook_and_search_is_stored_once(cli: Cli) -> None:
    imported(cli, "jira-webhook", "webhooks.json")
    _, found, _ = imported(
        cli, "jira-issues", "search_cloud.json", "--statuses", str(FIXTURES / "statuses.json")
    )
    assert (found["events"], found["new"], found["duplicates"]) == (11, 9, 2)
    assert whats(cli, "PAY-101") == PAY_101  # the webhook's copies, one per change
    _, again, _ = imported(cli, "jira-webhook", "webhooks.json")
    assert (again["new"], again["duplicates"]) == (0, 2)


def test_statuses_of_unknown_category_are_reported_then_imported(cli: Cli) -> None:
    code, found, err = imported(cli, "jira-issues", "search_cloud.json")
    assert code == 1
    assert found["rejected"] == {"change into a status of unknown category": 6}
    assert f"{FIXTURES / 'search_cloud.json'}[item 1] issues[1] (PAY-105): changelog 30042: " in err
    assert "status 'Released' (id 10300): unknown category" in err
    assert any(
        n.startswith(
            "statuses of unknown category: 'Released' (id 10300) x1, 'In Progress' (id 3) x5"
        )
        for n in found["notes"]
    )
    assert "PAY-105 indeterminate -> done" not in whats(cli, "PAY-105")

    code, again, _ = imported(
        cli, "jira-issues", "search_cloud.json", "--statuses", str(FIXTURES / "statuses.json")
    )
    assert code == 0
    assert (again["new"], again["rejected"]) == (6, {})
    assert "PAY-105 indeterminate -> done" in whats(cli, "PAY-105")


def test_data_center_pages_in_json_lines(cli: Cli) -> None:
    cli.edit_manifest("deployment: cloud", "deployment: datacenter")
    code, found, err = imported(cli, "jira-issues", "search_dc.jsonl")
    assert (code, err) == (0, "")
    assert found["ignored"] == {"issue without its changelog (search without expand=changelog)": 1}
    assert found["notes"] == [
        "1 issue(s) came without their changelog: only their current state is known, and no "
        "status change can be derived from it; search again with expand=changelog"
    ]
    rows = cli.events()
    assert [(r["person"], r["person_ref"], r["what"]) for r in rows] == [
        # No issue in the file is in To Do now, and no --statuses: the move out of it
        # starts from an unknown category, as a webhook's would.
        ("george.lin", "jira:glin", "RISK-201 - -> indeterminate"),
        ("george.lin", "jira:glin", "RISK-201 indeterminate -> done"),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"total": 0}',
            'expected a search page ({"issues": [...]}), an array of pages or an issue, '
            "got an object with total",
        ),
        ('"PAY-1"', "expected a search page"),
    ],
    ids=["object-without-issues", "a-string"],
)
def test_a_file_that_is_no_search_result_exits_2(cli: Cli, content: str, message: str) -> None:
    path = cli.tmp_path / "page.json"
    path.write_text(content)
    result = cli("import", "--format", "jira-issues", path)
    assert result.code == 2 and result.err.startswith(f"{path}: {message}")


def test_items_that_are_not_issues_are_rejected(cli: Cli) -> None:
    pages = json.loads((FIXTURES / "search_cloud.json").read_text())
    broken = {**pages[0]["issues"][0], "id": 17}
    path = cli.tmp_path / "pages.json"
    path.write_text(json.dumps([pages[1], 7, {"issues": [broken]}]))
    result = cli(
        "import", "--format", "jira-issues", path, "--statuses", FIXTURES / "statuses.json"
    )
    assert result.code == 1
    assert result.err.splitlines() == [
        f'{path}[item 1]: expected an issue or a search page ({{"issues": [...]}}), got a number',
        f"{path}[item 2] issues[0] (PAY-101): issue: id: Input should be a valid string",
    ]
    assert whats(cli, "PAY-104") == [
        "PAY-104 new -> indeterminate",
        "PAY-104 indeterminate -> done",
    ]


def test_a_bad_statuses_file_exits_2(cli: Cli) -> None:
    path = cli.tmp_path / "statuses.json"
    path.write_text('[{"name": "Done"}]')
    result = cli(
        "import", "--format", "jira-issues", FIXTURES / "search_cloud.json", "--statuses", path
    )
    assert result.code == 2 and result.err.startswith(f"{path}[item 0]: id: Field required")
    assert cli.events() == []


def test_jira_formats_need_a_jira_source(cli: Cli) -> None:
    text = (Path(__file__).parent / "fixtures" / "manifests" / "minimal.yaml").read_text()
    start, end = text.index("  - id: jira\n"), text.index("  - id: moodle\n")
    text = text[:start] + text[end:]
    cli.manifest.write_text(
        text.replace("    - type: jira_comment\n", "    - type: moodle_message\n")
    )
    assert cli("manifest", "validate", cli.manifest).code == 0
    result = cli("import", "--format", "jira-webhook", FIXTURES / "webhooks.json")
    assert result.code == 2 and "the manifest has no jira source" in result.err


def test_statuses_only_go_with_jira_issues(cli: Cli) -> None:
    statuses = FIXTURES / "statuses.json"
    result = cli(
        "import", "--format", "jira-webhook", FIXTURES / "webhooks.json", "--statuses", statuses
    )
    assert result.code == 2 and "--statuses: only --format jira-issues" in result.err
