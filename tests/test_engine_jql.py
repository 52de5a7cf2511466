"""The JQL subset a skill's `jql` may use: evaluation on synced fields, and clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from plugin.engine import JqlError, Ref, TicketFact, check_jql, compile_jql, jql_fields

BASE: dict[str, Any] = {
    "id": "1",
    "key": "PAY-1",
    "project": "PAY",
    "status": "Done",
    "status_category": "done",
    "resolution": "Done",
    "assignee": Ref("jira", "acc-alice", "alice@example.com", "Alice A"),
    "labels": ("skill-sql", "backend"),
    "components": ("Ledger DB",),
    "fields": {
        "issuetype": "Post-incident review",
        "customfield_10050": "SQL indexing",
        "customfield_10060": ["Red", "Blue"],
    },
}


def ticket(**changes: Any) -> TicketFact:
    return TicketFact(**{**BASE, **changes})


EVALUATE = [
    ("project = PAY", {}, True),
    ("project = pay", {}, True),
    ("PROJECT = 'PAY'", {}, True),
    ("project != PAY", {"project": "WEB"}, True),
    ("project != PAY", {}, False),
    ("project != PAY", {"project": None}, False),  # like Jira: != never matches empty
    ("project in (PAY, RISK)", {}, True),
    ("project in (RISK, WEB)", {}, False),
    ("project not in (RISK, WEB)", {}, True),
    ("project not in (PAY)", {}, False),
    ("key = PAY-1", {}, True),
    ("labels = skill-sql", {}, True),
    ("labels = frontend", {}, False),
    ("labels != frontend", {}, True),
    ("labels != frontend", {"labels": ()}, False),
    ("labels is EMPTY", {"labels": ()}, True),
    ("labels is not EMPTY", {}, True),
    ("labels = EMPTY", {"labels": ()}, True),
    ("labels != null", {}, True),
    ('component = "Ledger DB"', {}, True),
    ("components in ('ledger db', Other)", {}, True),
    ("component is EMPTY", {"components": ()}, True),
    ("status = Done", {}, True),
    ("statusCategory = Done", {}, True),
    ("statusCategory = done", {}, True),
    ('statusCategory = "In Progress"', {"status_category": "indeterminate"}, True),
    ("statusCategory in (new, 4)", {"status_category": "indeterminate"}, True),
    ("statusCategory = 'To Do'", {}, False),
    ("resolution = Unresolved", {"resolution": None}, True),
    ("resolution = Unresolved", {}, False),
    ("resolution != Unresolved", {}, True),
    ("resolution is EMPTY", {"resolution": None}, True),
    ('resolution not in (Duplicate, "Won\'t Do")', {}, True),
    ('resolution not in (Duplicate, "Won\'t Do")', {"resolution": "Won't Do"}, False),
    ("assignee = acc-alice", {}, True),
    ("assignee = 'alice@example.com'", {}, True),
    ("assignee = 'Alice A'", {}, True),
    ("assignee is EMPTY", {"assignee": None}, True),
    ("assignee != acc-bob", {}, True),
    ('issuetype = "Post-incident review"', {}, True),
    ("type = Bug", {}, False),
    ("issuetype = Bug", {"fields": {}}, False),  # not synced: empty
    ("issuetype is EMPTY", {"fields": {}}, True),
    ('cf[10050] = "SQL indexing"', {}, True),
    ("customfield_10050 = 'sql INDEXING'", {}, True),
    ("cf[10060] = blue", {}, True),
    ("cf[10060] in (green, yellow)", {}, False),
    ("cf[99999] is EMPTY", {}, True),
    ("project = WEB OR project = PAY AND labels = frontend", {}, False),  # AND binds tighter
    ("(project = WEB OR project = PAY) AND labels = backend", {}, True),
    ("NOT project = WEB", {}, True),
    ("not (project = PAY and labels = backend)", {}, False),
    ("project = PAY && labels = backend", {}, None),  # not supported: an error
    ('summary = "x"', {}, None),
    ('labels = "quote \\" inside"', {"labels": ('quote " inside',)}, True),
]


@pytest.mark.parametrize(
    ("query", "changes", "expected"), EVALUATE, ids=[q for q, _, _ in EVALUATE]
)
def test_evaluates_on_synced_fields(
    query: str, changes: dict[str, Any], expected: bool | None
) -> None:
    if expected is None:
        with pytest.raises(JqlError):
            compile_jql(query)
        return
    assert compile_jql(query)(ticket(**changes)) is expected
    assert check_jql(query) is None


ERRORS = [
    ("summary ~ speed", "operator '~' is not supported"),
    ("created > -7d", "operator '>' is not supported"),
    ("status was Done", "operator 'was' is not supported"),
    ("priority = High", "field 'priority' is not supported"),
    ('"Story Points" = 3', "field 'Story Points' is not supported"),
    ("project = PAY ORDER BY created", "ORDER BY is not supported"),
    ("assignee = currentUser()", "functions such as currentUser() are not supported"),
    ("project = ", "expected a value, found the end"),
    ("(project = PAY", "expected ')' to close '(', found the end"),
    ("project PAY", "expected an operator after 'project', found 'PAY'"),
    ("project in PAY", "expected '(' to start a list, found 'PAY'"),
    ("project in (PAY", "expected ')' to close the list, found the end"),
    ("project = PAY AND", "expected a field name, found the end"),
    ("project is Done", "expected EMPTY after IS, found 'Done'"),
    ('project = "PAY', "unexpected character '\"' at position 11"),
    ("project = PAY)", "unexpected ')' at position 14"),
    ("", "expected a field name, found the end"),
]


@pytest.mark.parametrize(("query", "message"), ERRORS, ids=[q or "empty" for q, _ in ERRORS])
def test_unsupported_syntax_is_a_clear_error(query: str, message: str) -> None:
    found = check_jql(query)
    assert found is not None
    assert message in found
    with pytest.raises(JqlError):
        compile_jql(query)


def test_jql_errors_are_value_errors_for_manifest_validators() -> None:
    assert issubclass(JqlError, ValueError)


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("project = PAY", set()),
        ('issuetype = "Bug" OR type = Task', {"issuetype"}),
        (
            "cf[10050] = x AND NOT customfield_123 is EMPTY",
            {"customfield_10050", "customfield_123"},
        ),
    ],
    ids=["none", "issuetype", "custom-fields"],
)
def test_lists_the_ticket_fields_to_sync(query: str, fields: set[str]) -> None:
    assert jql_fields(query) == fields
