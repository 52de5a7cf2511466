"""The fast reading of admin webhooks (msgspec Structs) against the models' path it stands in
for: the usual bodies take it, and on any body, however mangled, it either steps aside (None)
or gives exactly what `parse_jira_webhook` gives without it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import jira_webhook
from connectors.jira_webhook_structs import read_webhook
from plugin.domain import TicketTransition
from plugin.errors import PayloadError
from tests.test_webhooks_support import fixture_json

BASE = "https://acme.atlassian.net"
FIELDS = ("customfield_10050",)
FIXTURES = (
    "cloud_issue_created",
    "cloud_issue_updated_labels",
    "cloud_issue_updated_status_done",
    "datacenter_issue_updated",
)


def models_path(body: dict[str, Any], deployment: str) -> list[TicketTransition] | str:
    """What parse_jira_webhook gives with the fast reading out of the way (or its error)."""
    saved = jira_webhook.read_webhook
    jira_webhook.read_webhook = lambda *args, **kwargs: None  # type: ignore[assignment]
    try:
        return jira_webhook.parse_jira_webhook(
            body, base_url=BASE, deployment=deployment, custom_fields=FIELDS
        )
    except PayloadError as exc:
        return f"PayloadError: {exc}"
    finally:
        jira_webhook.read_webhook = saved


def fast_path(body: dict[str, Any], deployment: str) -> list[TicketTransition] | None:
    return read_webhook(body, base_url=BASE, deployment=deployment, custom_fields=FIELDS)


def same(found: list[TicketTransition], expected: list[TicketTransition] | str) -> None:
    assert not isinstance(expected, str), f"the models refuse it ({expected}), the fast path not"
    assert found == expected
    # == compares instants; the stored text also shows the offsets and every field's spelling
    assert [t.model_dump_json() for t in found] == [t.model_dump_json() for t in expected]


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
@pytest.mark.parametrize("name", FIXTURES)
def test_recorded_webhooks_take_the_fast_path_with_the_models_result(
    name: str, deployment: str
) -> None:
    body = fixture_json(name)
    body["issue"]["fields"]["customfield_10050"] = {"value": "SQL"}
    found = fast_path(body, deployment)
    assert found is not None, "a recorded webhook should not need the models' path"
    same(found, models_path(body, deployment))


ODD: dict[str, tuple[str, ...]] = {
    # What the models' path accepts but reads differently from a plain reading of the keys.
    "attribute name for an alias": ("user", "account_id"),
    "attribute name in an item": ("changelog", "items", "0", "field_id"),
    "status category under its attribute name": ("issue", "fields", "status", "category"),
}


@pytest.mark.parametrize("name", ODD)
def test_keys_spelt_as_attribute_names_are_left_to_the_models(name: str) -> None:
    body = fixture_json("cloud_issue_updated_status_done")
    *parents, key = ODD[name]
    node: Any = body
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[key] = "status" if key == "field_id" else "someone-else"
    assert fast_path(body, "cloud") is None


def test_an_identifier_too_long_is_refused_by_the_models_path_with_its_message() -> None:
    body = fixture_json("cloud_issue_updated_status_done")
    body["issue"]["fields"]["project"]["name"] = "x" * 256
    assert fast_path(body, "cloud") is None
    with pytest.raises(PayloadError, match=r"issue\.fields\.project\.name: longer than 255"):
        jira_webhook.parse_jira_webhook(body, base_url=BASE, deployment="cloud")


# -- any mangling of the recorded bodies -----------------------------------------------------

ODD_KEYS = (
    "account_id", "accountId", "key", "name", "emailAddress", "email", "display_name",
    "timeZone", "time_zone", "locale", "category", "statusCategory", "field_id", "fieldId",
    "field", "from", "from_", "to", "fromString", "from_string", "toString", "to_string", "id",
    "items", "histories", "labels", "components", "updated", "resolutiondate",
    "statuscategorychangedate", "timestamp", "user", "changelog", "webhookEvent", "status",
    "project", "assignee", "summary", "issuetype", "resolution", "fields", "customfield_10050",
)  # fmt: skip
# The models accept these keys under either spelling (populate_by_name).
TWINS = {
    "accountId": "account_id", "emailAddress": "email", "displayName": "display_name",
    "timeZone": "time_zone", "statusCategory": "category", "fieldId": "field_id",
    "from": "from_", "fromString": "from_string", "toString": "to_string",
}  # fmt: skip
TWINS |= {twin: key for key, twin in TWINS.items()}
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "x" * 255, "x" * 256, 10**255, 10**254]),
    st.sampled_from(["status", "done", "10002", "\u00e9t\u00e9"]),
    st.sampled_from(["jira:issue_created", "jira:issue_updated", "jira:issue_deleted"]),
    st.sampled_from(
        [
            "2026-11-09T13:00:00.098+0100",
            "2026-11-09",
            "2026-11-09T13:00:00",
            "2026-11-09T13:00:00.1234567Z",
            "2026-11-09 13:00",
            "yesterday",
            "1794225600",
        ]
    ),
    st.just({}),
    st.just([]),
    st.just({"key": "done"}),
    st.just([{"name": "Billing"}, "text"]),
    st.just({"id": "1", "items": None}),
    st.just({"histories": [{"id": "7", "created": "2026-11-09T13:00:00.000+0000"}]}),
)


def containers(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every object and array in the body, the body itself first."""
    yield path
    children = node.items() if isinstance(node, dict) else enumerate(node)
    for key, child in children:
        if isinstance(child, dict | list):
            yield from containers(child, (*path, key))


@st.composite
def mangled(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    body = copy.deepcopy(fixture_json(draw(st.sampled_from(FIXTURES))))
    fields = body["issue"]["fields"]
    fields["customfield_10050"] = {"value": "SQL"}
    fields["statuscategorychangedate"] = fields.get("updated")  # every field the models read
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(list(containers(body))))
        node: Any = body
        for part in path:
            node = node[part]
        if isinstance(node, dict):
            key = draw(st.sampled_from(list(node) or ODD_KEYS) | st.sampled_from(ODD_KEYS))
            change = draw(st.sampled_from(["delete", "rename", "set"]))
            if change == "delete" and key in node:
                del node[key]
            elif change == "rename" and key in node:
                node[TWINS.get(key) or draw(st.sampled_from(ODD_KEYS))] = node.pop(key)
            else:
                node[key] = copy.deepcopy(draw(ODD_VALUES))  # st.just gives one object
        elif node:
            node[draw(st.integers(0, len(node) - 1))] = copy.deepcopy(draw(ODD_VALUES))
        else:
            node.append(copy.deepcopy(draw(ODD_VALUES)))
    return body, draw(st.sampled_from(["cloud", "datacenter"]))


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mangled())
def test_the_fast_path_steps_aside_or_agrees_with_the_models(case: tuple[Any, str]) -> None:
    body, deployment = case
    found = fast_path(body, deployment)
    if found is not None:
        same(found, models_path(body, deployment))
