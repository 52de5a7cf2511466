"""Identity resolution: overrides, Moodle's Logstore account, learned ids, e-mail, and
events held for an id nobody claims until a mapping appears."""

from __future__ import annotations

import pytest

from plugin.domain import PersonRef
from plugin.engine import Engine, IdentityResolver, Ref, Unresolved
from plugin.manifest.model import Manifest
from tests.test_engine_support import (
    MOODLE_URL,
    at,
    completion,
    make_manifest,
    manifest_data,
    move,
    ticket,
    worked,
)

LEARNED = {("xapi", "mbox_sha1sum:abc123"): "bob", ("jira", "acc-alice"): "bob"}

CASES = [
    ("jira", "acc-alice", None, "alice"),  # jira_account_id
    ("jira", "acc-unknown", None, None),
    ("moodle", "1", None, "alice"),  # moodle_user_id
    ("moodle", "99", None, None),
    ("xapi", f"account:{MOODLE_URL}|2", None, "bob"),  # Logstore's default actor
    ("xapi", f"account:{MOODLE_URL}/|2", None, "bob"),  # a trailing slash on homePage
    ("xapi", "account:https://other-lms.example|2", None, None),  # another Moodle
    ("xapi", "account:https://SSO.example|d42", None, "dave"),  # xapi_account
    ("xapi", "account:https://sso.example|D42", None, None),  # names are exact
    ("xapi", "mbox:mailto:carol@coach.example", None, "carol"),  # xapi_mbox
    ("xapi", "mbox:mailto:Carol@Coach.Example", None, "carol"),
    ("xapi", "mbox:mailto:dave@example.com", None, "dave"),  # the mbox is an e-mail
    ("xapi", "mbox_sha1sum:abc123", None, "bob"),  # learned
    ("xapi", "openid:https://id.example/x", None, None),
    ("jira", "acc-alice", "bob@example.com", "alice"),  # overrides beat learned and e-mail
    ("jira", "hidden-1", "BOB@Example.com", "bob"),  # e-mail, any case
    ("moodle", "77", "carol@example.com", "carol"),
]


@pytest.mark.parametrize(
    ("system", "ident", "email", "person"),
    CASES,
    ids=[f"{s}:{i}:{e or ''}" for s, i, e, _ in CASES],
)
def test_resolves_in_order_overrides_learned_email(
    system: str, ident: str, email: str | None, person: str | None
) -> None:
    resolver = IdentityResolver(make_manifest(), LEARNED)
    ref = PersonRef(system=system, id=ident, email=email)  # type: ignore[arg-type]
    assert resolver.resolve(ref) == person


def test_email_matching_can_be_switched_off() -> None:
    data = manifest_data()
    data["identities"]["match_by_email"] = False
    resolver = IdentityResolver(Manifest.model_validate(data))
    assert resolver.lookup("jira", "hidden-1", ["bob@example.com"]) is None
    assert resolver.lookup("xapi", "mbox:mailto:dave@example.com") is None
    assert resolver.lookup("moodle", "2") == "bob"


def test_logstore_account_needs_a_moodle_source() -> None:
    data = manifest_data()
    data["sources"] = [s for s in data["sources"] if s["type"] != "moodle"]
    resolver = IdentityResolver(Manifest.model_validate(data))
    assert resolver.lookup("xapi", f"account:{MOODLE_URL}|2") is None


def test_an_explicit_account_that_names_a_logstore_account_the_later_person_wins() -> None:
    data = manifest_data()
    people = data["identities"]["people"]  # alice is moodle user 1, bob user 2, dave last
    people[0]["xapi_account"] = {"home_page": MOODLE_URL, "name": "2"}  # bob comes later
    people[-1]["xapi_account"] = {"home_page": MOODLE_URL + "/", "name": "1"}  # alice before
    resolver = IdentityResolver(Manifest.model_validate(data))
    assert resolver.lookup("xapi", f"account:{MOODLE_URL}|2") == "bob"
    assert resolver.lookup("xapi", f"account:{MOODLE_URL}|1") == people[-1]["id"]
    assert resolver.lookup("xapi", f"account:{MOODLE_URL}|01") is None
    assert resolver.lookup("moodle", "01") is None


def awarded(engine: Engine) -> set[tuple[str, str, str]]:
    return {d.key for d in engine.awards()}


def test_an_unmatched_assignee_is_held_then_resolved_by_relearn() -> None:
    stranger = Ref("jira", "acc-new")
    engine = Engine(make_manifest())
    engine.add(completion(Ref("moodle", "2"), at()))
    for event in worked(ticket(assignee=stranger), at(1), at(2)):
        engine.add(event)
    [decision] = engine.decisions()
    assert (decision.reason, decision.person, decision.person_ref) == (
        "unmatched_identity",
        None,
        "jira:acc-new",
    )
    assert engine.unresolved() == [Unresolved("jira", "acc-new", (), 0, 1)]
    changed = engine.relearn({("jira", "acc-new"): "bob"})
    assert [(d.key, d.reason) for d in changed] == [
        (("bob", "sql", "PAY-1"), "awarded"),
        (("jira:acc-new", "sql", "PAY-1"), "unmatched_identity"),  # that key is gone
    ]
    assert awarded(engine) == {("bob", "sql", "PAY-1")}
    assert engine.unresolved() == []


def test_a_held_completion_counts_once_its_learner_is_known() -> None:
    learner = Ref("xapi", "openid:https://id.example/bob")
    engine = Engine(make_manifest())
    engine.add(completion(learner, at(), source="xapi"))
    for event in worked(ticket(assignee=Ref("jira", "acc-bob", "bob@example.com")), at(1), at(2)):
        engine.add(event)
    assert [d.reason for d in engine.decisions()] == ["no_completion"]
    assert engine.unresolved() == [Unresolved("xapi", "openid:https://id.example/bob", (), 1, 0)]
    changed = engine.relearn({("xapi", "openid:https://id.example/bob"): "bob"})
    assert [(d.key, d.reason) for d in changed] == [(("bob", "sql", "PAY-1"), "awarded")]


def test_an_email_on_a_later_event_resolves_an_id_seen_without_one() -> None:
    engine = Engine(make_manifest())
    engine.add(completion(Ref("moodle", "2"), at()))
    hidden = ticket(assignee=Ref("jira", "acc-bob"))
    shown = ticket(assignee=Ref("jira", "acc-bob", "bob@example.com"))
    engine.add(move(hidden, "new", "indeterminate", at(1)))
    done = engine.add(move(hidden, "indeterminate", "done", at(2)))
    assert [d.reason for d in done] == ["unmatched_identity"]
    # The webhook for the same change names the assignee's e-mail (another natural key).
    changed = engine.add(move(shown, "indeterminate", "done", at(2), key="webhook-1"))
    assert [(d.key, d.reason) for d in changed] == [
        (("bob", "sql", "PAY-1"), "awarded"),
        (("jira:acc-bob", "sql", "PAY-1"), "unmatched_identity"),
    ]
