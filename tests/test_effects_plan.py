"""effects_for: which effects each award change causes, their keys, words and statements."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from connectors import jira_adf as adf
from connectors.delivery import render
from connectors.xapi import VERB_EARNED, VERB_PERFORMED, VERB_VOIDED, statement_id
from plugin.effects import AwardChange, ChangeEvent, Effect, earned_statement_id
from plugin.manifest import load_manifest
from plugin.settings import EXAMPLE_MANIFEST
from plugin.store import AwardState
from tests.test_effects_support import (
    DONE_AT,
    JIRA_BASE,
    MOODLE,
    PLAN_MODULE,
    change,
    flags_award,
    make_award,
    plan,
)

C, L, U = "jira:comment", "jira:label", "jira:unlabel"
APPLIED, EARNED, VOIDED = "lrs:applied", "lrs:earned", "lrs:voided"

# (reward, event, state the award left) -> the effects, in delivery order.
TABLE: list[tuple[str, ChangeEvent, AwardState | None, list[str]]] = [
    ("approval", "awarded", None, [C, L, APPLIED]),
    ("approval", "approved", "pending_approval", [C, EARNED]),
    ("approval", "rejected", "pending_approval", [C]),
    ("approval", "fulfilled", "approved", [C, EARNED]),
    ("approval", "revoked", "pending_approval", [C, U]),
    ("approval", "revoked", "approved", [C, U, VOIDED]),
    ("approval", "revoked", None, [C, U, VOIDED]),  # unknown: void to be safe
    ("approval", "revocation_flagged", "fulfilled", [C]),
    ("no approval", "awarded", None, [C, L, APPLIED, EARNED]),
    ("no approval", "fulfilled", "approved", [C, EARNED]),
    ("no approval", "revoked", "approved", [C, U, VOIDED]),
    ("no approval", "revoked", "revocation_flagged", [C, U, VOIDED]),
    ("no approval", "revocation_flagged", "fulfilled", [C]),
]


def kinds(effects: list[Effect]) -> list[str]:
    return [f"{e.target}:{e.action}" for e in effects]


def text_of(effect: Effect) -> str:
    return adf.to_plain_text(adf.doc(*effect.payload["blocks"]))


@pytest.mark.parametrize(
    ("reward", "event", "previous", "expected"),
    TABLE,
    ids=[f"{r}-{e}-from-{p}" for r, e, p, _ in TABLE],
)
def test_effects_per_event(
    reward: str, event: ChangeEvent, previous: AwardState | None, expected: list[str]
) -> None:
    award = make_award() if reward == "approval" else flags_award()
    effects = plan(change(award, event, previous=previous))
    assert kinds(effects) == expected
    assert [e.idempotency_key for e in effects] == [f"{award.id}:{event}:{k}" for k in expected]
    assert all(e.payload for e in effects)
    comment = effects[0]
    assert comment.payload["issue"] == award.ticket_key
    assert text_of(comment).endswith(f"skillrelay ref {award.id}:{event}:jira:comment")


def test_first_comment_says_who_what_where_and_the_reward(tmp_path: Path) -> None:
    # Ben's team gets a second manager, so the approval line names two people.
    text = EXAMPLE_MANIFEST.read_text().replace(
        "managers: [amara.okafor]", "managers: [amara.okafor, lena.fischer]"
    )
    (tmp_path / "m.yaml").write_text(text)
    manifest = load_manifest(tmp_path / "m.yaml")
    [comment, *_] = plan(change(make_award(), "awarded"), manifest)
    assert text_of(comment) == (
        "Ben Carter applied SQL indexing here, 2 days after completing "
        "'Reading a query plan'.\n"
        "The ticket shows the skill by label skill-sql-indexing, component Ledger DB.\n"
        "Reward: One paid learning hour (20 points) — waiting for a manager's approval "
        "(Amara Okafor, Lena Fischer).\n"
        "skillrelay ref 17:awarded:jira:comment"
    )


def test_first_comment_for_a_reward_without_approval() -> None:
    [comment, *_] = plan(change(flags_award(), "awarded"))
    assert text_of(comment).splitlines()[0] == (
        "Ben Carter applied Feature flags here, the same day they completed "
        "'Flag lifecycle and clean-up'."
    )
    # The ledger's word for the state, not a synonym.
    assert "Reward: 50 skill points (50 points) — approved." in text_of(comment)


UPDATES = [
    ("approved", "amara.okafor", None, "Amara Okafor approved One paid learning hour"),
    ("rejected", "amara.okafor", "Not this sprint", "Amara Okafor did not approve"),
    ("fulfilled", "amara.okafor", None, "One paid learning hour (20 points) was handed out"),
    ("revoked", "engine", None, "was revoked because the ticket was reopened."),
    ("revoked", "amara.okafor", None, "was revoked by Amara Okafor."),
    ("revocation_flagged", "engine", None, "This ticket was reopened after Ben Carter received"),
]


@pytest.mark.parametrize(("event", "actor", "note", "words"), UPDATES, ids=lambda v: str(v))
def test_update_comments(event: ChangeEvent, actor: str, note: str | None, words: str) -> None:
    [comment, *_] = plan(change(make_award(), event, actor=actor, note=note))
    text = text_of(comment)
    assert text.startswith("Reward update: ")
    assert words in text
    if note:
        assert f"Note: {note}" in text
    assert len(text.splitlines()) == (3 if note else 2)


def test_comment_degrades_without_evidence() -> None:
    award = make_award(evidence=None, state="approved")
    effects = plan(change(award, "awarded"))
    assert text_of(effects[0]).splitlines()[:2] == [
        "Ben Carter applied SQL indexing here.",
        "Reward: One paid learning hour (20 points) — approved.",
    ]
    applied = effects[2].payload["statement"]
    assert applied["context"]["contextActivities"] == {
        "other": [
            {
                "objectType": "Activity",
                "id": f"{JIRA_BASE}/browse/PAY-101",
                "definition": {"name": {"en-US": "PAY-101"}},
            }
        ]
    }


def test_someone_the_lrs_cannot_name_gets_jira_effects_only() -> None:
    award = make_award(person="former.employee", evidence={"ticket": {"key": "PAY-101"}})
    effects = plan(change(award, "awarded"))
    assert kinds(effects) == [C, L]
    assert text_of(effects[0]).startswith("former.employee applied SQL indexing here.")


def test_label_is_the_skill_id_without_spaces() -> None:
    label = plan(change(make_award(), "awarded"))[1]
    assert label.payload == {"issue": "PAY-101", "label": "skill-applied:sql-indexing"}


def test_applied_statement_shape() -> None:
    effects = plan(change(make_award(), "awarded"))
    statement = effects[2].payload["statement"]
    assert statement["verb"]["id"] == VERB_PERFORMED
    assert statement["actor"] == {
        "objectType": "Agent",
        "name": "Ben Carter",
        "account": {"homePage": MOODLE, "name": "102"},
    }
    assert statement["object"]["id"] == "https://skillrelay.example/skills/sql-indexing"
    context = statement["context"]["contextActivities"]
    assert context["other"][0]["id"] == f"{JIRA_BASE}/browse/PAY-101"
    assert context["grouping"] == [{"objectType": "Activity", "id": PLAN_MODULE}]
    assert statement["timestamp"] == "2026-11-05T15:00:00.000Z"
    assert statement["id"] == statement_id(
        "skillrelay:award:ben.carter:sql-indexing:PAY-101:applied"
    )


def test_statement_ids_are_deterministic_and_earned_is_one_statement() -> None:
    award = make_award()
    first = plan(change(award, "awarded"))
    again = plan(change(award, "awarded", at=DONE_AT + timedelta(days=9)))
    assert first == again  # the same award and event plan the same effects, byte for byte
    approved = plan(change(award, "approved", actor="amara.okafor"))[1].payload["statement"]
    fulfilled = plan(change(award, "fulfilled", actor="amara.okafor"))[1].payload["statement"]
    assert approved == fulfilled  # a resend is the same statement: the LRS answers 204
    assert approved["verb"]["id"] == VERB_EARNED
    assert approved["id"] == earned_statement_id(award)
    assert approved["result"]["score"] == {"raw": 20}
    extension = approved["result"]["extensions"][
        "https://skillrelay.example/xapi/extensions/reward"
    ]
    assert extension == {"kind": "paid_hour", "state": "granted"}
    # A different award (another database id, same ledger key) keeps the same statement ids.
    assert plan(change(replace(award, id=99), "approved"))[1].payload["statement"] == approved


def test_revoke_voids_the_earned_statement() -> None:
    award = flags_award()
    [_, _, void] = plan(change(award, "revoked", previous="approved"))
    statement = void.payload["statement"]
    assert statement["verb"]["id"] == VERB_VOIDED
    assert statement["object"] == {"objectType": "StatementRef", "id": earned_statement_id(award)}
    earned = plan(change(award, "awarded"))[3].payload["statement"]
    assert statement["object"]["id"] == earned["id"]


ACTORS = [
    ("lena.fischer", {"mbox": "mailto:lena@a11y-studio.example"}),
    ("ben.carter", {"account": {"homePage": MOODLE, "name": "102"}}),
]


@pytest.mark.parametrize(("person", "identity"), ACTORS, ids=["xapi_mbox", "logstore_account"])
def test_actor_from_the_manifest(person: str, identity: dict[str, object]) -> None:
    award = make_award(person=person, evidence={})
    statement = plan(change(award, "awarded"))[2].payload["statement"]
    assert {k: v for k, v in statement["actor"].items() if k not in ("objectType", "name")} == (
        identity
    )


def test_actor_from_evidence_then_mailto(tmp_path: Path) -> None:
    text = EXAMPLE_MANIFEST.read_text().replace("      moodle_user_id: 102\n", "")
    (tmp_path / "m.yaml").write_text(text)
    manifest = load_manifest(tmp_path / "m.yaml")
    evidence = {"completion": {"person": "xapi:mbox:mailto:ben@personal.example"}}
    with_key = plan(change(make_award(evidence=evidence), "awarded"), manifest)
    assert with_key[2].payload["statement"]["actor"]["mbox"] == "mailto:ben@personal.example"
    without = plan(change(make_award(evidence={}), "awarded"), manifest)
    assert without[2].payload["statement"]["actor"]["mbox"] == "mailto:ben.carter@northwind.example"


def test_data_center_comment_is_wiki_markup() -> None:
    [comment, *_] = plan(change(make_award(), "revocation_flagged"), deployment="datacenter")
    assert comment.payload["deployment"] == "datacenter"
    assert render(comment) == (
        "comment on PAY-101:\n"
        "*Reward update:* This ticket was reopened after Ben Carter received One paid learning "
        "hour (20 points); a manager will decide whether the reward stands.\n\n"
        "skillrelay ref 17:revocation\\_flagged:jira:comment"
    )


def test_bad_inputs_are_refused() -> None:
    award = make_award()
    with pytest.raises(ValueError, match="unknown award event"):
        AwardChange(award, "deleted", "engine", None, DONE_AT)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        AwardChange(award, "awarded", "engine", None, DONE_AT.replace(tzinfo=None))
    with pytest.raises(ValueError, match="deployment"):
        plan(change(award, "awarded"), deployment="server")  # type: ignore[arg-type]


# -- cycles: an award revoked and come back -------------------------------------------------


def lrs_statements(award_change: AwardChange) -> dict[str, dict[str, object]]:
    """The LRS statements a change plans, by action."""
    return {e.action: e.payload["statement"] for e in plan(award_change) if e.target == "lrs"}


def test_cycle_0_keeps_the_statement_ids_already_in_lrs_stores() -> None:
    # Known answers: statements sent before cycles existed must keep deduplicating.
    award = make_award(state="approved")
    made = lrs_statements(change(award, "awarded"))
    void = lrs_statements(change(award, "revoked", previous="approved"))["voided"]
    assert made["applied"]["id"] == "2bd78825-77ec-5c99-b065-9c045440f910"
    assert made["earned"]["id"] == "c6ed141e-c7a1-5870-b4d4-4f517d421240"
    assert void["id"] == "c84dec46-9102-55f7-94a1-d7a35d031150"
    assert earned_statement_id(award) == earned_statement_id(award, 0) == made["earned"]["id"]


def test_each_cycle_has_its_own_statement_ids() -> None:
    award = flags_award()
    ids: list[str] = []
    for cycle in range(3):
        made = lrs_statements(change(award, "awarded", cycle=cycle))
        void = lrs_statements(change(award, "revoked", previous="approved", cycle=cycle))
        ids += [made["applied"]["id"], made["earned"]["id"], void["voided"]["id"]]
        assert made["earned"]["id"] == earned_statement_id(award, cycle)
        assert void["voided"]["object"] == {  # a revocation voids its own cycle's reward
            "objectType": "StatementRef",
            "id": earned_statement_id(award, cycle),
        }
    assert len(set(ids)) == 9
    later = lrs_statements(change(award, "awarded", cycle=2))["earned"]
    assert later["id"] == statement_id("skillrelay:award:ben.carter:feature-flags:PAY-202:earned#2")


def test_a_second_revocation_is_a_new_voiding_statement() -> None:
    award = flags_award()
    first = change(award, "revoked", previous="approved", at=DONE_AT + timedelta(days=1))
    second = change(award, "revoked", previous="approved", at=DONE_AT + timedelta(days=5), cycle=1)
    [one, two] = [lrs_statements(c)["voided"] for c in (first, second)]
    assert one["id"] != two["id"]
    assert (one["timestamp"], two["timestamp"]) == (
        "2026-11-06T15:00:00.000Z",
        "2026-11-10T15:00:00.000Z",
    )


def test_effect_keys_are_per_cycle() -> None:
    award = flags_award()
    life: list[tuple[ChangeEvent, AwardState | None]] = [
        ("awarded", None),
        ("revoked", "approved"),
    ]
    keys = [
        e.idempotency_key
        for cycle in range(3)
        for event, previous in life
        for e in plan(change(award, event, previous=previous, cycle=cycle))
    ]
    assert len(keys) == len(set(keys))
    assert [k for k in keys if k.endswith(":lrs:earned")] == [
        "23:awarded:lrs:earned",
        "23:awarded#1:lrs:earned",
        "23:awarded#2:lrs:earned",
    ]
    assert [k for k in keys if k.endswith(":lrs:voided")] == [
        "23:revoked:lrs:voided",
        "23:revoked#1:lrs:voided",
        "23:revoked#2:lrs:voided",
    ]


def test_a_cycle_is_planned_the_same_whenever_it_is_planned() -> None:
    # Times come from the award (ticket done) and the change (revoked at), never the clock,
    # so planning a change again, or retrying its effect, sends the same bytes.
    award = flags_award()
    made = change(award, "awarded", at=DONE_AT + timedelta(days=3), cycle=1)
    revoked = change(award, "revoked", previous="approved", at=DONE_AT + timedelta(days=4))
    for one in (made, replace(revoked, cycle=1)):
        assert json.dumps([e.payload for e in plan(one)]) == json.dumps(
            [e.payload for e in plan(one)]
        )
    statements = lrs_statements(made)
    assert statements["applied"]["timestamp"] == "2026-11-05T15:00:00.000Z"  # ticket done
    assert statements["earned"]["timestamp"] == "2026-11-05T15:00:00.000Z"
    void = lrs_statements(replace(revoked, cycle=1))["voided"]
    assert void["timestamp"] == "2026-11-09T15:00:00.000Z"  # revoked at


def test_a_negative_cycle_is_refused() -> None:
    with pytest.raises(ValueError, match="cycle"):
        AwardChange(make_award(), "awarded", "engine", None, DONE_AT, cycle=-1)


def test_a_revocation_takes_the_label_off_unless_another_award_keeps_it() -> None:
    award = make_award(state="approved")
    revoked = change(award, "revoked", previous="approved")
    unlabel = plan(revoked)[1]
    assert unlabel.idempotency_key == "17:revoked:jira:unlabel"
    assert unlabel.payload == {
        "issue": "PAY-101",
        "label": "skill-applied:sql-indexing",
        "kept_for": [],
    }
    # Someone else's live award of the skill on this ticket still shows it: the label stays.
    kept = plan(replace(revoked, label_kept_by=(18, 31)))[1]
    assert kept.idempotency_key == unlabel.idempotency_key
    assert kept.payload["kept_for"] == [18, 31]
    assert render(unlabel) == "label PAY-101 -skill-applied:sql-indexing"
    assert render(kept) == "label PAY-101 kept skill-applied:sql-indexing (awards 18, 31)"


def test_only_a_revocation_touches_the_label_after_the_award() -> None:
    award = make_award(state="fulfilled")
    events: list[ChangeEvent] = ["approved", "rejected", "fulfilled", "revocation_flagged"]
    for event in events:
        assert U not in kinds(plan(change(award, event, previous="approved")))


def test_each_cycle_takes_the_label_off_and_puts_it_back_once() -> None:
    award = flags_award()
    life: list[tuple[ChangeEvent, AwardState | None]] = [("awarded", None), ("revoked", "approved")]
    keys = [
        e.idempotency_key
        for cycle in range(2)
        for event, previous in life
        for e in plan(change(award, event, previous=previous, cycle=cycle))
        if e.target == "jira" and e.action != "comment"
    ]
    assert keys == [
        "23:awarded:jira:label",
        "23:revoked:jira:unlabel",
        "23:awarded#1:jira:label",
        "23:revoked#1:jira:unlabel",
    ]
