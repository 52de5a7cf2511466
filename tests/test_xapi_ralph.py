"""The xAPI connector against a real Ralph LRS (no mocks): writes, pages, cursors, conflicts."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import requests

from connectors.http import RetryPolicy
from connectors.xapi import (
    VERB_COMPLETED,
    VERB_FAILED,
    VERB_PASSED,
    VERB_UNCOMPLETED,
    LrsClient,
    StatementConflict,
    XapiSource,
    agent,
    applied_statement,
    earned_statement,
    statement_id,
    voiding_statement,
)
from plugin.domain import Completion, CompletionState
from plugin.errors import AuthError, RetriableError
from plugin.ports import Batch
from tests.peers.ralph import RalphMissing, RalphServer, start_ralph

pytestmark = pytest.mark.ralph

FIXTURES = Path(__file__).parent / "fixtures" / "xapi" / "logstore"
SITE = "https://moodle.example.org"
MODULES = {f"{SITE}/mod/page/view.php?id={n}": f"module-{n}" for n in range(1, 6)}
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)

# verb, result, expected state: the completion shapes Logstore xAPI (and ADL verbs) send.
VARIANTS: list[tuple[str, dict[str, Any] | None, CompletionState]] = [
    (VERB_COMPLETED, {"completion": True}, CompletionState.COMPLETE),
    (VERB_COMPLETED, {"completion": True, "success": True}, CompletionState.PASSED),
    (VERB_COMPLETED, {"completion": True, "success": False}, CompletionState.FAILED),
    (VERB_UNCOMPLETED, None, CompletionState.INCOMPLETE),
    (VERB_PASSED, {"success": True}, CompletionState.PASSED),
    (VERB_FAILED, {"success": False}, CompletionState.FAILED),
]
TEMPLATE: dict[str, Any] = json.loads((FIXTURES / "completed.json").read_text())


def logstore(i: int, *, minutes: int | None = None, tag: str = "") -> dict[str, Any]:
    """Statement `i`, Logstore-shaped, `minutes` after T0 (default: i minutes)."""
    verb, result, _ = VARIANTS[i % len(VARIANTS)]
    statement = copy.deepcopy(TEMPLATE)
    for key in ("stored", "authority", "version"):  # set by the LRS
        del statement[key]
    statement["id"] = statement_id(f"logstore:{tag}{i}")
    statement["actor"] = agent(f"account:{SITE}|{100 + i % 37}", f"Learner {i % 37}")
    statement["verb"] = {"id": verb, "display": {"en": verb.rsplit("/", 1)[-1]}}
    statement["object"]["id"] = f"{SITE}/mod/page/view.php?id={1 + i % 5}"
    statement.pop("result", None)
    if result is not None:
        statement["result"] = result
    statement["timestamp"] = (T0 + timedelta(minutes=i if minutes is None else minutes)).isoformat()
    return statement


def expected(statement: dict[str, Any], i: int) -> tuple[CompletionState, str, str]:
    state = VARIANTS[i % len(VARIANTS)][2]
    return state, MODULES[statement["object"]["id"]], f"account:{SITE}|{100 + i % 37}"


def viewed(i: int) -> dict[str, Any]:
    statement = logstore(i, tag="viewed")
    statement["verb"] = {"id": "http://id.tincanapi.com/verb/viewed", "display": {"en": "viewed"}}
    statement.pop("result", None)
    return statement


def completion_events(batches: Iterable[Batch]) -> list[Completion]:
    found = [e for b in batches for e in b.events]
    assert all(isinstance(e, Completion) for e in found)
    return cast(list[Completion], found)


def client(server: RalphServer, **kwargs: Any) -> LrsClient:
    kwargs.setdefault("auth", server.auth)
    return LrsClient(server.endpoint, **kwargs)


def recording_session(statuses: list[int]) -> requests.Session:
    session = requests.Session()
    session.hooks["response"].append(lambda r, *args, **kwargs: statuses.append(r.status_code))
    return session


def stored_ids(lrs: LrsClient) -> list[str]:
    return [s.id for page in lrs.statements() for s in page.statements]


def test_250_completions_come_back_once_each_across_pages(ralph_lrs: RalphServer) -> None:
    statuses: list[int] = []
    lrs = client(ralph_lrs, session=recording_session(statuses))
    completions = [logstore(i) for i in range(250)]
    noise = [viewed(i) for i in range(10)]

    ids = lrs.send_statements(completions + noise)

    assert ids == [s["id"] for s in completions + noise]
    assert statuses == [200, 200, 200]  # 260 statements, batches of 100
    source = XapiSource(lrs, MODULES)
    batches = list(source.pull({}, datetime.now(UTC)))

    assert [b.fetched for b in batches] == [100, 100, 60]  # Ralph caps pages at 100
    progress = [e for b in batches for e in b.events if not isinstance(e, Completion)]
    assert sorted(e.natural_key for e in progress) == sorted(s["id"] for s in noise)
    events = completion_events(
        [replace(b, events=[e for e in b.events if isinstance(e, Completion)]) for b in batches]
    )
    assert len(events) == 250
    assert {e.natural_key: (e.state, e.module, e.person.id) for e in events} == {
        s["id"]: expected(s, i) for i, s in enumerate(completions)
    }
    for batch in batches:
        # raw: each statement's text as Ralph sent it
        assert [json.loads(r)["id"] for r in batch.raw] == [e.natural_key for e in batch.events]
        assert batch.errors == ()
    assert batches[-1].cursor == (T0 + timedelta(minutes=249)).isoformat()
    assert source.counts["progress"] == 10  # "viewed" is progress (test_progress_xapi.py)


def test_sending_the_same_statements_again_stores_nothing_new(ralph_lrs: RalphServer) -> None:
    statuses: list[int] = []
    lrs = client(ralph_lrs, session=recording_session(statuses))
    statements = [logstore(i) for i in range(150)]
    first = lrs.send_statements(statements)
    statuses.clear()

    again = lrs.send_statements(statements)

    assert again == first
    assert statuses == [204, 204]  # Ralph: every statement of the batch already stored
    assert sorted(stored_ids(lrs)) == sorted(first)


def test_a_changed_statement_under_an_existing_id_is_a_conflict(ralph_lrs: RalphServer) -> None:
    lrs = client(ralph_lrs)
    original = [logstore(i) for i in range(3)]
    lrs.send_statements(original)
    changed = copy.deepcopy(original[1])
    changed["result"] = {"completion": True, "success": False}
    new = [logstore(i, tag="new") for i in range(2)]

    with pytest.raises(StatementConflict) as caught:
        lrs.send_statements([new[0], changed, new[1]])

    assert caught.value.conflicts == (changed["id"],)
    assert caught.value.accepted == (new[0]["id"], new[1]["id"])
    assert sorted(stored_ids(lrs)) == sorted(s["id"] for s in original + new)
    assert lrs.get_statement(changed["id"])["result"] == original[1]["result"]  # type: ignore[index]


def test_a_cursor_returns_only_newer_statements(ralph_lrs: RalphServer) -> None:
    lrs = client(ralph_lrs)
    older = [logstore(i) for i in range(50)]  # T0 + 0..49 min
    lrs.send_statements(older)
    (batch,) = XapiSource(lrs, MODULES).pull({}, datetime.now(UTC))
    cursor = batch.cursor
    assert cursor == (T0 + timedelta(minutes=49)).isoformat()
    newer = [logstore(i, minutes=60 + i, tag="newer") for i in range(10)]
    lrs.send_statements(newer)

    def keys(lag: timedelta) -> set[str]:
        source = XapiSource(lrs, MODULES, lag=lag)
        batches = source.pull({"statements": cursor}, datetime.now(UTC))
        return {e.natural_key for b in batches for e in b.events}

    # Ralph's `since` compares `timestamp`, exclusive: the 5-minute overlap is 45..49.
    assert keys(timedelta(minutes=5)) == {s["id"] for s in older[45:] + newer}
    assert keys(timedelta(0)) == {s["id"] for s in newer}


def test_voiding_a_completion_from_an_earlier_pull(ralph_lrs: RalphServer) -> None:
    lrs = client(ralph_lrs)
    completion = logstore(0)
    lrs.send_statements([completion])
    (batch,) = XapiSource(lrs, MODULES).pull({}, datetime.now(UTC))
    admin = agent("mbox:mailto:admin@example.org")
    voiding = voiding_statement(
        admin, target_id=completion["id"], at=T0 + timedelta(hours=1), natural_key="void:0"
    )
    lrs.send_statements([voiding])

    source = XapiSource(lrs, MODULES, lag=timedelta(0))
    (later,) = source.pull({"statements": batch.cursor}, datetime.now(UTC))

    (event,) = completion_events([later])
    assert (event.natural_key, event.state, event.module, event.person.id) == (
        voiding["id"],
        CompletionState.INCOMPLETE,
        "module-1",
        f"account:{SITE}|100",
    )


def test_voiding_in_the_same_page_as_the_completion(ralph_lrs: RalphServer) -> None:
    lrs = client(ralph_lrs)
    completion = logstore(0)
    admin = agent("mbox:mailto:admin@example.org")
    voiding = voiding_statement(
        admin, target_id=completion["id"], at=T0 + timedelta(hours=1), natural_key="void:0"
    )
    lrs.send_statements([completion, voiding])

    (batch,) = XapiSource(lrs, MODULES).pull({}, datetime.now(UTC))

    assert [(e.natural_key, e.state) for e in completion_events([batch])] == [
        (completion["id"], CompletionState.COMPLETE),
        (voiding["id"], CompletionState.INCOMPLETE),
    ]


def test_the_statements_skillrelay_sends_are_accepted_and_idempotent(
    ralph_lrs: RalphServer,
) -> None:
    ana = agent("mbox:mailto:ana@example.org", "Ana")
    at = datetime.now(UTC) - timedelta(minutes=1)
    statements = [
        applied_statement(
            ana,
            skill_id="sql-indexing",
            skill_name="SQL indexing",
            ticket_url="https://acme.atlassian.net/browse/ABC-1",
            ticket_key="ABC-1",
            module_iri=f"{SITE}/mod/page/view.php?id=1",
            at=at,
            natural_key="applied:ana:sql-indexing:ABC-1",
        ),
        earned_statement(
            ana,
            reward_id="sql-champion",
            reward_name="SQL champion",
            kind="points",
            points=50,
            state="granted",
            at=at,
            natural_key="earned:ana:sql-champion:ABC-1",
            skill_id="sql-indexing",
        ),
    ]
    statuses: list[int] = []
    lrs = client(ralph_lrs, session=recording_session(statuses))
    ids = lrs.send_statements(statements)
    rebuilt = [copy.deepcopy(s) for s in statements]
    assert lrs.send_statements(rebuilt) == ids
    assert statuses == [200, 204]
    stored = lrs.get_statement(ids[0])
    assert stored is not None and stored["verb"] == statements[0]["verb"]


def test_a_wrong_password_is_an_auth_error(ralph_lrs: RalphServer) -> None:
    lrs = client(ralph_lrs, auth=(ralph_lrs.username, "not-the-password"))
    with pytest.raises(AuthError) as caught:
        list(lrs.statements())
    assert caught.value.status == 401
    with pytest.raises(AuthError):
        lrs.send_statements([logstore(0)])


def test_an_lrs_that_goes_down_and_comes_back(tmp_path: Path) -> None:
    server = start_ralph(tmp_path / "ralph")
    try:
        sleeps: list[float] = []
        lrs = client(server, sleep=sleeps.append, policy=RetryPolicy(attempts=2))
        lrs.send_statements([logstore(0)])
        server.stop()
        with pytest.raises(RetriableError, match="connection failed"):
            lrs.send_statements([logstore(1)])
        assert len(sleeps) == 1
        server.start()
        lrs.send_statements([logstore(1)])
        assert sorted(stored_ids(lrs)) == sorted([logstore(0)["id"], logstore(1)["id"]])
    finally:
        server.stop()


def test_a_missing_ralph_venv_says_run_make_peers(tmp_path: Path) -> None:
    with pytest.raises(RalphMissing, match="run `make peers`"):
        start_ralph(tmp_path / "data", venv=tmp_path / "no-venv")
