"""`skillrelay awards`: the table, JSON, manager actions and their refusals, balances."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from plugin import cli
from plugin.store import Store
from tests.test_pipeline_support import effect_keys, northwind

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def db(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[Store, dict[str, int]]]:
    shutil.copyfile(sqlite_template, tmp_path / "skillrelay.db")
    with Store.open(f"sqlite:///{tmp_path / 'skillrelay.db'}") as store:
        yield store, northwind(store)


@pytest.fixture
def run(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    db: tuple[Store, dict[str, int]],
) -> Run:
    modules = [m for m in cli.COMMAND_MODULES if m != "awards"] + ["awards"]
    monkeypatch.setattr(cli, "COMMAND_MODULES", modules)
    monkeypatch.setenv("SKILLRELAY_DATABASE_URL", str(db[0].engine.url))
    monkeypatch.delenv("SKILLRELAY_MANIFEST", raising=False)  # the example manifest

    def invoke(*args: str) -> tuple[int, str, str]:
        code = cli.main(["awards", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def state(db: tuple[Store, dict[str, int]], ticket: str) -> str:
    store, ids = db
    award = store.awards.get(ids[ticket])
    assert award is not None
    return award.state


def test_table(run: Run, db: tuple[Store, dict[str, int]]) -> None:
    code, out, _ = run()
    assert code == 0
    head, *rows = out.splitlines()
    assert head.split() == [
        "ID", "PERSON", "SKILL", "TICKET", "REWARD", "POINTS", "STATE", "SPRINT", "DONE"
    ]  # fmt: skip
    ids = db[1]
    assert sorted(row.split() for row in rows) == sorted(
        [
            [str(ids["PAY-101"]), "ben.carter", "sql-indexing", "PAY-101", "paid-learning-hour",
             "(paid_hour)", "20", "pending_approval", "2026-11-a", "2026-11-04"],
            [str(ids["PAY-202"]), "chloe.nguyen", "feature-flags", "PAY-202", "points-50",
             "(points)", "50", "approved", "2026-11-a", "2026-11-04"],
            [str(ids["RISK-7"]), "farah.haddad", "sql-indexing", "RISK-7", "paid-learning-hour",
             "(paid_hour)", "20", "pending_approval", "2026-11-a", "2026-11-04"],
        ]
    )  # fmt: skip


def test_json_lines_and_filters(run: Run) -> None:
    code, out, _ = run("--json", "--state", "pending_approval", "--person", "ben.carter")
    assert code == 0
    [row] = [json.loads(line) for line in out.splitlines()]
    assert {k: row[k] for k in ("person", "ticket", "reward", "reward_kind", "state")} == {
        "person": "ben.carter",
        "ticket": "PAY-101",
        "reward": "paid-learning-hour",
        "reward_kind": "paid_hour",
        "state": "pending_approval",
    }
    assert row["done_at"] == "2026-11-04T10:00:00+00:00"
    assert run("--sprint", "2026-11-b") == (0, "no awards match\n", "")


def test_a_manager_approves(run: Run, db: tuple[Store, dict[str, int]]) -> None:
    award = db[1]["PAY-101"]
    code, out, _ = run("approve", str(award), "--by", "amara.okafor", "--note", "well done")
    assert code == 0
    assert out.startswith(f"award {award} pending_approval -> approved by amara.okafor: ")
    assert state(db, "PAY-101") == "approved"
    last = db[0].awards.events(award)[-1]
    assert (last.actor, last.note) == ("amara.okafor", "well done")
    keys = effect_keys(db[0])
    assert f"{award}:approved:jira:comment" in keys and f"{award}:approved:lrs:earned" in keys


@pytest.mark.parametrize(
    ("action", "ticket", "by", "message"),
    [
        (
            "approve",
            "PAY-101",
            "elena.petrova",
            "elena.petrova is not a manager of ben.carter's teams (payments-core: amara.okafor)",
        ),
        (
            "reject",
            "RISK-7",
            "amara.okafor",
            "amara.okafor is not a manager of farah.haddad's teams (risk-platform: elena.petrova)",
        ),
        ("approve", "PAY-101", "ben.carter", "ben.carter cannot approve their own award"),
    ],
    ids=["outsider", "other-team", "own-award"],
)
def test_who_may_not_act_is_refused(
    run: Run, db: tuple[Store, dict[str, int]], action: str, ticket: str, by: str, message: str
) -> None:
    before = effect_keys(db[0])
    assert run(action, str(db[1][ticket]), "--by", by) == (2, "", message + "\n")
    assert state(db, ticket) == "pending_approval"
    assert effect_keys(db[0]) == before


def test_reject_and_fulfil(run: Run, db: tuple[Store, dict[str, int]]) -> None:
    ids = db[1]
    assert run("reject", str(ids["RISK-7"]), "--by", "elena.petrova")[0] == 0
    assert state(db, "RISK-7") == "rejected"
    assert run("fulfil", str(ids["PAY-202"]), "--by", "amara.okafor")[0] == 0
    assert state(db, "PAY-202") == "fulfilled"
    keys = effect_keys(db[0])
    assert f"{ids['RISK-7']}:rejected:jira:comment" in keys
    assert f"{ids['PAY-202']}:fulfilled:jira:comment" in keys


def test_invalid_move_and_unknown_award(run: Run, db: tuple[Store, dict[str, int]]) -> None:
    award = db[1]["PAY-101"]
    assert run("fulfil", str(award), "--by", "amara.okafor") == (
        2,
        "",
        f"skillrelay: award {award} is pending_approval: a manager can fulfil an award that "
        "is approved or revocation_flagged\n",
    )
    assert run("approve", "999", "--by", "amara.okafor") == (2, "", "skillrelay: no award 999\n")
    assert run("revoke", str(award), "--by", "amara.okafor")[0] == 0
    # A revoked award is never brought back by hand (the ledger would allow the move).
    assert run("approve", str(award), "--by", "amara.okafor")[0] == 2


def test_balances(run: Run, db: tuple[Store, dict[str, int]]) -> None:
    assert run("approve", str(db[1]["PAY-101"]), "--by", "amara.okafor")[0] == 0
    code, out, _ = run("balances", "--sprint", "2026-11-a")
    assert code == 0
    points, budgets = out.split("\n\n")
    assert [line.split() for line in points.splitlines()] == [
        ["points", "(sprint", "2026-11-a)"],
        ["PERSON", "POINTS"],
        ["chloe.nguyen", "50"],
        ["ben.carter", "20"],  # Farah's award waits for approval: no points yet
    ]
    assert [line.split() for line in budgets.splitlines()] == [
        ["budget", "use"],
        ["REWARD", "PERIOD", "USED", "LIMIT"],
        ["paid-learning-hour", "sprint", "2026-11-a", "2", "6"],
        ["paid-learning-hour", "quarter", "2026-Q4", "2", "30"],
        ["priority-pick", "sprint", "2026-11-a", "0", "3"],
        ["leadership-demo", "sprint", "2026-11-a", "0", "2"],
        ["leadership-demo", "quarter", "2026-Q4", "0", "6"],
        ["masterclass-seat", "quarter", "2026-Q4", "0", "4"],
    ]


def test_balances_of_an_unknown_sprint(run: Run) -> None:
    assert run("balances", "--sprint", "2027-01-a") == (
        2,
        "",
        "unknown sprint '2027-01-a'; valid ids: 2026-11-a, 2026-11-b\n",
    )


def test_a_revoked_award_counts_no_points(run: Run, db: tuple[Store, dict[str, int]]) -> None:
    store, ids = db
    award = ids["PAY-202"]  # 50 points, approved
    store.awards.transition(award, "revoked", "engine", "reopened")
    _, out, _ = run()
    [row] = [line.split() for line in out.splitlines() if "PAY-202" in line]
    assert row[6:8] == ["0", "revoked"]  # after the reward "points-50 (points)"
    _, out, _ = run("--json", "--state", "revoked")
    [found] = [json.loads(line) for line in out.splitlines()]
    assert (found["points"], found["reward_points"]) == (0, 50)
