"""An event that can never be stored or decided is quarantined with its reason; it never
blocks the events around it (#10)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from plugin.domain import PersonRef
from plugin.store import Store
from tests.test_pipeline_support import (
    T0,
    award_of,
    completion,
    drain,
    pipeline,
    put,
    ticket,
    worked,
)

DAY = T0 + timedelta(days=1)
POISON = {
    "surrogate in the key": {"key": "PAY-\ud800"},
    "surrogate in the assignee": {
        "assignee": PersonRef(system="jira", id="acc-\udfff", display_name="Eve")
    },
    "NUL in the summary": {"summary": "work\x00"},
}


@pytest.mark.parametrize("poison", sorted(POISON), ids=sorted(POISON))
def test_a_poison_event_is_quarantined_and_the_rest_decided(store: Store, poison: str) -> None:
    bad = ticket("PAY-9", "chloe.nguyen").model_copy(update=POISON[poison])
    poisoned = [
        t.model_copy(update={"ticket": bad}) for t in worked(ticket("PAY-9", "chloe.nguyen"), DAY)
    ]
    good = ticket("PAY-1", "ben.carter")
    events = [completion("ben.carter"), completion("chloe.nguyen")]
    events += poisoned + worked(good, DAY + timedelta(hours=1))
    put(store, events)
    a, b = pipeline(store, worker="a"), pipeline(store, worker="b")
    drain(a)
    drain(b)
    assert award_of(store, "ben.carter", "PAY-1").state == "pending_approval"
    counts = store.inbox.count_by_status()
    assert (counts["new"], counts["failed"]) == (0, 2), counts
    failed = [i for i in store.inbox.list(status="failed")]
    assert all("cannot be stored" in (i.error or "") for i in failed), [i.error for i in failed]


def test_the_reason_names_the_field(store: Store) -> None:
    bad = ticket("PAY-9", "chloe.nguyen").model_copy(update={"summary": "a\x00b"})
    put(store, [t.model_copy(update={"ticket": bad}) for t in worked(bad, DAY)])
    drain(pipeline(store))
    [first, *_] = store.inbox.list(status="failed")
    assert first.error == (
        "unreadable ticket payload: payload: Value error, ticket.summary: contains a NUL "
        "character; it cannot be stored"
    )
