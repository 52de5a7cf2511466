"""An award revoked and restored, cycle after cycle, as a real Ralph LRS sees it.

The LRS agrees with the ledger when, after every step, the "earned" statement of the
award's current cycle is live (stored, not voided) exactly while the reward stands, and the
"earned" statements of earlier cycles are voided. The changes are built by hand, cycle by
cycle, and their planned LRS effects are sent through `LrsSender`, as the outbox does.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Literal

import pytest

from connectors.delivery import DELIVERY_POLICY, LrsSender
from connectors.xapi import VERB_VOIDED, LrsClient, Statement
from plugin.effects import AwardChange, ChangeEvent, Effect, earned_statement_id
from plugin.store import Award, AwardState
from tests.peers.ralph import RalphServer
from tests.test_effects_support import DONE_AT, change, flags_award, make_award, plan

pytestmark = pytest.mark.ralph

Seen = Literal["live", "voided", "absent"]


def client(server: RalphServer) -> LrsClient:
    return LrsClient(server.endpoint, auth=server.auth, policy=DELIVERY_POLICY)


def lrs_effects(ch: AwardChange) -> list[Effect]:
    return [e for e in plan(ch) if e.target == "lrs"]


def deliver(lrs: LrsClient, planned: AwardChange | list[Effect]) -> list[Effect]:
    """Send the LRS effects of a change, one at a time, as the outbox would."""
    effects = lrs_effects(planned) if isinstance(planned, AwardChange) else planned
    for effect in effects:
        LrsSender(lrs).send(effect)
    return effects


def seen_all(lrs: LrsClient) -> list[Statement]:
    return [s for page in lrs.statements() for s in page.statements]


def seen(lrs: LrsClient, statement_ids: list[str]) -> list[Seen]:
    """What the LRS holds under each id: live, voided (a voiding statement targets it) or
    absent. Ralph keeps voided statements readable, so voiding is read as xAPI defines it."""
    stored = seen_all(lrs)
    voided = {s.object.id for s in stored if s.verb.id == VERB_VOIDED}
    ids = {s.id for s in stored}
    return [
        ("voided" if sid in voided else "live") if sid in ids else "absent" for sid in statement_ids
    ]


def earned_id(effects: list[Effect]) -> str:
    [earned] = [e for e in effects if e.action == "earned"]
    sid: str = earned.payload["statement"]["id"]
    return sid


def test_a_restored_award_has_a_live_earned_statement(ralph_lrs: RalphServer) -> None:
    lrs = client(ralph_lrs)
    award = flags_award()
    first = deliver(lrs, change(award, "awarded", at=DONE_AT))
    deliver(lrs, change(award, "revoked", previous="approved", at=DONE_AT + timedelta(days=1)))
    restored = deliver(lrs, change(award, "awarded", at=DONE_AT + timedelta(days=2), cycle=1))

    assert seen(lrs, [earned_id(first), earned_id(restored)]) == ["voided", "live"]


def test_a_second_revocation_is_delivered(ralph_lrs: RalphServer) -> None:
    lrs = client(ralph_lrs)
    award = flags_award()
    deliver(lrs, change(award, "awarded", at=DONE_AT))
    deliver(lrs, change(award, "revoked", previous="approved", at=DONE_AT + timedelta(days=1)))
    restored = deliver(lrs, change(award, "awarded", at=DONE_AT + timedelta(days=2), cycle=1))

    again = change(award, "revoked", previous="approved", at=DONE_AT + timedelta(days=3), cycle=1)
    deliver(lrs, again)  # was HTTP 409: the first voiding statement's id, a new timestamp

    assert seen(lrs, [earned_id(restored)]) == ["voided"]


Step = tuple[ChangeEvent, int, AwardState | None, list[Seen]]
GRANTED = ("approved", "fulfilled", "revocation_flagged")  # the reward stands

# (event, cycle, the state the award left, then each cycle's "earned": 0, 1, ...)
NO_APPROVAL: list[Step] = [
    ("awarded", 0, None, ["live"]),
    ("revoked", 0, "approved", ["voided"]),
    ("awarded", 1, "revoked", ["voided", "live"]),
    ("revoked", 1, "approved", ["voided", "voided"]),
    ("awarded", 2, "revoked", ["voided", "voided", "live"]),
]
WITH_APPROVAL: list[Step] = [
    ("awarded", 0, None, ["absent"]),  # waiting for a manager: nothing earned yet
    ("approved", 0, "pending_approval", ["live"]),
    ("fulfilled", 0, "approved", ["live"]),
    ("revocation_flagged", 0, "fulfilled", ["live"]),  # handed out: a manager decides
    ("revoked", 0, "revocation_flagged", ["voided"]),
    ("awarded", 1, "revoked", ["voided", "absent"]),
    ("approved", 1, "pending_approval", ["voided", "live"]),
    ("revoked", 1, "approved", ["voided", "voided"]),
    ("awarded", 2, "revoked", ["voided", "voided", "absent"]),
    ("approved", 2, "pending_approval", ["voided", "voided", "live"]),
    ("revoked", 2, "approved", ["voided", "voided", "voided"]),
]


@pytest.mark.parametrize(
    ("award", "steps"),
    [(flags_award(), NO_APPROVAL), (make_award(), WITH_APPROVAL)],
    ids=["no-approval", "approval"],
)
def test_earned_is_live_exactly_while_the_award_is(
    ralph_lrs: RalphServer, award: Award, steps: list[Step]
) -> None:
    lrs = client(ralph_lrs)
    for day, (event, cycle, previous, expected) in enumerate(steps):
        ch = change(award, event, previous=previous, at=DONE_AT + timedelta(days=day), cycle=cycle)
        assert (expected[-1] == "live") == (ch.award.state in GRANTED)  # the ledger's view
        sent = deliver(lrs, ch)
        count = len(seen_all(lrs))
        replanned = lrs_effects(ch)
        assert json.dumps([e.payload for e in replanned]) == json.dumps([e.payload for e in sent])
        deliver(lrs, replanned)  # a retry is byte-identical: the LRS keeps one copy
        assert len(seen_all(lrs)) == count

        ids = [earned_statement_id(award, c) for c in range(cycle + 1)]
        assert seen(lrs, ids) == expected, f"after {event} (cycle {cycle})"
