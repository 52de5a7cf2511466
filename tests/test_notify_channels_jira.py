"""The "mention" notification through JiraSender: a comment that mentions the person, landed
once by the same property-and-ref machinery as skillrelay's comments.

Every request goes through the Jira contract harness (Cloud: Atlassian's OpenAPI file and its
ADF schema, so the mention node is checked too; Data Center: the documented v2 shapes).
"""

from __future__ import annotations

import re

import pytest

from connectors import jira_adf as adf
from connectors.delivery import DryRunJiraSender, JiraSender, refs_in
from plugin.effects import Effect
from plugin.errors import FatalError, RetriableError
from tests.jira_contract import CloudContract, JiraHarness
from tests.test_effects_support import FakeIssue
from tests.test_notify_channels_support import ACCOUNT_ID, KEY, RU, notification

pytest_plugins = ["tests.jira_contract"]

NOW = 1_767_225_600
PROP = "/properties/skillrelay.effects"
REF = f"skillrelay ref {KEY}"


def mention(**changes: object) -> Effect:
    return notification("jira", "mention", **changes)  # type: ignore[arg-type]


def sender(harness: JiraHarness) -> JiraSender:
    return JiraSender(harness.client, clock=lambda: NOW)


def calls(issue: FakeIssue) -> list[str]:
    return [
        f"{r.method} {r.path_url.split('/issue/PAY-101')[-1].split('?')[0]}" for r in issue.sent()
    ]


def link_item(text: str, url: str) -> dict[str, object]:
    return {
        "type": "listItem",
        "content": [
            {
                "type": "paragraph",
                "content": [
                    {
                        "type": "text",
                        "text": text,
                        "marks": [{"type": "link", "attrs": {"href": url}}],
                    }
                ],
            }
        ],
    }


def test_cloud_posts_adf_that_starts_with_the_mention_and_records_it(
    jira_cloud: JiraHarness, jira_contract: CloudContract
) -> None:
    issue = FakeIssue(jira_cloud)
    sender(jira_cloud).send(mention())

    assert calls(issue) == [
        f"GET {PROP}",
        f"PUT {PROP}",
        "POST /comment",
        f"GET {PROP}",
        f"PUT {PROP}",
    ]
    assert issue.value == {KEY: {"comment_id": "10100", "at": NOW}}
    [body] = issue.comment_texts()
    assert body == {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "paragraph",
                "content": [
                    {"type": "mention", "attrs": {"id": ACCOUNT_ID, "text": "@Ben Carter"}},
                    {"type": "text", "text": " "},
                    {"type": "text", "text": "Hi Ben,"},
                ],
            },
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "You applied SQL indexing in PAY-101 & it shows."},
                    {"type": "hardBreak"},
                    {"type": "text", "text": "Your manager approved the reward."},
                ],
            },
            {"type": "paragraph", "content": [{"type": "text", "text": "Keep going!"}]},
            {
                "type": "bulletList",
                "content": [
                    link_item(
                        "PAY-7 Fix the slow query", "https://northwind.atlassian.net/browse/PAY-7"
                    ),
                    link_item(
                        "SQL indexing <module>",
                        "https://lms.northwind.example/mod/page/view.php?id=2101",
                    ),
                ],
            },
            {"type": "paragraph", "content": [{"type": "text", "text": REF}]},
        ],
    }
    assert jira_contract.adf_problems(body) == []


def test_a_mention_node_the_adf_schema_refuses_would_fail_the_contract(
    jira_contract: CloudContract,
) -> None:
    """The harness really checks the mention: without its id the schema says no."""
    bad = adf.doc(adf.paragraph({"type": "mention", "attrs": {"text": "@Ben Carter"}}))
    assert jira_contract.adf_problems(bad) != []


def test_redelivery_posts_nothing(jira_cloud: JiraHarness) -> None:
    issue = FakeIssue(jira_cloud)
    jira = sender(jira_cloud)
    jira.send(mention())
    before = len(issue.sent())
    jira.send(mention())
    assert issue.posts == 1
    assert [r.method for r in issue.sent()[before:]] == ["GET"]


def test_lost_reply_then_redelivery_finds_the_comment_by_its_ref(jira_cloud: JiraHarness) -> None:
    issue = FakeIssue(jira_cloud)
    issue.fail("POST", "comment", 504, lost_reply=True)
    with pytest.raises(RetriableError):
        sender(jira_cloud).send(mention())
    assert issue.value[KEY]["state"] == "posting"
    sender(jira_cloud).send(mention())
    assert issue.posts == 1
    assert issue.value[KEY]["comment_id"] == "10100"


def test_data_center_posts_wiki_with_the_username_mention_once(jira_dc: JiraHarness) -> None:
    issue = FakeIssue(jira_dc)
    sender(jira_dc).send(mention())
    sender(jira_dc).send(mention())
    assert issue.posts == 1
    [body] = issue.comment_texts()
    assert body == (
        "[~bcarter] Hi Ben,\n\n"
        "You applied SQL indexing in PAY-101 & it shows.\n"
        "Your manager approved the reward.\n\n"
        "Keep going\\!\n\n"  # wiki reads "!" as an image: escaped
        "* [PAY-7 Fix the slow query|https://northwind.atlassian.net/browse/PAY-7]\n"
        "* [SQL indexing <module>|https://lms.northwind.example/mod/page/view.php?id=2101]\n\n"
        f"{REF}"
    )
    assert KEY in refs_in(body)
    assert issue.value[KEY]["comment_id"] == "10100"


def test_data_center_escapes_the_words_but_not_the_mention(jira_dc: JiraHarness) -> None:
    issue = FakeIssue(jira_dc)
    sender(jira_dc).send(mention(base=RU, text="Ольга, [~admin] *важно*"))
    [body] = issue.comment_texts()
    assert body.startswith("[~oivanova] Ольга, \\[\\~admin\\] \\*важно\\*\n\n")


@pytest.mark.parametrize(
    ("deployment", "to", "reason"),
    [
        ("cloud", {"jira_account_id": None}, "person ben.carter has no Jira account id"),
        ("datacenter", {"jira_username": None}, "person ben.carter has no Jira user name"),
        ("datacenter", {"jira_username": "b carter]"}, "user name wiki cannot mention"),
    ],
)
def test_a_person_jira_cannot_mention_is_fatal_before_any_request(
    jira_cloud: JiraHarness,
    jira_dc: JiraHarness,
    deployment: str,
    to: dict[str, object],
    reason: str,
) -> None:
    harness = jira_cloud if deployment == "cloud" else jira_dc
    with pytest.raises(FatalError, match=reason) as caught:
        sender(harness).send(mention(to=to))
    assert not isinstance(caught.value, RetriableError)
    assert harness.sent() == []


def test_no_ticket_is_fatal(jira_cloud: JiraHarness) -> None:
    with pytest.raises(FatalError, match=re.escape(f"notification {KEY} names no ticket")):
        sender(jira_cloud).send(mention(ticket=None))
    assert jira_cloud.sent() == []


def test_an_unknown_ticket_is_fatal_with_what_was_refused(jira_cloud: JiraHarness) -> None:
    issue = FakeIssue(jira_cloud)
    issue.fail("GET", "property", 404)  # FakeIssue's "no such property" is a 404 as well
    issue.fail("POST", "comment", 404)
    with pytest.raises(FatalError, match="mention on PAY-101: Not Found: the issue does not"):
        sender(jira_cloud).send(mention())


def test_comments_and_labels_still_work_beside_mentions(jira_cloud: JiraHarness) -> None:
    issue = FakeIssue(jira_cloud)
    jira = sender(jira_cloud)
    comment = Effect(
        "41:awarded:jira:comment",
        "jira",
        "comment",
        {
            "issue": "PAY-101",
            "blocks": [
                adf.paragraph("Ben applied it."),
                adf.paragraph("skillrelay ref 41:awarded:jira:comment"),
            ],
        },
    )
    jira.send(comment)
    jira.send(mention())
    assert issue.posts == 2
    assert set(issue.value) == {"41:awarded:jira:comment", KEY}


def test_dry_run_renders_the_mention() -> None:
    cloud = DryRunJiraSender()
    cloud.send(mention())
    cloud.send(mention())
    [text] = cloud.rendered
    assert text.startswith("comment on PAY-101:\n@Ben Carter Hi Ben,\n")
    assert text.endswith(REF)
    dc = DryRunJiraSender(deployment="datacenter")
    dc.send(mention())
    assert dc.rendered[0].startswith("comment on PAY-101:\n[~bcarter] Hi Ben,")
