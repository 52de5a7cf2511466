"""The ADF builder: every document it builds is valid under Atlassian's ADF schema."""

from __future__ import annotations

import pytest

from connectors import jira_adf as adf
from tests.jira_contract import CloudContract

pytest_plugins = ["tests.jira_contract"]

REWARD = adf.doc(
    adf.paragraph(adf.strong("Skill applied: "), "Python testing"),
    adf.paragraph("Ada finished the module ", adf.text("Mocking 101", italic=True), " on 2 Dec."),
    adf.bullet_list(
        "Reward: 1 learning day",
        [adf.strong("Approved by: "), "Grace"],
        adf.text("details", link="https://skillrelay.example/awards/7"),
    ),
    adf.ordered_list("First", "Second"),
)


def test_reward_document_shape() -> None:
    assert REWARD["type"] == "doc"
    assert REWARD["version"] == 1
    first = REWARD["content"][0]
    assert first == {
        "type": "paragraph",
        "content": [
            {"type": "text", "text": "Skill applied: ", "marks": [{"type": "strong"}]},
            {"type": "text", "text": "Python testing"},
        ],
    }
    bullets = REWARD["content"][2]
    assert bullets["type"] == "bulletList"
    assert [item["type"] for item in bullets["content"]] == ["listItem"] * 3
    assert bullets["content"][0]["content"] == [
        {"type": "paragraph", "content": [{"type": "text", "text": "Reward: 1 learning day"}]}
    ]


@pytest.mark.parametrize(
    "document",
    [
        REWARD,
        adf.doc("just text"),
        adf.from_text("Well done!\n\n- one\n- two\nafter\nsecond line"),
        adf.from_text(""),
        adf.doc(adf.paragraph(adf.text("x", code=True))),
    ],
    ids=["reward", "string", "from-text", "empty", "code"],
)
def test_documents_are_valid_adf(jira_contract: CloudContract, document: adf.Node) -> None:
    assert jira_contract.adf_problems(document) == []


def test_from_text_splits_paragraphs_and_bullets() -> None:
    document = adf.from_text("Well done!\n\n- one\n* two\nafter")
    kinds = [block["type"] for block in document["content"]]
    assert kinds == ["paragraph", "bulletList", "paragraph"]
    assert adf.to_plain_text(document) == "Well done!\none\ntwo\nafter"


def test_from_text_keeps_line_breaks() -> None:
    (para,) = adf.from_text("line one\nline two")["content"]
    assert [n["type"] for n in para["content"]] == ["text", "hardBreak", "text"]


def test_empty_text_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        adf.text("")
    with pytest.raises(ValueError, match="at least one"):
        adf.bullet_list()


def test_wiki_rendering_for_data_center() -> None:
    assert adf.to_wiki(REWARD) == (
        "*Skill applied: *Python testing\n\n"
        "Ada finished the module _Mocking 101_ on 2 Dec.\n\n"
        "* Reward: 1 learning day\n"
        "* *Approved by: *Grace\n"
        "* [details|https://skillrelay.example/awards/7]\n\n"
        "# First\n"
        "# Second"
    )


@pytest.mark.parametrize(
    ("raw", "wiki"),
    [
        ("a*b*c", "a\\*b\\*c"),
        ("[link|x]", "\\[link\\|x\\]"),
        ("{code}", "\\{code\\}"),
        ("- not a bullet", "\\- not a bullet"),
        ("h1. not a heading", "\\h1. not a heading"),
        ("plain-text SR-1", "plain-text SR-1"),
    ],
    ids=["bold", "link", "macro", "line-dash", "heading", "dash-inside"],
)
def test_wiki_escapes_markup_in_text(raw: str, wiki: str) -> None:
    assert adf.escape_wiki(raw) == wiki


def test_nested_list_renders_deeper_bullets() -> None:
    nested = adf.doc(adf.bullet_list(adf.bullet_list("inner")))
    assert adf.to_wiki(nested) == "** inner"
