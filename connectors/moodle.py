"""Moodle web services over REST: one client, typed answers, errors classified in one place.

Cost: a completion sync makes 1 + M + sum over courses of (1 + U) calls, plus 1 when a
course could not be read: 1 core_webservice_get_site_info (token and function check), 1
core_course_get_course_module per manifest module without moodle_course (M), then per course
1 core_enrol_get_enrolled_users and 1 core_completion_get_activities_completion_status per
enrolled user (U), since Moodle has no bulk completion read; 1 core_course_get_courses_by_field
names the courses that failed. `SYNC_COST` is this paragraph for the README;
`calls_per_sync` computes it, and a test counts it on the wire.

The token travels in the POST body, never in a URL, and is registered with the log redactor.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import requests
from pydantic import TypeAdapter, ValidationError

from connectors.http import HttpClient, RetryPolicy
from connectors.moodle_models import (
    ActivitiesCompletion,
    CourseModuleAnswer,
    CoursesByField,
    CourseSection,
    CourseSummary,
    MessageOutcome,
    ModuleInCourse,
    MoodleCourse,
    MoodleUser,
    SentMessage,
    SiteInfo,
)
from connectors.moodle_wire import decode_json, encode_params, raise_for_body
from plugin.errors import AuthError, FatalError
from plugin.logs import register_secret

log = logging.getLogger("skillrelay.moodle")

ENDPOINT = "webservice/rest/server.php"
UserField = Literal["id", "idnumber", "username", "email"]
T = TypeVar("T")

SITE_INFO = "core_webservice_get_site_info"
USERS_BY_FIELD = "core_user_get_users_by_field"
USERS_COURSES = "core_enrol_get_users_courses"
ENROLLED_USERS = "core_enrol_get_enrolled_users"
ACTIVITIES_COMPLETION = "core_completion_get_activities_completion_status"
COURSE_CONTENTS = "core_course_get_contents"
COURSE_MODULE = "core_course_get_course_module"
COURSES_BY_FIELD = "core_course_get_courses_by_field"
SEND_MESSAGES = "core_message_send_instant_messages"

# What manifest/moodle-functions.txt lists: every function skillrelay calls.
REQUIRED_FUNCTIONS: tuple[str, ...] = (
    SITE_INFO,
    USERS_BY_FIELD,
    COURSE_MODULE,
    COURSES_BY_FIELD,
    ENROLLED_USERS,
    ACTIVITIES_COMPLETION,
    SEND_MESSAGES,
)
SYNC_FUNCTIONS: tuple[str, ...] = (
    SITE_INFO,
    COURSE_MODULE,
    COURSES_BY_FIELD,
    ENROLLED_USERS,
    ACTIVITIES_COMPLETION,
)

_SITE_INFO = TypeAdapter(SiteInfo)
_USERS = TypeAdapter(list[MoodleUser])
_COURSES = TypeAdapter(list[MoodleCourse])
_COMPLETION = TypeAdapter(ActivitiesCompletion)
_SECTIONS = TypeAdapter(list[CourseSection])
_SENT = TypeAdapter(list[SentMessage])
_COURSE_MODULE = TypeAdapter(CourseModuleAnswer)
_COURSES_BY_FIELD = TypeAdapter(CoursesByField)

SYNC_COST = """\
**Moodle sync cost.** Each sync makes `1 + M + Σ(1 + U)` web-service calls, plus 1 when a
course could not be read. `M` is the number of manifest modules without `moodle_course`;
the sum runs over the courses that hold the manifest's modules, `U` being a course's number
of enrolled users. That is one `core_webservice_get_site_info` (checks the token and its
functions), one `core_course_get_course_module` per module without `moodle_course` (finds
its course; every sync), then per course one `core_enrol_get_enrolled_users` and one
`core_completion_get_activities_completion_status` per enrolled user (Moodle has no bulk
completion read). A course that cannot be read counts the calls made before it failed (one
when Moodle refuses its enrolled users), and one `core_course_get_courses_by_field` at the
end names every such course. Example: 3 courses of 200 learners, every module with its
`moodle_course` = 1 + 0 + 3 × 201 = 604 calls, about 15 s with 4 calls in flight at 100 ms
each (`concurrency` in the manifest).
"""


def calls_per_sync(
    enrolled_per_course: Sequence[int],
    modules_without_course: int = 0,
    *,
    any_course_failed: bool = False,
) -> int:
    """Web-service calls one sync makes (see SYNC_COST); a failed course counts 0 users."""
    courses = sum(1 + users for users in enrolled_per_course)
    return 1 + modules_without_course + courses + (1 if any_course_failed else 0)


class MoodleClient(HttpClient):
    """Calls `POST <url>/webservice/rest/server.php` with the token and arguments in the body."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        policy: RetryPolicy | None = None,
    ) -> None:
        if not token:
            raise AuthError("moodle", "no web-service token configured")
        super().__init__("moodle", url, session=session, policy=policy, sleep=sleep, clock=clock)
        register_secret(token)
        self._token = token

    def call(self, wsfunction: str, params: Mapping[str, Any] | None = None) -> Any:
        """One web-service call; returns the decoded JSON result or raises a classified error."""
        form = [
            ("wstoken", self._token),
            ("wsfunction", wsfunction),
            ("moodlewsrestformat", "json"),
            *encode_params(params or {}),
        ]
        decoded: list[Any] = []

        def classify_body(response: requests.Response) -> None:
            body = decode_json(self.service, wsfunction, response)
            raise_for_body(self.service, wsfunction, body)
            decoded[:] = [body]

        try:
            self.request("POST", ENDPOINT, data=form, classify_body=classify_body)
        except AuthError as exc:
            if exc.status == 403:  # server.php answers a bare 403 when REST is off
                raise AuthError(
                    self.service,
                    f"{wsfunction}: forbidden; check that web services and the REST protocol "
                    "are enabled (Site administration > Server > Web services > Overview)",
                    403,
                ) from None
            raise
        except FatalError as exc:
            if exc.status == 404:
                raise FatalError(
                    self.service, f"{wsfunction}: {ENDPOINT} not found; check the Moodle URL", 404
                ) from None
            raise
        return decoded[0]

    # --- functions -------------------------------------------------------------------------

    def site_info(self) -> SiteInfo:
        return self._parse(SITE_INFO, _SITE_INFO, self.call(SITE_INFO))

    def check_functions(self, required: Sequence[str]) -> list[str]:
        """The required functions the token's service does not offer, by name, in order."""
        return missing_functions(self.site_info(), required)

    def connect(self, required: Sequence[str] = REQUIRED_FUNCTIONS) -> SiteInfo:
        """Check the token and that every required function is allowed; one call."""
        info = self.site_info()
        missing = missing_functions(info, required)
        if missing:
            raise AuthError(
                self.service,
                f"the token's service lacks {len(missing)} required function(s): "
                f"{', '.join(missing)}; add them in Site administration > Server > "
                "Web services > External services > (the service) > Functions",
            )
        return info

    def users_by_field(self, field: UserField, values: Sequence[str | int]) -> list[MoodleUser]:
        if not values:
            return []
        body = self.call(USERS_BY_FIELD, {"field": field, "values": list(values)})
        return self._parse(USERS_BY_FIELD, _USERS, body)

    def users_courses(self, userid: int) -> list[MoodleCourse]:
        body = self.call(USERS_COURSES, {"userid": userid, "returnusercount": False})
        return self._parse(USERS_COURSES, _COURSES, body)

    def enrolled_users(
        self,
        courseid: int,
        *,
        fields: Sequence[str] = ("id", "fullname", "email"),
        only_active: bool = False,
    ) -> list[MoodleUser]:
        """Enrolled users with only `fields` (Moodle's `userfields` option; keep `fullname`,
        the answer requires it). `only_active` needs moodle/course:enrolreview."""
        options: list[dict[str, Any]] = [{"name": "userfields", "value": ",".join(fields)}]
        if only_active:
            options.append({"name": "onlyactive", "value": True})
        body = self.call(ENROLLED_USERS, {"courseid": courseid, "options": options})
        return self._parse(ENROLLED_USERS, _USERS, body)

    def activities_completion(self, courseid: int, userid: int) -> ActivitiesCompletion:
        body = self.call(ACTIVITIES_COMPLETION, {"courseid": courseid, "userid": userid})
        return self._parse(ACTIVITIES_COMPLETION, _COMPLETION, body)

    def course_module(self, cmid: int) -> ModuleInCourse:
        """Where a course module lives (its course id), read from its cmid alone."""
        body = self.call(COURSE_MODULE, {"cmid": cmid})
        return self._parse(COURSE_MODULE, _COURSE_MODULE, body).cm

    def courses_by_ids(self, courseids: Sequence[int]) -> list[CourseSummary]:
        """Courses by id; for one the token's user may not enter, Moodle still gives its
        public fields (name) when the course is visible, and leaves out hidden ones."""
        if not courseids:
            return []
        value = ",".join(str(c) for c in courseids)
        body = self.call(COURSES_BY_FIELD, {"field": "ids", "value": value})
        return list(self._parse(COURSES_BY_FIELD, _COURSES_BY_FIELD, body).courses)

    def course_contents(self, courseid: int) -> list[CourseSection]:
        options = [{"name": "excludecontents", "value": True}]  # no file lists: smaller answer
        body = self.call(COURSE_CONTENTS, {"courseid": courseid, "options": options})
        return self._parse(COURSE_CONTENTS, _SECTIONS, body)

    def send_messages(self, messages: Sequence[tuple[int, str]]) -> list[MessageOutcome]:
        """Send instant messages (HTML, textformat 1); one outcome per message, same order.

        Moodle reports a refused message as `msgid: -1` with an `errormessage`, not as an
        exception: each becomes an outcome with `error` set and is logged (no text, no body).
        Not idempotent: a 502/504 retried by the shared policy may send a message twice.
        """
        if not messages:
            return []
        payload = [{"touserid": to, "text": text, "textformat": 1} for to, text in messages]
        body = self.call(SEND_MESSAGES, {"messages": payload})
        sent = self._parse(SEND_MESSAGES, _SENT, body)
        if len(sent) != len(messages):
            raise FatalError(
                self.service,
                f"{SEND_MESSAGES}: {len(sent)} results for {len(messages)} messages",
            )
        outcomes = [_outcome(to, result) for (to, _), result in zip(messages, sent, strict=True)]
        failed = [o.touserid for o in outcomes if not o.ok]
        if failed:
            log.warning("moodle: %d of %d messages not sent", len(failed), len(outcomes))
        return outcomes

    def _parse(self, wsfunction: str, adapter: TypeAdapter[T], body: Any) -> T:
        try:
            return adapter.validate_python(body)
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "(top)"
            raise FatalError(
                self.service,
                f"{wsfunction}: unexpected answer shape at {where}: {first['msg']}",
            ) from None


def missing_functions(info: SiteInfo, required: Sequence[str]) -> list[str]:
    offered = info.function_names
    return [name for name in required if name not in offered]


def _outcome(touserid: int, result: SentMessage) -> MessageOutcome:
    if result.msgid == -1:
        return MessageOutcome(touserid, None, result.errormessage or "message not sent")
    return MessageOutcome(touserid, result.msgid)
