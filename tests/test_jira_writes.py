"""Effects on Jira: comments (ADF / wiki), labels, issue properties; and the connection check."""

from __future__ import annotations

import logging

import pytest

from connectors import jira_adf as adf
from plugin.errors import FatalError
from tests.jira_contract import JiraHarness, load_fixture

pytest_plugins = ["tests.jira_contract"]

BLOCKS = [
    adf.paragraph(adf.strong("Skill applied: "), "Python testing"),
    adf.bullet_list("Module: Mocking 101", [adf.strong("Reward: "), "1 learning day"]),
]


def test_cloud_comment_is_adf(jira_cloud: JiraHarness) -> None:
    jira_cloud.mock.post(
        jira_cloud.url("rest/api/3/issue/SR-1/comment"),
        status=201,
        json=load_fixture("cloud", "comment_created.json"),
    )
    assert jira_cloud.client.add_comment("SR-1", BLOCKS) == "10100"
    body = jira_cloud.sent_json()
    assert body == {"body": {"type": "doc", "version": 1, "content": BLOCKS}}
    assert jira_cloud.sent()[0].headers["Content-Type"] == "application/json"


def test_cloud_comment_from_plain_text(jira_cloud: JiraHarness) -> None:
    jira_cloud.mock.post(
        jira_cloud.url("rest/api/3/issue/SR-1/comment"),
        status=201,
        json=load_fixture("cloud", "comment_created.json"),
    )
    jira_cloud.client.add_comment(
        "SR-1", "Well done, Ada!\n\n- Module: Mocking 101\n- Reward: 1 day"
    )
    content = jira_cloud.sent_json()["body"]["content"]
    assert [block["type"] for block in content] == ["paragraph", "bulletList"]


def test_dc_comment_is_wiki_markup(jira_dc: JiraHarness) -> None:
    jira_dc.mock.post(
        jira_dc.url("rest/api/2/issue/OPS-1/comment"),
        status=201,
        json=load_fixture("datacenter", "comment_created.json"),
    )
    assert jira_dc.client.add_comment("OPS-1", BLOCKS) == "10200"
    assert jira_dc.sent_json() == {
        "body": "*Skill applied: *Python testing\n\n"
        "* Module: Mocking 101\n* *Reward: *1 learning day"
    }


def test_comment_limit_413_is_fatal(jira_cloud: JiraHarness) -> None:
    jira_cloud.mock.post(jira_cloud.url("rest/api/3/issue/SR-1/comment"), status=413)
    with pytest.raises(FatalError) as err:
        jira_cloud.client.add_comment("SR-1", "hello")
    assert err.value.status == 413


@pytest.mark.parametrize("harness_name", ["jira_cloud", "jira_dc"])
def test_add_label(request: pytest.FixtureRequest, harness_name: str) -> None:
    harness: JiraHarness = request.getfixturevalue(harness_name)
    api = "3" if harness_name == "jira_cloud" else "2"
    harness.mock.put(harness.url(f"rest/api/{api}/issue/SR-1"), status=204)
    harness.client.add_label("SR-1", "skillrelay-applied")
    assert harness.sent_json() == {"update": {"labels": [{"add": "skillrelay-applied"}]}}


@pytest.mark.parametrize("harness_name", ["jira_cloud", "jira_dc"])
def test_remove_label(request: pytest.FixtureRequest, harness_name: str) -> None:
    harness: JiraHarness = request.getfixturevalue(harness_name)
    api = "3" if harness_name == "jira_cloud" else "2"
    harness.mock.put(harness.url(f"rest/api/{api}/issue/SR-1"), status=204)
    harness.client.remove_label("SR-1", "skill-applied:sql")
    assert harness.sent_json() == {"update": {"labels": [{"remove": "skill-applied:sql"}]}}
    assert harness.sent()[0].method == "PUT"


def test_label_with_spaces_is_refused_before_sending(jira_cloud: JiraHarness) -> None:
    with pytest.raises(ValueError, match="spaces"):
        jira_cloud.client.add_label("SR-1", "skill applied")
    with pytest.raises(ValueError, match="spaces"):
        jira_cloud.client.remove_label("SR-1", "skill applied")
    assert len(jira_cloud.mock.calls) == 0


def test_property_set_get_and_missing(jira_cloud: JiraHarness) -> None:
    url = jira_cloud.url("rest/api/3/issue/SR-1/properties/skillrelay.effects")
    value = load_fixture("cloud", "property.json")["value"]
    jira_cloud.mock.put(url, status=201)
    jira_cloud.mock.get(url, json=load_fixture("cloud", "property.json"))
    jira_cloud.mock.get(
        jira_cloud.url("rest/api/3/issue/SR-2/properties/skillrelay.effects"),
        status=404,
        json={"errorMessages": ["The property with key 'skillrelay.effects' does not exist."]},
    )

    jira_cloud.client.set_property("SR-1", "skillrelay.effects", value)
    assert jira_cloud.sent_json() == value
    assert jira_cloud.client.get_property("SR-1", "skillrelay.effects") == value
    assert jira_cloud.client.get_property("SR-2", "skillrelay.effects") is None
    assert jira_cloud.sleeps == []


def test_dc_property_round_trip(jira_dc: JiraHarness) -> None:
    url = jira_dc.url("rest/api/2/issue/OPS-1/properties/skillrelay.effects")
    jira_dc.mock.put(url, status=200)
    jira_dc.mock.get(url, status=404)
    jira_dc.client.set_property("OPS-1", "skillrelay.effects", {"comment": "10200"})
    assert jira_dc.client.get_property("OPS-1", "skillrelay.effects") is None


def test_connection_check_cloud(jira_cloud: JiraHarness) -> None:
    jira_cloud.mock.get(
        jira_cloud.url("rest/api/3/serverInfo"), json=load_fixture("cloud", "server_info.json")
    )
    jira_cloud.mock.get(
        jira_cloud.url("rest/api/3/myself"), json=load_fixture("cloud", "myself.json")
    )
    info = jira_cloud.client.server_info()
    me = jira_cloud.client.myself()
    assert (info.deployment_type, info.version) == ("Cloud", "1001.0.0-SNAPSHOT")
    assert me.person("cloud") is not None
    assert me.account_id == "5b10a2844c20165700ede99z"


def test_connection_check_dc(jira_dc: JiraHarness) -> None:
    jira_dc.mock.get(
        jira_dc.url("rest/api/2/myself"), json={"name": "skillrelay", "key": "JIRAUSER10000"}
    )
    me = jira_dc.client.myself()
    person = me.person("datacenter")
    assert person is not None and person.id == "skillrelay"
    assert jira_dc.sent()[0].headers["Authorization"] == "Bearer dc-personal-access-token-456"


def test_unexpected_answer_shape_is_fatal(jira_cloud: JiraHarness) -> None:
    jira_cloud.mock.get(jira_cloud.url("rest/api/3/status"), json={"not": "a list"})
    with pytest.raises(FatalError, match="unexpected answer"):
        jira_cloud.client.status_categories()


def test_non_json_answer_is_fatal(jira_cloud: JiraHarness) -> None:
    jira_cloud.mock.get(jira_cloud.url("rest/api/3/myself"), body="<html>login</html>")
    with pytest.raises(FatalError, match="JSON"):
        jira_cloud.client.myself()


def test_tokens_never_reach_the_log(
    jira_cloud: JiraHarness, caplog: pytest.LogCaptureFixture
) -> None:
    jira_cloud.mock.get(jira_cloud.url("rest/api/3/myself"), status=503)
    jira_cloud.mock.get(
        jira_cloud.url("rest/api/3/myself"), json=load_fixture("cloud", "myself.json")
    )
    with caplog.at_level(logging.DEBUG, logger="skillrelay"):
        jira_cloud.client.myself()
    assert caplog.records
    assert "cloud-api-token-123" not in caplog.text
    assert "bot@example.com" not in caplog.text
