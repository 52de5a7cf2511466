"""The `skill-applied:<skill>` label follows the ledger: a revoked award takes it off the
ticket, unless another live award of the same skill stands on that ticket.

Awards are moved by the pipeline and by managers on a real store; their effects are then
delivered to a fake Jira issue behind the contract harness.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from connectors.delivery import JiraSender
from plugin.effects import Effect
from plugin.store import Store
from tests.jira_contract import JiraHarness
from tests.test_effects_support import FakeIssue, flags_award, store_award
from tests.test_pipeline_support import (
    FLAGS,
    T0,
    award_of,
    completion,
    drain,
    outbox,
    pipeline,
    put,
    reopen,
    ticket,
    worked,
)

pytest_plugins = ["tests.jira_contract"]

LABEL = "skill-applied:feature-flags"
DONE_AT = T0 + timedelta(days=1)
MANAGER = "amara.okafor"  # manages Ben and Chloe


def unlabels(store: Store) -> dict[str, list[int]]:
    """Queued label removals: idempotency key -> the awards that keep the label on."""
    return {
        i.idempotency_key: i.payload["kept_for"] for i in outbox(store) if i.action == "unlabel"
    }


def deliver(store: Store, harness: JiraHarness) -> None:
    jira = JiraSender(harness.client)
    for item in outbox(store):
        if item.target == "jira" and item.action != "comment":
            jira.send(Effect.from_item(item))


def two_people_on_one_ticket(store: Store) -> tuple[int, int]:
    """Ben and Chloe both hold a live feature-flags award on PAY-202."""
    ben = store_award(store, flags_award())
    chloe = store_award(store, replace(flags_award(), person_id="chloe.nguyen"))
    return ben.id, chloe.id


def test_the_label_stays_while_another_award_of_the_skill_stands(
    store: Store, jira_cloud: JiraHarness
) -> None:
    issue = FakeIssue(jira_cloud, "PAY-202")
    issue.labels.add(LABEL)
    ben, chloe = two_people_on_one_ticket(store)
    managers = pipeline(store)

    managers.revoke(ben, MANAGER)
    assert unlabels(store) == {f"{ben}:revoked:jira:unlabel": [chloe]}
    deliver(store, jira_cloud)
    assert issue.labels == {LABEL}  # Chloe's award still shows the skill here

    managers.revoke(chloe, MANAGER)
    assert unlabels(store)[f"{chloe}:revoked:jira:unlabel"] == []
    deliver(store, jira_cloud)
    assert issue.labels == set()
    assert issue.value[f"{chloe}:revoked:jira:unlabel"]["label_removed"] == LABEL


def test_the_engine_revoking_takes_the_label_off_and_a_return_puts_it_back(
    store: Store, jira_cloud: JiraHarness
) -> None:
    issue = FakeIssue(jira_cloud, "PAY-202")
    pay = ticket("PAY-202", "chloe.nguyen", FLAGS)
    put(store, [completion("chloe.nguyen", FLAGS), *worked(pay, DONE_AT)])
    drain(pipeline(store))
    deliver(store, jira_cloud)
    assert issue.labels == {LABEL}

    put(store, [reopen(pay, DONE_AT + timedelta(hours=5))])
    drain(pipeline(store))
    award = award_of(store, "chloe.nguyen", "PAY-202")
    assert award.state == "revoked"
    assert unlabels(store) == {f"{award.id}:revoked:jira:unlabel": []}
    deliver(store, jira_cloud)
    assert issue.labels == set()

    put(store, [*worked(pay, DONE_AT + timedelta(hours=9))])  # done again: it comes back
    drain(pipeline(store))
    assert award_of(store, "chloe.nguyen", "PAY-202").state == "approved"
    deliver(store, jira_cloud)
    assert issue.labels == {LABEL}
