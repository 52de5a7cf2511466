"""MoodleClient against recorded Moodle 4.x answers (responses): transport, errors, functions."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from connectors.http import RetryPolicy
from connectors.moodle import REQUIRED_FUNCTIONS, SYNC_COST, MoodleClient, calls_per_sync
from connectors.moodle_wire import ContextAccessError
from plugin.errors import AuthError, FatalError, RetriableError

FIXTURES = Path(__file__).parent / "fixtures" / "moodle"
URL = "https://lms.example.org/moodle"
ENDPOINT = f"{URL}/webservice/rest/server.php"
TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
JSON = {"Content-Type": "application/json"}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def fields(request: requests.PreparedRequest) -> list[tuple[str, str]]:
    body = request.body
    text = body.decode() if isinstance(body, bytes) else str(body or "")
    return parse_qsl(text, keep_blank_values=True)


class Recorder:
    """Answers each POST with the next queued (status, body) and keeps the requests."""

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.answers: list[tuple[int, Any]] = []
        self.requests: list[requests.PreparedRequest] = []
        rsps.add_callback(responses.POST, ENDPOINT, callback=self.handle)

    def queue(self, body: Any, status: int = 200) -> Recorder:
        self.answers.append((status, body))
        return self

    def handle(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        self.requests.append(request)
        status, body = self.answers.pop(0)
        text = body if isinstance(body, str) else json.dumps(body)
        headers = {"Content-Type": "text/html"} if isinstance(body, str) else JSON
        return status, headers, text

    def form(self, index: int = -1) -> dict[str, str]:
        return dict(fields(self.requests[index]))


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def server(rsps: responses.RequestsMock) -> Recorder:
    return Recorder(rsps)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> MoodleClient:
    policy = RetryPolicy(attempts=3, backoff_base=0.01, backoff_cap=0.05)
    return MoodleClient(
        URL, TOKEN, sleep=sleeps.append, clock=lambda: 1_700_000_000.0, policy=policy
    )


def test_token_and_arguments_travel_in_the_body(
    client: MoodleClient, server: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    server.queue(fixture("activities_completion"))
    with caplog.at_level(logging.DEBUG, logger="skillrelay"):
        client.activities_completion(7, 5)
    request = server.requests[0]
    assert request.method == "POST"
    assert request.url == ENDPOINT
    assert urlsplit(request.url or "").query == ""
    assert TOKEN not in (request.url or "")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert fields(request) == [
        ("wstoken", TOKEN),
        ("wsfunction", "core_completion_get_activities_completion_status"),
        ("moodlewsrestformat", "json"),
        ("courseid", "7"),
        ("userid", "5"),
    ]
    assert "server.php" in caplog.text
    assert TOKEN not in caplog.text


def test_site_info_and_function_check(client: MoodleClient, server: Recorder) -> None:
    server.queue(fixture("site_info")).queue(fixture("site_info_limited"))
    info = client.site_info()
    assert (info.sitename, info.userid, info.release) == (
        "Acme Learning",
        3,
        "4.3.2 (Build: 20231222)",
    )
    assert set(REQUIRED_FUNCTIONS) <= info.function_names
    assert client.check_functions(REQUIRED_FUNCTIONS) == [
        "core_completion_get_activities_completion_status",
        "core_message_send_instant_messages",
    ]


def test_connect_names_every_missing_function(client: MoodleClient, server: Recorder) -> None:
    server.queue(fixture("site_info_limited"))
    with pytest.raises(AuthError) as caught:
        client.connect()
    message = str(caught.value)
    assert "2 required function(s)" in message
    assert "core_completion_get_activities_completion_status" in message
    assert "core_message_send_instant_messages" in message
    assert "core_course_get_contents" not in message


def test_connect_returns_site_info(client: MoodleClient, server: Recorder) -> None:
    server.queue(fixture("site_info"))
    assert client.connect().username == "skillrelay"
    assert len(server.requests) == 1


ERRORS: list[tuple[str, type[Exception], str]] = [
    ("error_invalidtoken", AuthError, "invalidtoken"),
    ("error_accessexception", AuthError, "core_enrol_get_users_courses"),
    ("error_accessexception_debug", AuthError, "function core_enrol_get_users_courses is not"),
    ("error_invalidparameter", FatalError, "invalidparameter"),
    ("error_nopermissions", ContextAccessError, "nopermissions"),
]


@pytest.mark.parametrize(("name", "kind", "says"), ERRORS, ids=[e[0] for e in ERRORS])
def test_exception_bodies_are_classified_once(
    client: MoodleClient, server: Recorder, sleeps: list[float], name: str, kind: type, says: str
) -> None:
    server.queue(fixture(name))
    with pytest.raises(kind) as caught:
        client.users_courses(5)
    assert type(caught.value) is kind
    assert says in str(caught.value)
    assert "debuginfo" not in str(caught.value)
    assert (len(server.requests), sleeps) == (1, [])  # not retried


def test_non_json_body_is_fatal(client: MoodleClient, server: Recorder) -> None:
    server.queue("<html><body>Moodle login</body></html>")
    with pytest.raises(FatalError, match=r"not JSON.*text/html") as caught:
        client.site_info()
    assert not isinstance(caught.value, AuthError)
    assert "login" not in str(caught.value)


def test_503_then_200_is_retried_with_the_injected_sleep(
    client: MoodleClient, server: Recorder, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_real_sleep(seconds: float) -> None:
        raise AssertionError("slept for real")

    monkeypatch.setattr(time, "sleep", no_real_sleep)
    server.queue({"error": "busy"}, status=503).queue(fixture("site_info"))
    assert client.site_info().userid == 3
    assert len(server.requests) == 2
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.05
    assert server.form(1)["wstoken"] == TOKEN  # the retry sends the same body


def test_maintenance_is_retriable(
    client: MoodleClient, server: Recorder, sleeps: list[float]
) -> None:
    for _ in range(3):
        server.queue(fixture("error_sitemaintenance"))
    with pytest.raises(RetriableError, match="sitemaintenance"):
        client.site_info()
    assert len(server.requests) == 3 and len(sleeps) == 2


@pytest.mark.parametrize(
    ("status", "kind", "says"),
    [(403, AuthError, "REST protocol"), (404, FatalError, "check the Moodle URL")],
    ids=["403-rest-disabled", "404-wrong-url"],
)
def test_http_errors_get_a_hint(
    client: MoodleClient, server: Recorder, status: int, kind: type, says: str
) -> None:
    server.queue("", status=status)
    with pytest.raises(kind, match=says) as caught:
        client.site_info()
    assert caught.value.status == status  # type: ignore[attr-defined]


def test_unexpected_shape_is_fatal_without_values(client: MoodleClient, server: Recorder) -> None:
    server.queue([{"id": "not-a-number", "email": "ada@example.org"}])
    with pytest.raises(FatalError, match=r"unexpected answer shape at 0\.id") as caught:
        client.users_by_field("email", ["ada@example.org"])
    assert "ada@" not in str(caught.value)


def test_users_by_field(client: MoodleClient, server: Recorder) -> None:
    server.queue(fixture("users_by_field"))
    users = client.users_by_field("email", ["ada@example.org", "alan@example.org"])
    assert [(u.id, u.email, u.idnumber) for u in users] == [
        (5, "ada@example.org", "E-1001"),
        (6, "alan@example.org", "E-1002"),
    ]
    assert [u.lang for u in users] == ["en", "ru"]  # what messages fall back to
    form = server.form()
    assert (form["field"], form["values[0]"], form["values[1]"]) == (
        "email",
        "ada@example.org",
        "alan@example.org",
    )


def test_users_by_field_without_values_makes_no_call(
    client: MoodleClient, server: Recorder
) -> None:
    assert client.users_by_field("id", []) == []
    assert server.requests == []


def test_users_courses_skips_the_user_count(client: MoodleClient, server: Recorder) -> None:
    server.queue(fixture("users_courses"))
    courses = client.users_courses(5)
    assert [(c.id, c.shortname, c.progress) for c in courses] == [
        (7, "SEC101", 50.0),
        (9, "OBS201", None),
    ]
    assert server.form()["returnusercount"] == "0"


@pytest.mark.parametrize(
    ("only_active", "extra"),
    [(False, {}), (True, {"options[1][name]": "onlyactive", "options[1][value]": "1"})],
    ids=["all", "only-active"],
)
def test_enrolled_users_limits_fields(
    client: MoodleClient, server: Recorder, only_active: bool, extra: dict[str, str]
) -> None:
    server.queue(fixture("enrolled_users"))
    users = client.enrolled_users(7, only_active=only_active)
    assert [(u.id, u.email) for u in users][2] == (8, None)
    form = server.form()
    del form["wstoken"]
    assert form == {
        "wsfunction": "core_enrol_get_enrolled_users",
        "moodlewsrestformat": "json",
        "courseid": "7",
        "options[0][name]": "userfields",
        "options[0][value]": "id,fullname,email",
        **extra,
    }


def test_activities_completion(client: MoodleClient, server: Recorder) -> None:
    server.queue(fixture("activities_completion"))
    result = client.activities_completion(7, 5)
    assert [(s.cmid, s.state, s.timecompleted) for s in result.statuses] == [
        (2, 0, 0),
        (45, 2, 1_700_100_000),
        (46, 1, 1_700_050_000),
        (47, 0, 0),
    ]
    assert result.warnings == ()


def test_course_contents_lists_cmids(client: MoodleClient, server: Recorder) -> None:
    server.queue(fixture("course_contents"))
    sections = client.course_contents(7)
    assert [[m.id for m in s.modules] for s in sections] == [[2], [45, 46], [47]]
    form = server.form()
    assert (form["options[0][name]"], form["options[0][value]"]) == ("excludecontents", "1")


def test_send_messages_reports_partial_failure(
    client: MoodleClient, server: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    server.queue(fixture("send_messages_partial"))
    with caplog.at_level(logging.WARNING, logger="skillrelay.moodle"):
        outcomes = client.send_messages([(5, "<p>You applied it</p>"), (8, "<p>Nudge</p>")])
    assert [(o.touserid, o.msgid, o.ok, o.error) for o in outcomes] == [
        (5, 311, True, None),
        (8, None, False, "You are unable to message this user"),
    ]
    assert "1 of 2 messages not sent" in caplog.text
    assert "Nudge" not in caplog.text
    form = server.form()
    assert form["messages[0][touserid]"] == "5"
    assert form["messages[0][text]"] == "<p>You applied it</p>"
    assert form["messages[0][textformat]"] == "1"
    assert form["messages[1][touserid]"] == "8"


def test_send_messages_result_count_mismatch_is_fatal(
    client: MoodleClient, server: Recorder
) -> None:
    server.queue([fixture("send_messages_partial")[0]])
    with pytest.raises(FatalError, match="1 results for 2 messages"):
        client.send_messages([(5, "a"), (6, "b")])


def test_empty_token_is_refused() -> None:
    with pytest.raises(AuthError, match="no web-service token"):
        MoodleClient(URL, "")


@pytest.mark.parametrize(
    ("per_course", "located", "calls"),
    [([], 0, 1), ([4], 0, 6), ([200, 200, 200], 0, 604), ([10], 2, 14)],
    ids=["no-course", "one", "readme-example", "with-locate"],
)
def test_calls_per_sync(per_course: list[int], located: int, calls: int) -> None:
    assert calls_per_sync(per_course, located) == calls
    assert "604" in SYNC_COST


def test_course_module_gives_the_course_of_a_cmid(client: MoodleClient, server: Recorder) -> None:
    server.queue(fixture("course_module")).queue(fixture("error_invalidrecord"))
    cm = client.course_module(46)
    assert (cm.id, cm.course, cm.modname) == (46, 7, "page")
    assert server.form()["wsfunction"] == "core_course_get_course_module"
    assert server.form()["cmid"] == "46"
    with pytest.raises(FatalError, match="invalidrecord: Can't find data record"):
        client.course_module(999)


def test_courses_by_ids_reads_names_in_one_call(client: MoodleClient, server: Recorder) -> None:
    server.queue(fixture("courses_by_field"))
    [course] = client.courses_by_ids([23, 404])
    assert (course.id, course.fullname) == (23, "Incident postmortems")
    assert (server.form()["field"], server.form()["value"]) == ("ids", "23,404")
    assert client.courses_by_ids([]) == [] and len(server.requests) == 1
