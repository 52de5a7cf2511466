"""What a real Ralph 5.1.0 answers when a statement id it already holds is sent again.

Raw HTTP, so the answers themselves are pinned: the client and the senders rely on them.
- the same id with the same body: 204, POST or PUT, nothing stored twice;
- the same id with a different body: 409, "Differing statements already exist ...";
- the same statement with its timestamp written differently: 409 too (Ralph compares the
  timestamp as text); `LrsClient` fetches the stored one, sees the same statement: success;
- a statement whose id is voided, sent again: 204, and it stays voided; a voided id can
  never carry a live statement again, which is why each award cycle has ids of its own.
Ralph keeps voided statements readable by `statementId` and ignores `voidedStatementId`,
so these tests read voiding as xAPI defines it: a voiding statement targets the id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from connectors.xapi import (
    VERB_VOIDED,
    LrsClient,
    StatementConflict,
    agent,
    earned_statement,
    statement_id,
    voiding_statement,
)
from tests.peers.ralph import RalphServer

pytestmark = pytest.mark.ralph

ANA = agent("mbox:mailto:ana@example.org", "Ana")
AT = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)
EARNED = earned_statement(
    ANA,
    reward_id="points-50",
    reward_name="50 skill points",
    kind="points",
    points=50,
    state="granted",
    at=AT,
    natural_key="ralph-answers:earned",
)


class Ralph:
    """Raw POST and PUT of statements, answering (status, body text)."""

    def __init__(self, server: RalphServer) -> None:
        self.url = server.endpoint + "statements"
        self.auth = server.auth
        self.headers = {"X-Experience-API-Version": "1.0.3"}

    def post(self, *statements: dict[str, Any]) -> tuple[int, str]:
        r = requests.post(
            self.url, json=list(statements), auth=self.auth, headers=self.headers, timeout=10
        )
        return r.status_code, r.text

    def put(self, statement: dict[str, Any]) -> tuple[int, str]:
        r = requests.put(
            self.url,
            params={"statementId": statement["id"]},
            json=statement,
            auth=self.auth,
            headers=self.headers,
            timeout=10,
        )
        return r.status_code, r.text


def stored(server: RalphServer) -> list[tuple[str, str, str | None]]:
    """(id, verb, the id it voids) of every statement Ralph holds."""
    lrs = LrsClient(server.endpoint, auth=server.auth)
    return [
        (s.id, s.verb.id, s.object.id if s.verb.id == VERB_VOIDED else None)
        for page in lrs.statements()
        for s in page.statements
    ]


def test_the_same_id_with_the_same_body_is_204(ralph_lrs: RalphServer) -> None:
    ralph = Ralph(ralph_lrs)
    assert ralph.post(EARNED) == (200, f'["{EARNED["id"]}"]')
    assert ralph.post(EARNED) == (204, "")
    assert ralph.put(EARNED) == (204, "")
    assert stored(ralph_lrs) == [(EARNED["id"], EARNED["verb"]["id"], None)]


def test_the_same_id_with_a_different_body_is_409(ralph_lrs: RalphServer) -> None:
    ralph = Ralph(ralph_lrs)
    ralph.post(EARNED)
    different = {**EARNED, "result": {"score": {"raw": 1}}}

    status, text = ralph.post(different)
    assert (status, EARNED["id"] in text) == (409, True)
    assert "Differing statements already exist" in text
    assert ralph.put(different)[0] == 409

    with pytest.raises(StatementConflict) as caught:
        LrsClient(ralph_lrs.endpoint, auth=ralph_lrs.auth).send_statements([different])
    assert caught.value.conflicts == (EARNED["id"],)


def test_the_same_statement_with_its_timestamp_written_differently(
    ralph_lrs: RalphServer,
) -> None:
    ralph = Ralph(ralph_lrs)
    ralph.post({**EARNED, "timestamp": "2026-11-05T15:00:00+00:00"})  # the same instant

    assert ralph.post(EARNED)[0] == 409  # Ralph compares the text
    lrs = LrsClient(ralph_lrs.endpoint, auth=ralph_lrs.auth)
    assert lrs.send_statements([EARNED]) == [EARNED["id"]]  # fetched, the same: success
    assert len(stored(ralph_lrs)) == 1


def test_a_voided_statement_sent_again_is_204_and_stays_voided(ralph_lrs: RalphServer) -> None:
    ralph = Ralph(ralph_lrs)
    void = voiding_statement(ANA, target_id=EARNED["id"], at=AT, natural_key="ralph-answers:v")
    ralph.post(EARNED)
    assert ralph.post(void)[0] == 200

    assert ralph.post(EARNED) == (204, "")
    assert ralph.put(EARNED) == (204, "")
    assert sorted(stored(ralph_lrs)) == sorted(
        [(EARNED["id"], EARNED["verb"]["id"], None), (void["id"], VERB_VOIDED, EARNED["id"])]
    )
    # Ralph does not hide it (a conforming LRS answers statementId with 404 here).
    lrs = LrsClient(ralph_lrs.endpoint, auth=ralph_lrs.auth)
    found = lrs.get_statement(EARNED["id"])
    assert found is not None and found["verb"] == EARNED["verb"]


def test_the_same_voiding_id_at_a_new_time_is_409(ralph_lrs: RalphServer) -> None:
    # What a second revocation did when every cycle shared one voiding id.
    ralph = Ralph(ralph_lrs)
    ralph.post(EARNED)
    first = voiding_statement(ANA, target_id=EARNED["id"], at=AT, natural_key="ralph-answers:v")
    later = voiding_statement(
        ANA,
        target_id=EARNED["id"],
        at=datetime(2026, 12, 1, tzinfo=UTC),
        natural_key="ralph-answers:v",
    )
    assert first["id"] == later["id"]
    assert ralph.post(first)[0] == 200
    assert ralph.post(later)[0] == 409


def test_voiding_an_id_ralph_never_had_is_stored(ralph_lrs: RalphServer) -> None:
    # A revocation of unknown history voids "to be safe": harmless where nothing was earned.
    ralph = Ralph(ralph_lrs)
    missing = statement_id("ralph-answers:never-sent")
    void = voiding_statement(ANA, target_id=missing, at=AT, natural_key="ralph-answers:v2")
    assert ralph.post(void) == (200, f'["{void["id"]}"]')
    assert stored(ralph_lrs) == [(void["id"], VERB_VOIDED, missing)]
