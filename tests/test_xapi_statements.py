"""Statement ids, the statements skillrelay sends, and actor keys both ways."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from connectors.xapi import (
    STATEMENT_NAMESPACE,
    VERB_EARNED,
    VERB_PERFORMED,
    Actor,
    Statement,
    actor_key,
    agent,
    agent_for,
    applied_statement,
    earned_statement,
    person_ref,
    statement_id,
    voiding_statement,
)
from connectors.xapi_statements import same_statement
from plugin.domain import PersonRef

AT = datetime(2024, 5, 3, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
ANA = agent("account:https://moodle.example.org|17", "Ana Learner")


def test_statement_ids_are_uuid5_under_the_fixed_namespace() -> None:
    # Known answer: if this changes, every resend after an upgrade is a new statement.
    assert str(STATEMENT_NAMESPACE) == "04343376-659f-559c-9966-ca0c236a2b25"
    assert statement_id("applied:ana:sql-indexing:ABC-1") == "179a6189-4b05-55c7-b7ae-796af0b8c057"
    parsed = uuid.UUID(statement_id("x"))
    assert parsed.version == 5
    assert statement_id("x") == statement_id("x") != statement_id("y")
    with pytest.raises(ValueError, match="natural key"):
        statement_id("")


def test_applied_statement() -> None:
    statement = applied_statement(
        ANA,
        skill_id="sql indexing/btree",
        skill_name="SQL indexing",
        ticket_url="https://acme.atlassian.net/browse/ABC-1",
        ticket_key="ABC-1",
        module_iri="https://moodle.example.org/mod/page/view.php?id=42",
        at=AT,
        natural_key="applied:1",
    )
    assert statement == {
        "id": statement_id("applied:1"),
        "actor": {
            "objectType": "Agent",
            "name": "Ana Learner",
            "account": {"homePage": "https://moodle.example.org", "name": "17"},
        },
        "verb": {"id": VERB_PERFORMED, "display": {"en-US": "performed"}},
        "object": {
            "objectType": "Activity",
            "id": "https://skillrelay.example/skills/sql%20indexing%2Fbtree",
            "definition": {"name": {"en-US": "SQL indexing"}},
        },
        "context": {
            "platform": "skillrelay",
            "contextActivities": {
                "other": [
                    {
                        "objectType": "Activity",
                        "id": "https://acme.atlassian.net/browse/ABC-1",
                        "definition": {"name": {"en-US": "ABC-1"}},
                    }
                ],
                "grouping": [
                    {
                        "objectType": "Activity",
                        "id": "https://moodle.example.org/mod/page/view.php?id=42",
                    }
                ],
            },
        },
        "timestamp": "2024-05-03T12:30:15.123Z",
    }


def test_applied_statement_with_another_base_and_no_module() -> None:
    statement = applied_statement(
        ANA,
        skill_id="k8s",
        skill_name="Kubernetes",
        ticket_url="https://jira.acme.org/browse/OPS-7",
        ticket_key="OPS-7",
        module_iri=None,
        at=AT,
        natural_key="applied:2",
        base="https://learning.acme.org/skillrelay",
    )
    assert statement["object"]["id"] == "https://learning.acme.org/skillrelay/skills/k8s"
    assert "grouping" not in statement["context"]["contextActivities"]


@pytest.mark.parametrize("points", [50, 12.5, None], ids=["int", "float", "none"])
def test_earned_statement(points: float | None) -> None:
    statement = earned_statement(
        ANA,
        reward_id="sql-champion",
        reward_name="SQL champion",
        kind="points",
        points=points,
        state="granted",
        at=AT,
        natural_key="earned:1",
        skill_id="sql-indexing",
        ticket_url="https://acme.atlassian.net/browse/ABC-1",
    )
    assert statement["id"] == statement_id("earned:1")
    assert statement["verb"] == {"id": VERB_EARNED, "display": {"en-US": "earned"}}
    assert statement["object"]["id"] == "https://skillrelay.example/rewards/sql-champion"
    extension = "https://skillrelay.example/xapi/extensions/reward"
    assert statement["result"]["extensions"] == {extension: {"kind": "points", "state": "granted"}}
    assert statement["result"].get("score") == (None if points is None else {"raw": points})
    activities = statement["context"]["contextActivities"]
    assert activities["grouping"][0]["id"] == "https://skillrelay.example/skills/sql-indexing"
    assert activities["other"][0]["id"] == "https://acme.atlassian.net/browse/ABC-1"


def test_voiding_statement() -> None:
    statement = voiding_statement(ANA, target_id="abc", at=AT, natural_key="revoke:1")
    assert statement["object"] == {"objectType": "StatementRef", "id": "abc"}
    assert statement["verb"]["id"] == "http://adlnet.gov/expapi/verbs/voided"


def test_the_statements_we_send_read_back_with_our_own_model() -> None:
    statement = Statement.model_validate(
        applied_statement(
            ANA,
            skill_id="s",
            skill_name="S",
            ticket_url="https://j/browse/A-1",
            ticket_key="A-1",
            module_iri="https://m/1",
            at=AT,
            natural_key="k",
        )
    )
    assert statement.timestamp == AT.astimezone(UTC).replace(microsecond=123000)
    assert statement.context and statement.context.context_activities
    assert [a.id for a in statement.context.context_activities.grouping] == ["https://m/1"]


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        voiding_statement(ANA, target_id="a", at=datetime(2024, 1, 1), natural_key="k")


# -- the same statement, as an LRS stores it ------------------------------------------------

SENT = earned_statement(
    ANA,
    reward_id="sql-champion",
    reward_name="SQL champion",
    kind="points",
    points=50,
    state="granted",
    at=AT,
    natural_key="earned:1",
)
STORED = {  # what an LRS adds, and the timestamp in another notation
    **SENT,
    "timestamp": "2024-05-03T14:30:15.123+02:00",
    "stored": "2024-05-03T12:31:00.000Z",
    "authority": {"objectType": "Agent", "mbox": "mailto:lrs@example.org"},
    "version": "1.0.3",
}


def test_the_lrs_copy_of_our_statement_is_the_same_statement() -> None:
    assert SENT["timestamp"] == "2024-05-03T12:30:15.123Z"
    assert same_statement(STORED, SENT)
    assert same_statement(SENT, SENT)
    assert same_statement({**STORED, "result": {**SENT["result"], "score": {"raw": 50.0}}}, SENT)
    undated = {k: v for k, v in SENT.items() if k != "timestamp"}
    assert same_statement(STORED, undated)  # the LRS stamped a statement sent without one


@pytest.mark.parametrize(
    "change",
    [
        {"result": {"score": {"raw": 1}}},
        {"timestamp": "2024-05-03T12:30:15.124Z"},
        {"timestamp": "2024-05-03T12:30:15.123"},  # no offset: not known to be the same
        {"context": {"platform": "someone else"}},
        {"verb": {"id": VERB_PERFORMED, "display": {"en-US": "performed"}}},
        {"attachments": []},
    ],
    ids=["result", "instant", "naive", "context", "verb", "added-field"],
)
def test_a_different_statement_under_our_id_is_not_the_same(change: dict[str, object]) -> None:
    assert not same_statement({**STORED, **change}, SENT)


# -- actor keys -----------------------------------------------------------------------------

ACTORS = [
    ({"mbox": "mailto:ana@example.org"}, "mbox:mailto:ana@example.org", "ana@example.org"),
    ({"mbox_sha1sum": "0A5715ADBC"}, "mbox_sha1sum:0a5715adbc", None),
    ({"openid": "https://id.example.org/ana"}, "openid:https://id.example.org/ana", None),
    (
        {"account": {"homePage": "https://moodle.example.org", "name": "17"}},
        "account:https://moodle.example.org|17",
        None,
    ),
    ({"objectType": "Group", "member": []}, None, None),
]


@pytest.mark.parametrize(
    ("payload", "key", "email"), ACTORS, ids=["mbox", "sha1", "openid", "account", "anonymous"]
)
def test_actor_keys(payload: dict[str, object], key: str | None, email: str | None) -> None:
    actor = Actor.model_validate(payload)
    assert actor_key(actor) == key
    person = person_ref(actor)
    if key is None:
        assert person is None
    else:
        assert person is not None
        assert (person.system, person.id, person.email) == ("xapi", key, email)


@pytest.mark.parametrize(
    "key",
    [
        "mbox:mailto:ana@example.org",
        "mbox_sha1sum:0a5715adbca1b3525e5194f98b1860861e4a76da",
        "openid:https://id.example.org/ana",
        "account:https://moodle.example.org|17",
        "account:https://moodle.example.org|name|with|bars",
    ],
)
def test_agent_is_the_inverse_of_actor_key(key: str) -> None:
    assert actor_key(Actor.model_validate(agent(key))) == key


@pytest.mark.parametrize(
    "key", ["ana@example.org", "twitter:@ana", "account:https://m.example.org", "mbox:"]
)
def test_agent_refuses_what_is_not_an_actor_key(key: str) -> None:
    with pytest.raises(ValueError) as caught:
        agent(key)
    assert "ana@example.org" not in str(caught.value)


def test_agent_for_a_person_from_another_system_uses_the_email() -> None:
    jira = PersonRef(system="jira", id="5b10ac8d82e05b22cc7d4ef5", email="ana@example.org")
    assert agent_for(jira) == {"objectType": "Agent", "mbox": "mailto:ana@example.org"}
    xapi = PersonRef(system="xapi", id="openid:https://id.example.org/ana", display_name="Ana")
    assert agent_for(xapi) == {
        "objectType": "Agent",
        "name": "Ana",
        "openid": "https://id.example.org/ana",
    }
    with pytest.raises(ValueError, match="e-mail"):
        agent_for(PersonRef(system="moodle", id="17"))
