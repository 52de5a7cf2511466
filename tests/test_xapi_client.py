"""LrsClient against recorded LRS responses (`responses`): paging, headers, writes, retries."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
import pytest
import requests
import responses
from pydantic import ValidationError

from connectors.http import RetryPolicy
from connectors.xapi import LrsClient, Statement, StatementConflict
from connectors.xapi_client import read_texts
from connectors.xapi_models import StatementStruct, read_statement, read_statement_json
from plugin.errors import AuthError, FatalError, RetriableError
from plugin.store.models import JsonText

FIXTURES = Path(__file__).parent / "fixtures" / "xapi" / "logstore"
ENDPOINT = "https://lrs.example.org/data/xAPI/"
STATEMENTS = "https://lrs.example.org/data/xAPI/statements"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def result(*names: str, more: str = "") -> dict[str, Any]:
    return {"statements": [load(name) for name in names], "more": more}


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def client(sleeps: Sleeps, **kwargs: Any) -> LrsClient:
    kwargs.setdefault("auth", ("moodle", "s3cret-pass"))
    return LrsClient(ENDPOINT, sleep=sleeps, clock=lambda: 1_700_000_000.0, **kwargs)


def query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


# -- reading --------------------------------------------------------------------------------


def test_more_is_resolved_against_the_lrs_root(rsps: Any, sleeps: Sleeps) -> None:
    more = "/data/xAPI/statements?since=x&search_after=abc"
    rsps.get(STATEMENTS, json=result("completed", "viewed", more=more))
    rsps.get(STATEMENTS, json=result("uncompleted"))
    since = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)

    pages = list(client(sleeps).statements(since=since, verb="http://v", limit=2))

    assert [len(p.statements) for p in pages] == [2, 1]
    first, second = rsps.calls
    assert query(first) == {
        "since": ["2024-05-01T09:00:00+00:00"],
        "verb": ["http://v"],
        "limit": ["2"],
        "ascending": ["true"],
    }
    assert second.request.url == "https://lrs.example.org" + more


def test_a_more_link_to_another_host_is_refused(rsps: Any, sleeps: Sleeps) -> None:
    rsps.get(STATEMENTS, json=result("completed", more="https://evil.example/xAPI/statements"))
    pages = client(sleeps).statements()
    next(pages)
    with pytest.raises(FatalError, match="another host"):
        next(pages)
    assert len(rsps.calls) == 1


def test_a_repeated_more_link_ends_the_walk(rsps: Any, sleeps: Sleeps) -> None:
    more = "/data/xAPI/statements?page=2"
    rsps.get(STATEMENTS, json=result("completed", more=more))
    rsps.get(STATEMENTS, json=result("uncompleted", more=more))
    with pytest.raises(FatalError, match="pagination loop"):
        list(client(sleeps).statements())
    assert len(rsps.calls) == 2


def test_a_statement_id_is_yielded_once_per_call(rsps: Any, sleeps: Sleeps) -> None:
    rsps.get(STATEMENTS, json=result("completed", "viewed", more="/data/xAPI/statements?p=2"))
    rsps.get(STATEMENTS, json=result("viewed", "completed", "passed"))
    pages = list(client(sleeps).statements())
    ids = [s.id for page in pages for s in page.statements]
    assert len(ids) == len(set(ids)) == 3
    assert [(p.fetched, p.duplicates) for p in pages] == [(2, 0), (3, 2)]


def test_malformed_statements_are_reported_not_raised(rsps: Any, sleeps: Sleeps) -> None:
    body = result("completed", "malformed")
    body["statements"].append("not an object")
    rsps.get(STATEMENTS, json=body)

    (page,) = client(sleeps).statements()

    assert [s.id for s in page.statements] == [load("completed")["id"]]
    assert [json.loads(text) for text in page.raw] == [load("completed")]
    assert page.fetched == 3
    bad_id = load("malformed")["id"]
    assert len(page.errors) == 2
    assert page.errors[0].startswith(f"statement {bad_id}: ")
    assert "verb.id" in page.errors[0] and "timestamp" in page.errors[0]
    assert "yesterday" not in page.errors[0]  # values are never echoed
    assert page.errors[1].startswith("statement #2 of the page: ")


@pytest.mark.parametrize(
    ("where", "value", "field"),
    [
        ("verb", {"id": 42}, "verb.id"),
        ("result", {"completion": "maybe"}, "result.completion"),
        (
            "actor",
            {"objectType": "Agent", "account": {"homePage": 7, "name": "17"}},
            "actor.account.homePage",
        ),
        ("stored", "2024-13-01T00:00:00Z", "stored"),
        ("id", "", "id"),
    ],
)
def test_a_wrong_type_in_a_field_read_is_refused_naming_it(
    rsps: Any, sleeps: Sleeps, where: str, value: Any, field: str
) -> None:
    bad = {**load("completed"), where: value}
    rsps.get(STATEMENTS, json={"statements": [bad, load("viewed")]})

    (page,) = client(sleeps).statements()

    assert [s.id for s in page.statements] == [load("viewed")["id"]]
    (error,) = page.errors
    assert error.split(": ", 1)[1].startswith(f"{field}: "), error


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("result", {"completion": "yes", "success": 0}),  # pydantic's lax bools
        ("timestamp", "2024-05-01"),  # a date alone
        ("timestamp", "2024-05-01T10:00:00,5+02:00"),  # a comma before the fraction
        ("stored", "2024-05-01T10:00:02.1234567Z"),  # 7 digits: truncated, not rounded
        ("stored", "2024-05-01T10:00:02.9999999Z"),
        ("timestamp", "2024-05-01T12:00:00.25+02:00"),  # msgspec's own path
    ],
)
def test_statements_are_read_as_the_model_reads_them(
    rsps: Any, sleeps: Sleeps, where: str, value: Any
) -> None:
    payload = {**load("completed"), where: value}
    rsps.get(STATEMENTS, json={"statements": [payload]})

    (page,) = client(sleeps).statements()

    assert page.errors == ()
    model = Statement.model_validate(payload)
    assert page.statements == (msgspec.convert(model, StatementStruct, from_attributes=True),)
    (statement,) = page.statements
    assert (statement.timestamp, statement.stored) == (model.timestamp, model.stored)
    assert statement.timestamp is not None and statement.timestamp.tzinfo is UTC


def test_a_page_msgspec_refuses_is_read_as_json_reads_it(rsps: Any, sleeps: Sleeps) -> None:
    statement = json.dumps(load("completed"))[:-1] + ', "extensions": {"score": NaN}}'
    rsps.get(STATEMENTS, body=f'{{"statements": [{statement}]}}', content_type="application/json")

    (page,) = client(sleeps).statements()

    assert [s.id for s in page.statements] == [load("completed")["id"]]
    assert math.isnan(page.raw[0]["extensions"]["score"])


def test_statements_are_kept_as_the_bytes_received(rsps: Any, sleeps: Sleeps) -> None:
    # Odd spacing, escapes and number spellings survive: raw is the statement's own text.
    first = json.dumps(load("completed"), indent=1).replace('"Ana Learner"', '"Ana \\u00e9"')
    second = json.dumps(load("passed"), separators=(",", ":"))[:-1] + ',"n":1.50E+1}'
    body = f'{{ "statements" : [ {first} ,{second}], "more": "" }}'
    rsps.get(STATEMENTS, body=body.encode(), content_type="application/json")

    (page,) = client(sleeps).statements()

    assert list(page.raw) == [first, second]
    assert all(isinstance(text, JsonText) for text in page.raw)
    assert page.statements[0].actor.name == "Ana \u00e9"


# Statements msgspec reads otherwise than the model, or refuses: its text path must hand
# them to the model's path.
TRICKY: dict[str, dict[str, Any]] = {
    "seven-digits": {**load("completed"), "stored": "2024-05-01T10:00:02.9999999Z"},
    "string-bools": {**load("completed"), "result": {"completion": "yes", "success": 0}},
    "date-alone": {**load("completed"), "timestamp": "2024-05-01"},
    "comma-fraction": {**load("completed"), "timestamp": "2024-05-01T10:00:00,5+02:00"},
    "offset": {**load("completed"), "timestamp": "2024-05-01T12:00:00.25+02:00"},
    "number-id": {**load("completed"), "id": 7},
    "no-verb": {k: v for k, v in load("completed").items() if k != "verb"},
}


@pytest.mark.parametrize("name", ["completed", "passed", "viewed", "voided", "malformed", *TRICKY])
def test_a_statement_read_from_its_text_is_read_as_from_its_dict(name: str) -> None:
    item = TRICKY.get(name) or load(name)
    text = json.dumps(item).encode()
    direct = read_statement_json(text)
    try:
        expected: StatementStruct | None = read_statement(json.loads(text))
    except ValidationError:
        expected = None
    assert direct is None or direct == expected
    page = read_texts([msgspec.Raw(text)], set(), {})
    assert page.statements == ((expected,) if expected is not None else ())
    assert len(page.errors) == (expected is None)


def test_a_response_that_is_not_a_statement_result_is_fatal(rsps: Any, sleeps: Sleeps) -> None:
    rsps.get(STATEMENTS, json=[load("completed")])
    with pytest.raises(FatalError, match="StatementResult"):
        list(client(sleeps).statements())


def test_consistent_through_is_read(rsps: Any, sleeps: Sleeps) -> None:
    headers = {"X-Experience-API-Consistent-Through": "2024-05-01T10:30:00.5Z"}
    rsps.get(STATEMENTS, json=result("completed"), headers=headers)
    rsps.get(STATEMENTS, json=result("completed"), headers={})
    lrs = client(sleeps)
    (page,) = lrs.statements()
    assert page.consistent_through == datetime(2024, 5, 1, 10, 30, 0, 500000, tzinfo=UTC)
    (page,) = lrs.statements()
    assert page.consistent_through is None


# -- headers and auth -----------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.0.3", "2.0.0"], ids=["v1.0.3", "v2.0.0"])
def test_the_version_header_is_on_every_request(rsps: Any, sleeps: Sleeps, version: str) -> None:
    rsps.get(STATEMENTS, json=result("completed", more="/data/xAPI/statements?p=2"))
    rsps.get(STATEMENTS, json=result())
    rsps.post(STATEMENTS, json=["x"])
    lrs = client(sleeps, version=version)
    list(lrs.statements())
    lrs.send_statements([{"id": "x"}])
    assert [c.request.headers["X-Experience-API-Version"] for c in rsps.calls] == [version] * 3


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match=r"1\.0\.3, 2\.0\.0"):
        LrsClient(ENDPOINT, version="1.0.0")


def test_basic_and_bearer_auth_leave_the_session_untouched(rsps: Any, sleeps: Sleeps) -> None:
    rsps.get(STATEMENTS, json=result())
    rsps.get(STATEMENTS, json=result())
    session = requests.Session()
    list(client(sleeps, session=session).statements())
    list(client(sleeps, session=session, auth="tok-123456").statements())
    basic, bearer = (c.request.headers["Authorization"] for c in rsps.calls)
    assert basic.startswith("Basic ")
    assert bearer == "Bearer tok-123456"
    assert session.auth is None
    assert "X-Experience-API-Version" not in session.headers


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_raise_auth_error(rsps: Any, sleeps: Sleeps, status: int) -> None:
    rsps.get(STATEMENTS, status=status, json={"detail": "Invalid authentication credentials"})
    with pytest.raises(AuthError) as caught:
        list(client(sleeps).statements())
    assert caught.value.status == status
    assert "Invalid" not in str(caught.value)  # no body in errors


# -- retries --------------------------------------------------------------------------------


def test_429_waits_for_retry_after_with_the_injected_sleep(rsps: Any, sleeps: Sleeps) -> None:
    rsps.get(STATEMENTS, status=429, headers={"Retry-After": "7"})
    rsps.get(STATEMENTS, json=result("completed"))
    (page,) = client(sleeps).statements()
    assert len(page.statements) == 1
    assert sleeps == [7.0]


def test_5xx_backs_off_then_gives_up_as_retriable(rsps: Any, sleeps: Sleeps) -> None:
    rsps.post(STATEMENTS, status=503)
    policy = RetryPolicy(attempts=3, backoff_base=0.5, backoff_cap=4.0)
    with pytest.raises(RetriableError):
        client(sleeps, policy=policy).send_statements([{"id": "a"}])
    assert len(rsps.calls) == 3
    assert len(sleeps) == 2 and all(0 < s <= 4.0 for s in sleeps)


# -- writing --------------------------------------------------------------------------------


def posted_ids(request: Any) -> list[str]:
    return [s["id"] for s in json.loads(request.body)]


def test_statements_go_in_batches_and_all_ids_come_back(rsps: Any, sleeps: Sleeps) -> None:
    rsps.post(STATEMENTS, json=[])
    statements = [{"id": f"id-{i:03}"} for i in range(250)]
    ids = client(sleeps).send_statements(statements)
    assert ids == [s["id"] for s in statements]
    assert [len(posted_ids(c.request)) for c in rsps.calls] == [100, 100, 50]


def test_204_for_statements_already_stored_is_success(rsps: Any, sleeps: Sleeps) -> None:
    rsps.post(STATEMENTS, status=204)
    assert client(sleeps).send_statements([{"id": "a"}, {"id": "b"}]) == ["a", "b"]


def test_identical_repeats_are_sent_once_and_differing_ones_refused(
    rsps: Any, sleeps: Sleeps
) -> None:
    rsps.post(STATEMENTS, json=["a"])
    lrs = client(sleeps)
    assert lrs.send_statements([{"id": "a", "v": 1}, {"id": "a", "v": 1}]) == ["a"]
    assert posted_ids(rsps.calls[0].request) == ["a"]
    with pytest.raises(ValueError, match="share the id"):
        lrs.send_statements([{"id": "a", "v": 1}, {"id": "a", "v": 2}])
    with pytest.raises(ValueError, match="statement_id"):
        lrs.send_statements([{"verb": {}}])


def stored_as(statements: dict[str, dict[str, Any]]) -> Any:
    """A GET ?statementId= (or voidedStatementId=) callback: `statements[id]` or 404."""

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        [[sid]] = parse_qs(urlsplit(request.url).query).values()
        if sid not in statements:
            return 404, {}, ""
        return 200, {}, json.dumps(statements[sid])

    return answer


def test_409_finds_the_conflicting_ids_and_still_sends_the_rest(rsps: Any, sleeps: Sleeps) -> None:
    stored: list[str] = []
    different = {sid: {"id": sid, "other": True} for sid in ("id-05", "id-11")}
    rsps.add_callback(responses.GET, STATEMENTS, callback=stored_as(different))

    def lrs(request: Any) -> tuple[int, dict[str, str], str]:
        batch = posted_ids(request)
        if "id-05" in batch or "id-11" in batch:  # atomic: a conflict refuses the batch
            return 409, {}, json.dumps({"detail": "Differing statements already exist"})
        stored.extend(batch)
        return 200, {}, json.dumps(batch)

    rsps.add_callback(responses.POST, STATEMENTS, callback=lrs)
    statements = [{"id": f"id-{i:02}"} for i in range(12)]

    with pytest.raises(StatementConflict) as caught:
        client(sleeps, batch_size=8).send_statements(statements)

    conflict = caught.value
    assert conflict.conflicts == ("id-05", "id-11")
    assert conflict.status == 409 and isinstance(conflict, FatalError)
    expected = [s["id"] for s in statements if s["id"] not in ("id-05", "id-11")]
    assert list(conflict.accepted) == expected
    assert sorted(stored) == expected


EARNED = {
    "id": "6f1d3d1e-8a53-5d8e-9a3c-0d6c1c7b2f10",
    "actor": {"objectType": "Agent", "mbox": "mailto:ana@example.org"},
    "verb": {"id": "http://id.tincanapi.com/verb/earned", "display": {"en-US": "earned"}},
    "object": {"objectType": "Activity", "id": "https://skillrelay.example/rewards/r"},
    "result": {"score": {"raw": 50}},
    "timestamp": "2026-11-05T15:00:00.000Z",
}
# What an LRS adds when it stores a statement, and how it may rewrite the timestamp.
AS_STORED = {
    **EARNED,
    "timestamp": "2026-11-05T16:00:00+01:00",
    "stored": "2026-11-06T09:00:00.000Z",
    "authority": {"objectType": "Agent", "mbox": "mailto:lrs@example.org"},
    "version": "1.0.0",
}


def test_409_for_the_statement_the_lrs_already_holds_is_success(rsps: Any, sleeps: Sleeps) -> None:
    # The spec lets an LRS answer 409 (not 204) to a statement it already has.
    rsps.post(STATEMENTS, status=409, json={"detail": "exists"})
    rsps.add_callback(responses.GET, STATEMENTS, callback=stored_as({EARNED["id"]: AS_STORED}))
    assert client(sleeps).send_statements([EARNED]) == [EARNED["id"]]
    assert [c.request.method for c in rsps.calls] == ["POST", "GET"]
    assert query(rsps.calls[1]) == {"statementId": [EARNED["id"]]}


@pytest.mark.parametrize(
    "change",
    [
        {"result": {"score": {"raw": 1}}},
        {"timestamp": "2026-11-05T15:00:01.000Z"},
        {"context": {"platform": "someone else"}},
    ],
    ids=["result", "instant", "extra-field"],
)
def test_409_for_a_different_stored_statement_is_a_conflict(
    rsps: Any, sleeps: Sleeps, change: dict[str, Any]
) -> None:
    rsps.post(STATEMENTS, status=409, json={"detail": "Differing statements already exist"})
    theirs = {**AS_STORED, **change}
    rsps.add_callback(responses.GET, STATEMENTS, callback=stored_as({EARNED["id"]: theirs}))
    with pytest.raises(StatementConflict) as caught:
        client(sleeps).send_statements([EARNED])
    assert caught.value.conflicts == (EARNED["id"],)


def test_409_for_a_statement_the_lrs_cannot_show_is_a_conflict(rsps: Any, sleeps: Sleeps) -> None:
    rsps.post(STATEMENTS, status=409, json={"detail": "exists"})
    rsps.add_callback(responses.GET, STATEMENTS, callback=stored_as({}))
    with pytest.raises(StatementConflict) as caught:
        client(sleeps).send_statements([EARNED])
    assert caught.value.conflicts == (EARNED["id"],)


@pytest.mark.parametrize("status", [400, 404, 413])
def test_other_4xx_on_write_are_fatal(rsps: Any, sleeps: Sleeps, status: int) -> None:
    rsps.post(STATEMENTS, status=status)
    with pytest.raises(FatalError) as caught:
        client(sleeps).send_statements([{"id": "a"}])
    assert caught.value.status == status
    assert not isinstance(caught.value, StatementConflict)
    assert sleeps == []


# -- one statement --------------------------------------------------------------------------


def test_get_statement_asks_voided_statement_id_after_a_404(rsps: Any, sleeps: Sleeps) -> None:
    target = load("completed")
    rsps.get(STATEMENTS, status=404)
    rsps.get(STATEMENTS, json=target)
    assert client(sleeps).get_statement(target["id"]) == target
    assert [list(query(c)) for c in rsps.calls] == [["statementId"], ["voidedStatementId"]]


def test_get_statement_accepts_only_the_asked_id(rsps: Any, sleeps: Sleeps) -> None:
    # Ralph: a StatementResult for statementId, and every statement for voidedStatementId.
    rsps.get(STATEMENTS, json={"statements": []})
    rsps.get(STATEMENTS, json=result("viewed", "uncompleted"))
    assert client(sleeps).get_statement(load("completed")["id"]) is None
    rsps.get(STATEMENTS, json=result("completed"))
    assert client(sleeps).get_statement(load("completed")["id"]) == load("completed")
