"""`skillrelay identities`: who is who across systems, and mapping the ones nobody claims."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_import_support import Cli

CHLOE_JIRA = "712020:c5d6e7f8-9a0b-4c1d-8e2f-3a4b5c6d0103"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path, monkeypatch, capsys).with_story()


def test_an_unmatched_jira_account_with_its_waiting_ticket_and_a_suggestion(cli: Cli) -> None:
    result = cli("identities", "--unmatched")
    assert result.code == 0
    assert result.out.strip().splitlines() == [
        f"jira:{CHLOE_JIRA} (Chloe Nguyen): 1 done ticket waits for a mapping (2 events name it)",
        "  add to the manifest, in identities.people, under `- id: chloe.nguyen` "
        "(same name Chloe Nguyen):",
        f'      jira_account_id: "{CHLOE_JIRA}"',
        f"  or record it: skillrelay identities map jira {CHLOE_JIRA} chloe.nguyen",
        "",
        "Once a mapping is in the manifest (or recorded with `skillrelay identities map`), the "
        "events held for that id are evaluated again: nothing waiting is lost.",
    ]
    [row] = cli("identities", "--unmatched", "--json").json_lines()
    assert (row["system"], row["external_id"], row["person"]) == ("jira", CHLOE_JIRA, None)
    assert (row["waiting_tickets"], row["waiting_completions"], row["names"]) == (
        1,
        0,
        ["Chloe Nguyen"],
    )
    assert row["suggestion"]["person"] == "chloe.nguyen"


def test_the_full_list_says_how_each_id_was_matched(cli: Cli) -> None:
    rows = {(r["system"], r["external_id"]): r for r in cli("identities", "--json").json_lines()}
    ben = rows["jira", "712020:4f6c1e2a-9b1d-4c3e-8a7f-2d5e6b8c9a01"]
    amara = rows["jira", "712020:a1b2c3d4-5e6f-4a1b-8c2d-3e4f5a6b0101"]
    moodle = rows["xapi", "account:https://lms.northwind.example|102"]
    assert (ben["person"], ben["matched_by"]) == ("ben.carter", "manifest id")
    assert (amara["person"], amara["matched_by"]) == ("amara.okafor", "e-mail")
    assert (moodle["person"], moodle["matched_by"]) == ("ben.carter", "manifest id")
    table = cli("identities").out
    assert table.startswith("system  external id")
    assert f"jira    {CHLOE_JIRA}  ? unmatched" in table


def test_mapping_it_clears_it_and_explain_names_the_person(cli: Cli) -> None:
    before = cli("explain", "PAY-104").out
    assert f"the assignee jira:{CHLOE_JIRA} is not mapped to a person" in before
    assert "`skillrelay identities --unmatched`" in before

    mapped = cli("identities", "map", "jira", CHLOE_JIRA, "chloe.nguyen")
    assert mapped.code == 0
    assert mapped.out.startswith(f"recorded: jira:{CHLOE_JIRA} is chloe.nguyen (was unmatched)")

    assert cli("identities", "--unmatched").out.strip() == "no unmatched ids"
    rows = {r["external_id"]: r for r in cli("identities", "--json").json_lines()}
    assert (rows[CHLOE_JIRA]["person"], rows[CHLOE_JIRA]["matched_by"]) == (
        "chloe.nguyen",
        "admin mapping",
    )
    after = cli("explain", "PAY-104").out
    assert after.startswith("chloe.nguyen completed 'Flag lifecycle and clean-up'")
    assert "with chloe.nguyen as assignee" in after
    assert after.rstrip().endswith("awarded '50 skill points'")


def test_an_unknown_person_lists_close_matches(cli: Cli) -> None:
    result = cli("identities", "map", "jira", CHLOE_JIRA, "chloe")
    assert result.code == 2
    assert (
        result.err.strip()
        == "skillrelay: unknown person 'chloe': close matches: chloe.nguyen (Chloe Nguyen)"
    )
    assert cli("identities", "--unmatched", "--json").json_lines()[0]["person"] is None


def test_an_id_the_manifest_gives_someone_else_is_not_remapped(cli: Cli) -> None:
    ben = "712020:4f6c1e2a-9b1d-4c3e-8a7f-2d5e6b8c9a01"
    result = cli("identities", "map", "jira", ben, "chloe.nguyen")
    assert result.code == 2
    assert "the manifest says jira:" + ben + " is ben.carter" in result.err
    same = cli("identities", "map", "jira", ben, "ben.carter")
    assert same.code == 0 and "already ben.carter in the manifest" in same.out


def test_options_may_come_before_map(cli: Cli, tmp_path: Path) -> None:
    result = cli("identities", "--manifest", cli.manifest, "map", "moodle", "999", "ben.carter")
    assert result.code == 0
    rows = {r["external_id"]: r for r in cli("identities", "--json").json_lines()}
    assert (rows["999"]["person"], rows["999"]["events"]) == ("ben.carter", 0)
