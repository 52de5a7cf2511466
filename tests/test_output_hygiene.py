"""Hostile text from Jira, Moodle or the LRS never reaches the terminal raw.

A ticket key with ESC sequences, a display name retitling the window, a newline forging a
line, a bidi override: every command shows them as escapes (`\\x1b`, `\\n`, `\\u202e`), and
its JSON stays valid JSON that reads back to the very same values.
"""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest

from plugin.commands import sync as sync_command
from plugin.domain import Completion, CompletionState, PersonRef, Ticket
from plugin.printable import json_text, printable
from plugin.settings import DATABASE_ENV
from plugin.store import Store
from plugin.sync import SourceSummary
from tests.test_import_support import Cli, Result
from tests.test_pipeline_support import (
    LABELS,
    MANIFEST,
    SQL,
    T0,
    completion,
    drain,
    move,
    pipeline,
    put,
    worked,
)

KEY = "PAY-1\x1b[2J"  # clears the screen
KEY_SHOWN = "PAY-1\\x1b[2J"
FORGED = "PAY-2\n2026-01-01 INFO forged"  # a whole forged line
FORGED_SHOWN = "PAY-2\\n2026-01-01 INFO forged"
NAME = "Eve\x1b]0;pwned\x07"  # retitles the terminal window
NAME_SHOWN = "Eve\\x1b]0;pwned\\x07"
EVE = PersonRef(system="jira", id="acc-eve\x1b[31m", display_name=NAME)
ACTOR = PersonRef(system="xapi", id="mbox:mailto:mallory@x.example", display_name="Mallory\u202e")
STATUS = "Done\u202e"  # shows what follows it backwards
STATUS_SHOWN = "Done\\u202e"
ERROR = "jira said 400: \x1b[2J\n2026-01-01 ERROR forged"
# Anything that acts on a terminal or a reader: every control but the newline between lines,
# DEL, C1 controls, the line separators and bidi characters.
RAW = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def clean(result: Result) -> str:
    """The output, once shown to hold no raw control and no forged line."""
    for stream in (result.out, result.err):
        assert not RAW.search(stream), RAW.findall(stream)
        assert not any(line.startswith("2026-01-01") for line in stream.splitlines())
    return result.out


def ticket(key: str, ident: str, assignee: PersonRef, status: str = STATUS) -> Ticket:
    return Ticket(
        id=ident,
        key=key,
        project="PAY",
        summary="Fix \x1b[2Jthe index",
        status=status,
        status_category="done",
        resolution="Done",
        assignee=assignee,
        labels=(LABELS[SQL],),
    )


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Ben applies SQL indexing in a ticket with a hostile key and status; an unmapped Eve
    finishes a ticket whose key forges a line; an xAPI actor's name carries a bidi override;
    one effect died with a hostile error."""
    cli = Cli(tmp_path, monkeypatch, capsys)
    ben = MANIFEST.people_by_id["ben.carter"].jira_account_id
    assert ben is not None
    day = T0 + timedelta(days=1)
    learned = Completion(
        source="xapi",
        natural_key="stmt-mallory",
        person=ACTOR,
        module="https://lms.example/module/\x1b[2J",
        state=CompletionState.COMPLETE,
        at=T0,
    )
    with Store.open(os.environ[DATABASE_ENV]) as store:
        put(store, [completion("ben.carter"), learned])
        put(store, worked(ticket(KEY, "20001", PersonRef(system="jira", id=ben)), day))
        put(store, worked(ticket(FORGED, "20002", EVE), day + timedelta(hours=1)))
        later = ticket("RISK-9\x1b[2J", "20003", EVE, status="In Review\x1b[2J")
        put(store, [move(later, "new", "indeterminate", day)])
        drain(pipeline(store))
        [first, *_] = store.outbox.list(limit=10)
        store.outbox.mark_dead(first.id, ERROR)
    return cli


def test_identities_show_names_and_ids_escaped(cli: Cli) -> None:
    table = clean(cli("identities"))
    assert NAME_SHOWN in table
    assert "jira    acc-eve\\x1b[31m" in table
    assert "Mallory\\u202e" in table  # no bidi override turns the rest of the line
    unmatched = clean(cli("identities", "--unmatched"))
    assert f"jira:acc-eve\\x1b[31m ({NAME_SHOWN})" in unmatched
    assert "skillrelay identities map jira acc-eve\\x1b[31m PERSON" in unmatched


def test_identities_json_is_valid_and_keeps_the_values(cli: Cli) -> None:
    rows = {r["external_id"]: r for r in cli("identities", "--json").json_lines()}
    assert rows[EVE.id]["names"] == [NAME]
    assert rows[ACTOR.id]["names"] == ["Mallory\u202e"]
    clean(cli("identities", "--json"))


def test_awards_show_the_ticket_key_escaped(cli: Cli) -> None:
    table = clean(cli("awards"))
    assert f"ben.carter  sql-indexing  {KEY_SHOWN}" in table
    [row] = clean(cli("awards", "--json")).splitlines()
    assert json.loads(row)["ticket"] == KEY
    award = json.loads(row)["id"]
    approved = cli("awards", "approve", str(award), "--by", "amara.okafor", "--note", "ok\x1b[2J")
    assert approved.code == 0, approved.err
    assert f"in {KEY_SHOWN}," in clean(approved)


def test_events_show_keys_names_and_statuses_escaped(cli: Cli) -> None:
    result = cli("events", "--limit", "100")
    table = clean(result)
    assert f"{KEY_SHOWN} In Progress → {STATUS_SHOWN}" in table
    assert f"{FORGED_SHOWN} In Progress → {STATUS_SHOWN}" in table
    assert "? jira:acc-eve\\x1b[31m" in table
    assert "https://lms.example/module/\\x1b[2J" in table
    rows = table.splitlines()[1:]
    assert len(rows) == 7  # one line per event: no key breaks a row in two
    lines = clean(cli("events", "--json", "--limit", "100")).splitlines()
    events = [json.loads(line) for line in lines]
    assert {e["to_status"] for e in events if e["kind"] == "ticket"} >= {STATUS}
    assert any(e["happened"].startswith(FORGED) for e in events)


def test_explain_shows_the_ticket_escaped(cli: Cli) -> None:
    told = clean(cli("explain", KEY))
    assert told.startswith("ben.carter completed")
    assert f"{KEY_SHOWN} 'Fix \\x1b[2Jthe index' showed skill sql-indexing" in told
    assert f"entered {STATUS_SHOWN} on" in told
    forged = clean(cli("explain", FORGED))
    assert "the assignee jira:acc-eve\\x1b[31m is not mapped to a person" in forged
    body = json.loads(clean(cli("explain", KEY, "--json")))
    assert body["decisions"][0]["ticket_key"] == KEY


def test_explain_of_a_ticket_not_done_yet_is_escaped(cli: Cli) -> None:
    told = clean(cli("explain", "RISK-9\x1b[2J"))
    assert "RISK-9\\x1b[2J 'Fix \\x1b[2Jthe index' is in status 'In Review\\x1b[2J'" in told
    body = json.loads(clean(cli("explain", "RISK-9\x1b[2J", "--json")))
    assert body["message"].startswith("RISK-9\x1b[2J 'Fix \x1b[2Jthe index'")


def test_outbox_shows_keys_and_errors_escaped(cli: Cli) -> None:
    table = clean(cli("outbox"))
    assert "jira said 400: \\x1b[2J\\n2026-01-01 ERROR forged" in table
    rows = [json.loads(line) for line in clean(cli("outbox", "--json")).splitlines()]
    assert ERROR in {r["last_error"] for r in rows}


def test_sprint_shows_the_ticket_key_escaped(cli: Cli) -> None:
    summary = clean(cli("sprint", "2026-11-a"))
    assert f"sql-indexing in {KEY_SHOWN}:" in summary


def test_import_problems_and_reasons_are_escaped(cli: Cli, tmp_path: Path) -> None:
    bodies = [
        {"webhookEvent": "jira:issue_updated\x1b[2J", "timestamp": 1794225600123},
        {"webhookEvent": "jira:issue_updated", "issue": "\x1b]0;pwned\x07"},
    ]
    (tmp_path / "hostile.json").write_text(json.dumps(bodies))
    result = cli("import", "--format", "jira-webhook", tmp_path / "hostile.json")
    assert "jira:issue_updated\\x1b[2J: no status or field change" in clean(result)
    as_json = cli("import", "--format", "jira-webhook", tmp_path / "hostile.json", "--json")
    summary = json.loads(clean(as_json))
    assert "jira:issue_updated\x1b[2J: no status or field change" in summary["ignored"]


def test_sync_problems_are_escaped() -> None:
    summary = SourceSummary("jira", fetched=1, errors=[ERROR], stopped="bad page \x1b[2J")
    text = sync_command.render([summary], dry_run=False)
    assert not RAW.search(text)
    assert "  ! jira said 400: \\x1b[2J\\n2026-01-01 ERROR forged" in text
    assert "stopped: bad page \\x1b[2J" in text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("PAY-1\x1b[2J", "PAY-1\\x1b[2J"),
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("nul\x00 del\x7f csi\x9b nel\x85", "nul\\x00 del\\x7f csi\\x9b nel\\x85"),
        ("abc\u202edef\u2066\u200f", "abc\\u202edef\\u2066\\u200f"),
        ("line\u2028sep", "line\\u2028sep"),
        ("lone \ud800", "lone \\ud800"),
        ("Zoë Ñúñez 李小龍 👩‍💻 C:\\path", "Zoë Ñúñez 李小龍 👩‍💻 C:\\path"),
    ],
    ids=["esc", "line-breaks", "c0-del-c1", "bidi", "separator", "surrogate", "plain"],
)
def test_printable_shows_what_would_act_and_keeps_the_rest(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_json_text_is_json_that_reads_back_the_same_values() -> None:
    value = {"name": "Zoë\x1b\x9b\u202e\u2028\ud800", "key": "PAY-2\n2026-01-01 INFO forged"}
    for indent in (None, 2):
        text = json_text(value, indent=indent)
        assert not RAW.search(text)
        assert "\ud800" not in text and "Zoë" in text
        assert json.loads(text) == value
