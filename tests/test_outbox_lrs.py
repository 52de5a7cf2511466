"""LRS effects through the outbox against a real Ralph LRS: once, however often they are sent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from connectors.delivery import DELIVERY_POLICY, DryRunJiraSender, LrsSender
from connectors.xapi import VERB_EARNED, LrsClient, earned_statement
from plugin.effects import Effect, EffectSender, earned_statement_id
from plugin.outbox_worker import DeliveryStats, OutboxWorker
from plugin.store import Store
from tests.peers.ralph import RalphServer
from tests.test_effects_support import change, enqueue, flags_award, plan, store_award

pytestmark = pytest.mark.ralph

T0 = datetime.now(UTC).replace(microsecond=0)


class CountingSession(requests.Session):
    """A session that counts the statement POSTs it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.posts = 0

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if str(method).upper() == "POST":
            self.posts += 1
        return super().request(method, url, *args, **kwargs)


def client(server: RalphServer, session: requests.Session | None = None) -> LrsClient:
    return LrsClient(server.endpoint, auth=server.auth, policy=DELIVERY_POLICY, session=session)


def worker(store: Store, lrs: LrsClient) -> OutboxWorker:
    senders: dict[str, EffectSender] = {"jira": DryRunJiraSender(), "lrs": LrsSender(lrs)}
    return OutboxWorker(store, senders, worker_id="w1", backoff=lambda n: 60.0)


def statement_ids(lrs: LrsClient) -> list[str]:
    return [s.id for page in lrs.statements() for s in page.statements]


def conflict_reason(statement_id: str) -> str:
    return (
        f"xapi (HTTP 409): the LRS holds a different statement under id {statement_id}; "
        "this should never happen (each award cycle has statement ids of its own)"
    )


def lrs_effects(effects: list[Effect]) -> list[Effect]:
    return [e for e in effects if e.target == "lrs"]


def awarded_effects(store: Store, count: int) -> list[Effect]:
    """The effects of `count` awards (different tickets) being awarded."""
    effects: list[Effect] = []
    for n in range(count):
        award = store_award(store, replace(flags_award(), ticket_key=f"PAY-{300 + n}"))
        effects += plan(change(award, "awarded"))
    return effects


def test_statements_are_stored_once(store: Store, ralph_lrs: RalphServer) -> None:
    lrs = client(ralph_lrs)
    award = store_award(store, flags_award())
    awarded = plan(change(award, "awarded"))
    enqueue(store, awarded, T0)
    assert worker(store, lrs).run_once(T0) == DeliveryStats(claimed=4, done=4)
    applied, earned = (e.payload["statement"] for e in lrs_effects(awarded))
    for statement in (applied, earned):
        stored = lrs.get_statement(statement["id"])
        assert stored is not None and stored["verb"] == statement["verb"]

    # Sent again directly, and again as the "fulfilled" event's effect: 204, nothing new.
    LrsSender(lrs).send(lrs_effects(awarded)[1])
    fulfilled = plan(change(award, "fulfilled", actor="amara.okafor"))
    enqueue(store, fulfilled, T0)
    assert worker(store, lrs).run_once(T0).done == 2
    assert sorted(statement_ids(lrs)) == sorted([applied["id"], earned["id"]])
    verbs = [s.verb.id for page in lrs.statements() for s in page.statements]
    assert verbs.count(VERB_EARNED) == 1

    # Revoked: the "earned" statement is voided.
    revoked = plan(change(award, "revoked", previous="fulfilled"))
    enqueue(store, revoked, T0)
    assert worker(store, lrs).run_once(T0).done == 3  # comment, label off, voiding
    void = lrs_effects(revoked)[0].payload["statement"]
    stored_void = lrs.get_statement(void["id"])
    assert stored_void is not None
    assert stored_void["object"] == {"objectType": "StatementRef", "id": earned_statement_id(award)}


def test_different_content_under_our_id_is_a_dead_letter(
    store: Store, ralph_lrs: RalphServer
) -> None:
    lrs = client(ralph_lrs)
    award = store_award(store, flags_award())
    [_, earned] = lrs_effects(plan(change(award, "awarded")))
    squatter = dict(earned.payload["statement"], result={"score": {"raw": 1}})
    lrs.send_statements([squatter])
    enqueue(store, [earned], T0)
    assert worker(store, lrs).run_once(T0).dead == 1
    [item] = store.outbox.list()
    assert item.last_error == conflict_reason(earned.payload["statement"]["id"])
    assert "score" not in (item.last_error or "")  # the id, never the body


def test_our_statement_stored_in_another_notation_is_delivered(
    store: Store, ralph_lrs: RalphServer
) -> None:
    lrs = client(ralph_lrs)
    award = store_award(store, flags_award())
    [_, earned] = lrs_effects(plan(change(award, "awarded")))
    statement = earned.payload["statement"]
    # Stored before with the same instant written as +00:00: Ralph answers our copy 409.
    same_instant = statement["timestamp"].replace(".000Z", "+00:00")
    assert same_instant != statement["timestamp"]
    lrs.send_statements([dict(statement, timestamp=same_instant)])
    enqueue(store, [earned], T0)

    assert worker(store, lrs).run_once(T0) == DeliveryStats(claimed=1, done=1)
    assert statement_ids(lrs) == [statement["id"]]


def test_lrs_down_then_back_delivers_exactly_once(store: Store, ralph_lrs: RalphServer) -> None:
    server = ralph_lrs
    try:
        lrs = client(server)
        award = store_award(store, flags_award())
        enqueue(store, plan(change(award, "awarded")), T0)
        server.stop()

        stats = worker(store, lrs).run_once(T0)
        assert stats == DeliveryStats(claimed=4, done=2, retried=2)
        waiting = store.outbox.list(status="pending")
        assert [(i.target, i.action) for i in waiting] == [("lrs", "applied"), ("lrs", "earned")]
        assert all(i.last_error == "xapi: connection failed: ConnectionError" for i in waiting)
        assert all(i.attempts == 1 for i in waiting)
        assert all(i.next_attempt_at == T0 + timedelta(seconds=60) for i in waiting)
        assert worker(store, lrs).run_once(T0 + timedelta(seconds=59)).claimed == 0

        server.start()
        later = T0 + timedelta(seconds=60)
        assert worker(store, lrs).run_once(later) == DeliveryStats(claimed=2, done=2)
        assert store.outbox.backlog().pending == 0
        sent = lrs_effects(plan(change(award, "awarded")))
        assert sorted(statement_ids(lrs)) == sorted(e.payload["statement"]["id"] for e in sent)
    finally:
        if not server.running:
            server.start()


def test_a_batch_of_lrs_effects_is_one_post(store: Store, ralph_lrs: RalphServer) -> None:
    session = CountingSession()
    lrs = client(ralph_lrs, session)
    effects = awarded_effects(store, 5)
    sent = lrs_effects(effects)
    assert len(sent) == 10
    enqueue(store, effects, T0)
    assert worker(store, lrs).run_once(T0) == DeliveryStats(claimed=20, done=20)
    assert session.posts == 1
    assert sorted(statement_ids(lrs)) == sorted(e.payload["statement"]["id"] for e in sent)

    # Redelivered (a lease that lapsed, say): one POST again, 204, nothing new stored.
    assert LrsSender(lrs).send_many(sent) == [None] * len(sent)
    assert session.posts == 2
    assert len(statement_ids(lrs)) == len(sent)


def test_a_conflict_in_a_batch_dead_letters_only_its_effect(
    store: Store, ralph_lrs: RalphServer
) -> None:
    lrs = client(ralph_lrs)
    sent = lrs_effects(awarded_effects(store, 3))
    middle = sent[3]  # the second award's "earned"
    assert middle.action == "earned"
    squatter = dict(middle.payload["statement"], result={"score": {"raw": 1}})
    lrs.send_statements([squatter])
    enqueue(store, sent, T0)

    session = CountingSession()
    assert worker(store, client(ralph_lrs, session)).run_once(T0) == DeliveryStats(
        claimed=6, done=5, dead=1
    )
    [dead] = store.outbox.list(status="dead")
    assert dead.idempotency_key == middle.idempotency_key
    assert dead.last_error == conflict_reason(middle.payload["statement"]["id"])
    assert len(store.outbox.list(status="done")) == 5
    others = [e.payload["statement"]["id"] for e in sent if e is not middle]
    assert all(lrs.get_statement(sid) is not None for sid in others)
    assert session.posts > 1  # the 409 batch was split to find the conflict


def test_earned_statement_shape_is_accepted_as_sent(ralph_lrs: RalphServer) -> None:
    """The planner's statement and connectors.xapi's builder agree (Ralph validates it)."""
    lrs = client(ralph_lrs)
    statement = earned_statement(
        {"objectType": "Agent", "mbox": "mailto:x@example.org"},
        reward_id="r",
        reward_name="R",
        kind="badge",
        points=None,
        state="granted",
        at=T0,
        natural_key="outbox-test",
    )
    LrsSender(lrs).send(
        Effect("9:awarded:lrs:earned", "lrs", "earned", {"statements": [statement]})
    )
    assert statement_ids(lrs) == [statement["id"]]
