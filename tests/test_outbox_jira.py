"""JiraSender: comments and labels land once per effect, whatever crashes in between.

Every request goes through the Jira contract harness (Cloud: Atlassian's OpenAPI file;
Data Center: the documented v2 shapes).
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from connectors import jira_adf as adf
from connectors.delivery import DryRunJiraSender, JiraSender, refs_in
from plugin.effects import Effect
from plugin.errors import AuthError, FatalError, RetriableError
from tests.jira_contract import CloudContract, JiraHarness
from tests.test_effects_support import FakeIssue, change, make_award, plan

LABEL = "skill-applied:sql-indexing"

pytest_plugins = ["tests.jira_contract"]

NOW = 1_767_225_600


def effects(event: str = "awarded", deployment: str = "cloud") -> list[Effect]:
    actor = "engine" if event in ("awarded", "revocation_flagged") else "amara.okafor"
    ch = change(make_award(), event, actor=actor)  # type: ignore[arg-type]
    return plan(ch, deployment=deployment)  # type: ignore[arg-type]


def comment(event: str = "awarded", deployment: str = "cloud") -> Effect:
    return effects(event, deployment)[0]


def sender(harness: JiraHarness) -> JiraSender:
    return JiraSender(harness.client, clock=lambda: NOW)


def calls(issue: FakeIssue) -> list[str]:
    return [
        f"{r.method} {r.path_url.split('/issue/PAY-101')[-1].split('?')[0]}" for r in issue.sent()
    ]


def test_first_delivery_posts_and_records(jira_cloud: JiraHarness) -> None:
    issue = FakeIssue(jira_cloud)
    effect = comment()
    sender(jira_cloud).send(effect)
    prop = "/properties/skillrelay.effects"
    assert calls(issue) == [
        f"GET {prop}",
        f"PUT {prop}",
        "POST /comment",
        f"GET {prop}",
        f"PUT {prop}",
    ]
    assert issue.value == {effect.idempotency_key: {"comment_id": "10100", "at": NOW}}
    [body] = issue.comment_texts()
    assert body == adf.doc(*effect.payload["blocks"])
    # The "posting" mark went up before the comment did.
    assert json.loads(issue.sent("PUT")[0].body or b"") == {
        effect.idempotency_key: {"state": "posting", "at": NOW}
    }


def test_redelivery_posts_nothing(jira_cloud: JiraHarness) -> None:
    issue = FakeIssue(jira_cloud)
    jira = sender(jira_cloud)
    jira.send(comment())
    before = len(issue.sent())
    jira.send(comment())
    assert issue.posts == 1
    assert [r.method for r in issue.sent()[before:]] == ["GET"]


def test_posting_left_behind_and_comment_present(jira_cloud: JiraHarness) -> None:
    """A crash after the post, before the record: the comment is found, not posted again."""
    issue = FakeIssue(jira_cloud)
    effect = comment()
    issue.properties["skillrelay.effects"] = {effect.idempotency_key: {"state": "posting"}}
    issue.comments += [("10007", adf.from_text("a human's comment"))]
    issue.comments += [("10008", adf.doc(*effect.payload["blocks"]))]
    sender(jira_cloud).send(effect)
    assert issue.posts == 0
    assert issue.value[effect.idempotency_key] == {"comment_id": "10008", "at": NOW}


def test_posting_left_behind_and_comment_absent(jira_cloud: JiraHarness) -> None:
    """A crash after the mark, before the post: posted once."""
    issue = FakeIssue(jira_cloud)
    effect = comment()
    issue.properties["skillrelay.effects"] = {effect.idempotency_key: {"state": "posting"}}
    other = comment("approved")  # another event's comment is not this one
    issue.comments += [("10050", adf.doc(*other.payload["blocks"]))]
    sender(jira_cloud).send(effect)
    sender(jira_cloud).send(effect)
    assert issue.posts == 1
    assert issue.value[effect.idempotency_key]["comment_id"] == "10101"


def test_lost_reply_then_redelivery_posts_once(jira_cloud: JiraHarness) -> None:
    """Jira stores the comment but the answer is lost (504): the retry finds it."""
    issue = FakeIssue(jira_cloud)
    issue.fail("POST", "comment", 504, lost_reply=True)
    effect = comment()
    with pytest.raises(RetriableError):
        sender(jira_cloud).send(effect)
    assert issue.value[effect.idempotency_key]["state"] == "posting"
    sender(jira_cloud).send(effect)
    assert issue.posts == 1
    assert issue.value[effect.idempotency_key]["comment_id"] == "10100"


def test_record_fails_after_posting_then_redelivery_posts_once(jira_cloud: JiraHarness) -> None:
    """Posted, but recording the comment id fails: "posting" stays, the retry finds it."""
    issue = FakeIssue(jira_cloud)
    issue.fail("PUT", "property", 503, after=1)  # the "posting" mark passes, the record fails
    effect = comment()
    with pytest.raises(RetriableError):
        sender(jira_cloud).send(effect)
    assert (issue.posts, issue.value[effect.idempotency_key]["state"]) == (1, "posting")
    sender(jira_cloud).send(effect)
    assert issue.posts == 1
    assert issue.value[effect.idempotency_key]["comment_id"] == "10100"


def test_comments_are_read_page_by_page(
    jira_cloud: JiraHarness, jira_contract: CloudContract
) -> None:
    issue = FakeIssue(jira_cloud)
    effect = comment()
    issue.comments += [(str(20000 + n), adf.from_text(f"note {n}")) for n in range(140)]
    issue.comments += [("30000", adf.doc(*effect.payload["blocks"]))]
    issue.properties["skillrelay.effects"] = {effect.idempotency_key: {"state": "posting"}}
    sender(jira_cloud).send(effect)
    assert issue.posts == 0
    pages = [r for r in issue.sent("GET") if r.path_url.split("?")[0].endswith("/comment")]
    assert [p.path_url.split("?")[1] for p in pages] == [
        "startAt=0&maxResults=100",
        "startAt=100&maxResults=100",
    ]
    # The fake's answer is a PageOfComments as the spec defines it.
    page = json.loads(jira_cloud.mock.calls[1].response.text)  # type: ignore[union-attr]
    assert (
        jira_contract.response_problems("GET", "/rest/api/3/issue/PAY-101/comment", 200, page) == []
    )


def test_label_is_added_and_recorded_once(jira_cloud: JiraHarness) -> None:
    issue = FakeIssue(jira_cloud)
    label = effects()[1]
    jira = sender(jira_cloud)
    jira.send(label)
    jira.send(label)
    assert issue.labels == {"skill-applied:sql-indexing"}
    edits = [r for r in issue.sent("PUT") if "/properties/" not in r.path_url]
    assert len(edits) == 1
    assert issue.value[label.idempotency_key] == {"label": "skill-applied:sql-indexing", "at": NOW}


def label_effects(cycle: int = 0, kept_for: tuple[int, ...] = ()) -> tuple[Effect, Effect]:
    """The label an award's cycle puts on the ticket, and the one its revocation takes off."""
    award = make_award(state="approved")
    [label] = [e for e in plan(change(award, "awarded", cycle=cycle)) if e.action == "label"]
    revoked = change(award, "revoked", previous="approved", cycle=cycle)
    revoked = replace(revoked, label_kept_by=kept_for)
    [unlabel] = [e for e in plan(revoked) if e.action == "unlabel"]
    return label, unlabel


def label_edits(issue: FakeIssue) -> list[object]:
    return [
        json.loads(r.body or b"")["update"]["labels"]
        for r in issue.sent("PUT")
        if "/properties/" not in r.path_url
    ]


def test_a_revocation_takes_the_label_off_once_and_the_record_says_so(
    jira_cloud: JiraHarness,
) -> None:
    issue = FakeIssue(jira_cloud)
    label, unlabel = label_effects()
    jira = sender(jira_cloud)
    jira.send(label)
    jira.send(unlabel)
    jira.send(unlabel)  # delivered again: nothing more reaches the issue
    assert issue.labels == set()
    assert label_edits(issue) == [[{"add": LABEL}], [{"remove": LABEL}]]
    # The issue property no longer says the label is applied.
    assert issue.value[label.idempotency_key] == {
        "label": LABEL,
        "at": NOW,
        "removed_by": unlabel.idempotency_key,
    }
    assert issue.value[unlabel.idempotency_key] == {"label_removed": LABEL, "at": NOW}
    # A redelivered "add" of the revoked cycle does not put the label back.
    jira.send(label)
    assert issue.labels == set()


def test_an_award_that_comes_back_puts_the_label_back(jira_cloud: JiraHarness) -> None:
    issue = FakeIssue(jira_cloud)
    first, first_off = label_effects(0)
    again, again_off = label_effects(1)
    jira = sender(jira_cloud)
    for effect in (first, first_off, again):
        jira.send(effect)
    assert issue.labels == {LABEL}
    assert issue.value[again.idempotency_key] == {"label": LABEL, "at": NOW}
    jira.send(again_off)
    assert issue.labels == set()
    assert issue.value[again.idempotency_key]["removed_by"] == again_off.idempotency_key
    assert label_edits(issue) == [[{"add": LABEL}], [{"remove": LABEL}]] * 2


def test_a_label_another_award_stands_on_stays(jira_cloud: JiraHarness) -> None:
    issue = FakeIssue(jira_cloud)
    label, unlabel = label_effects(kept_for=(18,))
    jira = sender(jira_cloud)
    jira.send(label)
    jira.send(unlabel)
    assert issue.labels == {LABEL}
    assert label_edits(issue) == [[{"add": LABEL}]]
    kept = {"label_kept": LABEL, "kept_for": [18], "at": NOW}
    assert issue.value[unlabel.idempotency_key] == kept
    assert issue.value[label.idempotency_key] == {"label": LABEL, "at": NOW}


def test_a_removal_jira_fails_is_sent_again_until_it_is_recorded(jira_cloud: JiraHarness) -> None:
    issue = FakeIssue(jira_cloud)
    issue.labels.add(LABEL)
    _, unlabel = label_effects()
    issue.fail("PUT", "property", 503)  # removed at Jira, but the record fails
    with pytest.raises(RetriableError):
        sender(jira_cloud).send(unlabel)
    sender(jira_cloud).send(unlabel)  # removing again is harmless in Jira
    assert issue.labels == set()
    assert issue.value[unlabel.idempotency_key] == {"label_removed": LABEL, "at": NOW}


def test_data_center_removes_the_label_too(jira_dc: JiraHarness) -> None:
    issue = FakeIssue(jira_dc)
    label, unlabel = label_effects()
    jira = sender(jira_dc)
    jira.send(label)
    jira.send(unlabel)
    assert issue.labels == set()
    assert label_edits(issue) == [[{"add": LABEL}], [{"remove": LABEL}]]


def test_the_record_keeps_the_newest_entries(jira_cloud: JiraHarness) -> None:
    issue = FakeIssue(jira_cloud)
    clock = iter(range(NOW, NOW + 100))
    jira = JiraSender(jira_cloud.client, max_entries=3, clock=lambda: next(clock))
    sent = [comment(event) for event in ("awarded", "approved", "fulfilled", "revocation_flagged")]
    for effect in sent:
        jira.send(effect)
    assert list(issue.value) == [e.idempotency_key for e in sent[1:]]


def test_data_center_posts_wiki_markup_once(jira_dc: JiraHarness) -> None:
    issue = FakeIssue(jira_dc)
    effect = comment("approved", "datacenter")
    jira = sender(jira_dc)
    jira.send(effect)
    jira.send(effect)
    assert issue.comment_texts() == [
        "*Reward update:* Amara Okafor approved One paid learning hour (20 points) for Ben "
        "Carter.\n\nskillrelay ref 17:approved:jira:comment"
    ]


def test_auth_and_fatal_errors_surface(jira_cloud: JiraHarness) -> None:
    issue = FakeIssue(jira_cloud)
    issue.fail("POST", "comment", 401)
    with pytest.raises(AuthError):
        sender(jira_cloud).send(comment())
    issue.fail("PUT", "issue", 400)
    with pytest.raises(FatalError) as err:
        sender(jira_cloud).send(effects()[1])
    assert err.value.status == 400
    with pytest.raises(FatalError, match="no comment blocks"):
        sender(jira_cloud).send(
            Effect("1:awarded:jira:comment", "jira", "comment", {"issue": "PAY-101"})
        )
    with pytest.raises(FatalError, match="no Jira action"):
        sender(jira_cloud).send(Effect("1:x", "jira", "transition", {"issue": "PAY-101"}))


def test_refs_survive_wiki_escaping() -> None:
    text = "*Reward update:* ...\n\nskillrelay ref 17:revocation\\_flagged:jira:comment"
    assert refs_in(text) == {"17:revocation_flagged:jira:comment"}
    assert refs_in("skillrelay ref 1:awarded:jira:comment") != {"11:awarded:jira:comment"}


def test_dry_run_renders_each_effect_once() -> None:
    seen: list[str] = []
    dry = DryRunJiraSender(seen.append)
    for effect in [*effects(deployment="datacenter"), comment(deployment="datacenter")]:
        if effect.target == "jira":
            dry.send(effect)
    assert dry.rendered == seen
    assert seen[0].startswith("comment on PAY-101:\n*Ben Carter* applied *SQL indexing* here")
    assert seen[1] == "label PAY-101 +skill-applied:sql-indexing"
    assert len(seen) == 2
    _, unlabel = label_effects()
    dry.send(unlabel)
    assert seen[2] == "label PAY-101 -skill-applied:sql-indexing"
    plain = DryRunJiraSender(deployment="cloud")
    plain.send(comment())
    assert plain.rendered[0].startswith("comment on PAY-101:\nBen Carter applied SQL indexing")


def test_comments_reader(jira_cloud: JiraHarness, jira_contract: CloudContract) -> None:
    url = jira_cloud.url("rest/api/3/issue/PAY-7/comment")
    first = {
        "startAt": 0,
        "maxResults": 2,
        "total": 3,
        "comments": [
            {"id": "1", "body": adf.from_text("one\n\ntwo")},
            {"id": "2", "body": adf.doc(adf.paragraph(adf.strong("bold"), " text"))},
        ],
    }
    second = {"startAt": 2, "maxResults": 2, "total": 3, "comments": [{"id": "3", "body": None}]}
    for page in (first, second):
        assert (
            jira_contract.response_problems("GET", "/rest/api/3/issue/PAY-7/comment", 200, page)
            == []
        )
        jira_cloud.mock.get(url, json=page)
    found = [(c.id, c.text) for c in jira_cloud.client.comments("PAY-7")]
    assert found == [("1", "one\ntwo"), ("2", "bold text"), ("3", "")]
