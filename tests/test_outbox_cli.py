"""`skillrelay outbox`: list effects (all, --failed, --status, --json) and retry dead ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from plugin import cli
from plugin.store import Store
from tests.test_effects_support import change, enqueue, make_award, plan, store_award

T0 = datetime(2026, 11, 6, 9, 0, tzinfo=UTC)
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], store_url: str) -> Run:
    modules = [m for m in cli.COMMAND_MODULES if m != "outbox"] + ["outbox"]
    monkeypatch.setattr(cli, "COMMAND_MODULES", modules)
    monkeypatch.setenv("SKILLRELAY_DATABASE_URL", store_url)

    def invoke(*args: str) -> tuple[int, str, str]:
        code = cli.main(["outbox", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.fixture
def filled(store: Store) -> Store:
    """Four effects of one award: comment done, label dead, two statements pending."""
    enqueue(store, plan(change(store_award(store, make_award(state="approved")), "awarded")), T0)
    comment, label = store.outbox.claim_due(T0, 2, "w1")
    store.outbox.start([comment.id, label.id], "w1", T0, 60)  # one attempt each
    store.outbox.mark_done(comment.id)
    store.outbox.mark_dead(label.id, "jira (HTTP 400): Bad Request")
    return store


def test_list_all(run: Run, filled: Store) -> None:
    code, out, _ = run()
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "ID",
        "STATUS",
        "EFFECT",
        "ATTEMPTS",
        "NEXT",
        "ATTEMPT",
        "KEY",
        "LAST",
        "ERROR",
    ]
    rows = [line.split()[:4] for line in lines[1:5]]
    assert [r[1:] for r in rows] == [
        ["done", "jira/comment", "1"],
        ["dead", "jira/label", "1"],
        ["pending", "lrs/applied", "0"],
        ["pending", "lrs/earned", "0"],
    ]
    assert "jira (HTTP 400): Bad Request" in lines[2]
    assert (
        lines[-1]
        == "pending 2, in flight 0, dead 1: `skillrelay outbox retry ID` sends a dead one again"
    )


def test_failed_and_json(run: Run, filled: Store) -> None:
    code, out, _ = run("--failed", "--json")
    assert code == 0
    [row] = [json.loads(line) for line in out.splitlines()]
    assert {k: row[k] for k in ("status", "target", "action", "attempts", "last_error")} == {
        "status": "dead",
        "target": "jira",
        "action": "label",
        "attempts": 1,
        "last_error": "jira (HTTP 400): Bad Request",
    }
    assert row["key"].endswith(":awarded:jira:label")
    code, out, _ = run("--status", "pending", "--json", "--limit", "1")
    assert [json.loads(line)["action"] for line in out.splitlines()] == ["applied"]


def test_retry_moves_a_dead_effect_back_to_pending(run: Run, filled: Store) -> None:
    [dead] = filled.outbox.list(status="dead")
    code, out, _ = run("retry", str(dead.id))
    assert (code, out.strip()) == (
        0,
        f"effect {dead.id} (jira/label) is pending again, with a fresh retry budget",
    )
    item = filled.outbox.get(dead.id)
    assert item is not None and (item.status, item.attempts) == ("pending", 0)
    assert run("--failed")[1].splitlines()[0] == "no dead effects"


def test_a_retry_from_the_command_line_is_audited_as_from_the_web_ui(
    run: Run, filled: Store
) -> None:
    """Reviving a dead effect sends a comment or a statement again: who did it is on record,
    as for the web UI's Retry button; an effect not retried leaves no entry."""
    [dead] = filled.outbox.list(status="dead")
    [done] = filled.outbox.list(status="done")
    assert run("retry", str(dead.id))[0] == 0
    assert run("retry", str(done.id))[0] == 2
    audited = [(e.action, e.target, e.detail, e.remote_addr) for e in filled.audit.list()]
    assert audited == [
        (
            "outbox.retry",
            f"effect:{dead.id}",
            {"effect": "jira/label", "outcome": "pending", "previous": "dead"},
            "cli",
        )
    ]


def test_retry_unknown_or_not_dead_is_exit_2(run: Run, filled: Store) -> None:
    code, _, err = run("retry", "999999")
    assert (code, err.strip()) == (2, "skillrelay: no outbox effect 999999")
    [done] = filled.outbox.list(status="done")
    code, _, err = run("retry", str(done.id))
    assert (code, err.strip()) == (
        2,
        f"skillrelay: effect {done.id} is done, not dead: nothing to retry",
    )


def test_empty_outbox_and_database_option(
    run: Run, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SKILLRELAY_DATABASE_URL")
    code, out, _ = run("--database", store_url)
    assert (code, out.splitlines()[0]) == (0, "the outbox is empty")
    code, _, err = run("--database", store_url, "retry", "5")
    assert (code, err.strip()) == (2, "skillrelay: no outbox effect 5")
