"""Moodle wire format: PHP bracket encoding and the exception-body classifier (no I/O)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connectors.moodle_wire import ContextAccessError, encode_params, raise_for_body
from plugin.errors import AuthError, FatalError, RetriableError

FIXTURES = Path(__file__).parent / "fixtures" / "moodle"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


ENCODINGS = [
    ("scalar", {"courseid": 7}, [("courseid", "7")]),
    ("string", {"field": "email"}, [("field", "email")]),
    ("bool-true", {"returnusercount": True}, [("returnusercount", "1")]),
    ("bool-false", {"returnusercount": False}, [("returnusercount", "0")]),
    ("float", {"grade": 7.5}, [("grade", "7.5")]),
    ("none-omitted", {"userid": 5, "courseid": None}, [("userid", "5")]),
    ("empty-list", {"values": []}, []),
    (
        "list",
        {"values": ["a@x.org", "b@x.org"]},
        [("values[0]", "a@x.org"), ("values[1]", "b@x.org")],
    ),
    ("tuple-of-ints", {"values": (5, 6)}, [("values[0]", "5"), ("values[1]", "6")]),
    (
        "list-of-structs",
        {"options": [{"name": "excludemodules", "value": True}]},
        [("options[0][name]", "excludemodules"), ("options[0][value]", "1")],
    ),
    (
        "messages",
        {"messages": [{"touserid": 5, "text": "hi"}, {"touserid": 6, "text": "a&b=c"}]},
        [
            ("messages[0][touserid]", "5"),
            ("messages[0][text]", "hi"),
            ("messages[1][touserid]", "6"),
            ("messages[1][text]", "a&b=c"),
        ],
    ),
    (
        "struct-of-lists",
        {"criteria": {"ids": [1, 2], "on": False}},
        [("criteria[ids][0]", "1"), ("criteria[ids][1]", "2"), ("criteria[on]", "0")],
    ),
    (
        "deep",
        {"a": [{"b": [{"c": 1}]}]},
        [("a[0][b][0][c]", "1")],
    ),
]


@pytest.mark.parametrize(
    ("params", "expected"), [e[1:] for e in ENCODINGS], ids=[e[0] for e in ENCODINGS]
)
def test_encode_params(params: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert encode_params(params) == expected


@pytest.mark.parametrize("value", [{1, 2}, b"raw", object()], ids=["set", "bytes", "object"])
def test_encode_refuses_unknown_types(value: Any) -> None:
    with pytest.raises(TypeError, match="values"):
        encode_params({"values": value})


# fixture -> (error class, words the message must hold, words it must never hold)
BODIES = [
    ("error_invalidtoken", AuthError, ["invalidtoken", "token"], []),
    (
        "error_accessexception",
        AuthError,
        ["accessexception", "core_user_get_users_by_field", "External services"],
        [],
    ),
    (
        "error_accessexception_debug",
        AuthError,
        ["core_user_get_users_by_field", "not allowed"],
        ["multiple reasons", "Manage tokens"],
    ),
    (
        "error_invalidparameter",
        FatalError,
        ["invalidparameter", "Invalid parameter value detected"],
        ["mdl_user", "ada@example.org", "Missing required key"],
    ),
    ("error_nopermissions", ContextAccessError, ["nopermissions", "View activity completion"], []),
    (
        "error_coursecontextnotvalid",
        ContextAccessError,
        ["errorcoursecontextnotvalid", "course id:23", "(Not enrolled)"],
        [],
    ),
    ("error_requireloginerror", ContextAccessError, ["requireloginerror", "Not enrolled"], []),
    ("error_invalidrecord", FatalError, ["invalidrecord", "table course_modules"], []),
    ("error_sitemaintenance", RetriableError, ["sitemaintenance"], []),
    ("error_usernotconfirmed", FatalError, ["usernotconfirmed"], []),
]


@pytest.mark.parametrize(("name", "kind", "has", "never"), BODIES, ids=[b[0] for b in BODIES])
def test_raise_for_body(name: str, kind: type[Exception], has: list[str], never: list[str]) -> None:
    with pytest.raises(kind) as caught:
        raise_for_body("moodle", "core_user_get_users_by_field", fixture(name))
    message = str(caught.value)
    assert type(caught.value) is kind
    for word in has:
        assert word in message
    for word in never:
        assert word not in message


def test_exception_without_errorcode_is_fatal() -> None:
    with pytest.raises(FatalError, match="TypeError: boom") as caught:
        raise_for_body("moodle", "f", {"exception": "TypeError", "message": "boom"})
    assert not isinstance(caught.value, AuthError)


def test_long_message_is_capped() -> None:
    with pytest.raises(FatalError) as caught:
        raise_for_body("moodle", "f", {"exception": "x", "errorcode": "e", "message": "y" * 5000})
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize(
    "body",
    [[], [{"id": 1}], {"statuses": [], "warnings": []}, None, {"exception_count": 1}],
    ids=["empty-list", "list", "result", "null", "lookalike"],
)
def test_results_pass(body: Any) -> None:
    raise_for_body("moodle", "f", body)
