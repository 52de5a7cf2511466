"""`skillrelay import --format xapi`: Logstore statements into the inbox, once each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from plugin.store.inbox import Inbox
from tests.test_import_support import FIXTURES, Cli, count


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path, monkeypatch, capsys)


def summary(cli: Cli, name: str, *more: str) -> tuple[int, dict[str, Any], str]:
    result = cli("import", "--format", "xapi", FIXTURES / name, "--json", *more)
    return result.code, json.loads(result.out), result.err


def test_an_array_of_statements_lands_in_the_inbox(cli: Cli) -> None:
    result = cli.imported("xapi", "statements.json")
    assert result.code == 0 and result.err == ""
    assert (count("read", result.out), count("new", result.out)) == (5, 3)
    assert "1 activity of no module in the manifest; 1 not a completion (verb)" in result.out
    rows = [(r["source"], r["person"], r["skills"], r["what"]) for r in cli.events()]
    assert rows == [
        ("xapi", "ben.carter", ["sql-indexing"], "passed sql-composite-indexes"),
        ("xapi", "amara.okafor", ["sql-indexing"], "complete sql-query-plans"),
        ("xapi", "chloe.nguyen", ["feature-flags"], "complete flags-lifecycle"),
    ]


def test_importing_again_stores_nothing_new(cli: Cli) -> None:
    cli.imported("xapi", "statements.json")
    code, again, _ = summary(cli, "statements.json")
    assert code == 0
    assert (again["read"], again["new"], again["duplicates"]) == (5, 0, 3)
    assert len(cli.events()) == 3


def test_a_statement_result_newest_first_with_a_void_before_its_target(cli: Cli) -> None:
    cli.imported("xapi", "statements.json")
    code, found, _ = summary(cli, "statement_result.json")
    assert code == 0
    # hana's completion and the statement voiding it (read first) are new; chloe's is not.
    assert (found["read"], found["events"], found["new"], found["duplicates"]) == (3, 3, 2, 1)
    hana = [r["what"] for r in cli.events() if r["person"] == "hana.sato"]
    assert sorted(hana) == ["complete a11y-keyboard-focus", "incomplete a11y-keyboard-focus"]


def test_bad_lines_are_reported_and_the_rest_is_kept(cli: Cli) -> None:
    result = cli.imported("xapi", "statements.jsonl")
    assert result.code == 1
    name = str(FIXTURES / "statements.jsonl")
    assert result.err.splitlines() == [
        f"{name}:2: not JSON: Expecting property name enclosed in double quotes (column 80)",
        f"{name}:4: verb: Field required",
    ]
    assert count("rejected", result.out) == 2
    assert "1 not JSON; 1 not a valid statement" in result.out
    people = {r["person"] for r in cli.events()}
    assert people == {"ben.carter", "farah.haddad"}


def test_a_dry_run_counts_but_stores_nothing(cli: Cli) -> None:
    code, found, _ = summary(cli, "statements.json", "--dry-run")
    assert code == 0 and found["dry_run"] and found["new"] == 3
    assert cli.events() == []


def test_a_large_file_is_stored_in_batches(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    [template] = json.loads((FIXTURES / "statements.json").read_text())[:1]
    path = cli.tmp_path / "many.jsonl"
    with path.open("w") as f:
        for n in range(2345):
            f.write(json.dumps({**template, "id": f"00000000-0000-4000-8000-{n:012d}"}) + "\n")
    sizes: list[int] = []
    add_many = Inbox.add_many

    def counting(self: Inbox, events: Any, **kwargs: Any) -> tuple[int, int]:
        events = list(events)
        sizes.append(len(events))
        return add_many(self, events, **kwargs)

    monkeypatch.setattr(Inbox, "add_many", counting)
    result = cli("import", "--format", "xapi", path, "--json")
    assert result.code == 0
    assert json.loads(result.out)["new"] == 2345
    assert sizes == [1000, 1000, 345]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("hello, world\n", "{f}:1:1: not JSON: Expecting value"),
        ('{\n  "id": "x",\n  "actor": {,\n}\n', "{f}:3:13: not JSON: Expecting property name"),
        ("", "{f}: empty file: nothing to import"),
        (
            "42\n",
            "{f}: expected a statement, an array of statements or a StatementResult, got a number",
        ),
    ],
    ids=["text", "broken-document", "empty", "a-number"],
)
def test_an_unusable_file_exits_2(cli: Cli, content: str, message: str) -> None:
    path = cli.tmp_path / "bad.json"
    path.write_text(content)
    result = cli("import", "--format", "xapi", path)
    assert result.code == 2
    assert result.err.startswith(message.format(f=path))
    assert cli.events() == []


def test_a_missing_file_exits_2(cli: Cli) -> None:
    result = cli("import", "--format", "xapi", cli.tmp_path / "nowhere.json")
    assert result.code == 2 and "nowhere.json: cannot read: No such file" in result.err


def test_an_unknown_format_lists_the_valid_ones(cli: Cli) -> None:
    result = cli("import", "--format", "csv", FIXTURES / "statements.json")
    assert result.code == 2
    assert "invalid choice: 'csv' (choose from 'xapi', 'jira-webhook', 'jira-issues')" in result.err
