"""A small Moodle on 127.0.0.1: the REST endpoint, answering in Moodle's documented shapes
(the recorded fixtures, with ids and names filled in), and a log of every call made."""

from __future__ import annotations

import copy
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

FIXTURES = Path(__file__).parent / "fixtures" / "moodle"
ENDPOINT = "/webservice/rest/server.php"
# What an activity status held before Moodle 3.11 added `details` and the flags beside it.
LEGACY_STATUS = {"cmid", "modname", "instance", "state", "timecompleted", "tracking", "overrideby"}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@dataclass
class Course:
    fullname: str
    users: list[int] = field(default_factory=list)
    cmids: list[int] = field(default_factory=list)
    error: str | None = None  # fixture answered to core_enrol_get_enrolled_users


@dataclass
class Site:
    """What the fake Moodle holds; tests change it between syncs."""

    courses: dict[int, Course] = field(default_factory=dict)
    states: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)  # (user, cm)
    hidden_modules: set[int] = field(default_factory=set)  # the token's user cannot see these
    view_rule: set[int] = field(default_factory=set)  # cmids completed by viewing (and more)
    viewed: set[tuple[int, int]] = field(default_factory=set)  # (user, cm): view rule met
    non_learners: set[int] = field(default_factory=set)  # teachers: istrackeduser false
    details: bool = True  # False: answer as Moodle before 3.11, without `details`
    user_errors: dict[int, str] = field(default_factory=dict)  # user -> error fixture answered
    token_user_courses: list[int] = field(default_factory=list)  # a site admin: none
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def counts(self) -> Counter[str]:
        return Counter(function for function, _ in self.calls)

    def answer(self, function: str, form: dict[str, str]) -> Any:
        with self.lock:
            self.calls.append((function, form))
        handler = getattr(self, "do_" + function, None)
        if handler is None:
            raise AssertionError(f"unexpected call {function}")
        return handler(form)

    def do_core_webservice_get_site_info(self, form: dict[str, str]) -> Any:
        info = fixture("site_info")
        info.update(userid=2, username="admin", userissiteadmin=True)
        return info

    def do_core_course_get_course_module(self, form: dict[str, str]) -> Any:
        cmid = int(form["cmid"])
        if cmid in self.hidden_modules:
            return fixture("error_requireloginerror")
        for courseid, course in self.courses.items():
            if cmid in course.cmids:
                answer = fixture("course_module")
                answer["cm"].update(id=cmid, course=courseid, name=f"Module {cmid}")
                return answer
        return fixture("error_invalidrecord")

    def do_core_enrol_get_enrolled_users(self, form: dict[str, str]) -> Any:
        courseid = int(form["courseid"])
        course = self.courses.get(courseid)
        if course is None:
            return fixture("error_invalidrecord") | {
                "message": "Can't find data record in database table course."
            }
        if course.error:
            body = fixture(course.error)
            body["message"] = re.sub(r"course id:\d+", f"course id:{courseid}", body["message"])
            return body
        return [
            {"id": u, "fullname": f"Learner {u}", "email": f"learner{u}@example.org"}
            for u in course.users
        ]

    def do_core_completion_get_activities_completion_status(self, form: dict[str, str]) -> Any:
        course = self.courses[int(form["courseid"])]
        userid = int(form["userid"])
        if userid in self.user_errors:
            return fixture(self.user_errors[userid])
        template = fixture("activities_completion")["statuses"][1]
        with_view = fixture("activities_completion_viewed")["statuses"][0]
        statuses = []
        for cmid in course.cmids:
            status = copy.deepcopy(with_view if cmid in self.view_rule else template)
            state, when = self.states.get((userid, cmid), (0, 0))
            status.update(cmid=cmid, state=state, timecompleted=when)
            for rule in status["details"]:
                if rule["rulename"] == "completionview":
                    rule["rulevalue"]["status"] = int((userid, cmid) in self.viewed)
            if userid in self.non_learners:
                status["istrackeduser"] = False
            if not self.details:
                for name in set(status) - LEGACY_STATUS:
                    del status[name]
            statuses.append(status)
        return {"statuses": statuses, "warnings": []}

    def do_core_course_get_courses_by_field(self, form: dict[str, str]) -> Any:
        assert form["field"] == "ids"
        template = fixture("courses_by_field")["courses"][0]
        courses = []
        for courseid in (int(i) for i in form["value"].split(",")):
            if courseid in self.courses:
                name = self.courses[courseid].fullname
                courses.append(template | {"id": courseid, "fullname": name, "displayname": name})
        return {"courses": courses, "warnings": []}

    def do_core_enrol_get_users_courses(self, form: dict[str, str]) -> Any:
        template = fixture("users_courses")[0]
        return [template | {"id": c} for c in self.token_user_courses]

    def do_core_course_get_contents(self, form: dict[str, str]) -> Any:
        course = self.courses.get(int(form["courseid"]))
        modules = [
            {"id": cmid, "name": f"Module {cmid}", "modname": "page"}
            for cmid in (course.cmids if course else [])
        ]
        return [{"id": 1, "name": "General", "section": 0, "modules": modules}]


@contextmanager
def moodle_server(site: Site) -> Iterator[str]:
    """Serve `site` on 127.0.0.1 until the block ends; yields the site's base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode("utf-8")))
            assert self.path == ENDPOINT, self.path
            assert form.pop("moodlewsrestformat") == "json"
            assert form.pop("wstoken")
            body = json.dumps(site.answer(form.pop("wsfunction"), form)).encode("utf-8")
            self.send_response(200)  # Moodle answers exceptions with 200 too
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# The example manifest's Moodle side: course -> its modules (cmids), learners 101-111.
NORTHWIND = {
    21: [2101, 2102],
    22: [2201, 2202],
    23: [2301, 2302],
    24: [2401, 2402],
    25: [2501, 2502],
    26: [2601, 2602],
}
NAMES = {
    21: "SQL indexing",
    22: "Feature flags",
    23: "Incident postmortems",
    24: "Accessible UI",
    25: "API contract testing",
    26: "Secrets handling",
}


def northwind_site(users: int = 2) -> Site:
    """The example manifest's six courses, each with `users` learners (ids from 101)."""
    learners = list(range(101, 101 + users))
    return Site(
        courses={
            courseid: Course(NAMES[courseid], list(learners), list(cmids))
            for courseid, cmids in NORTHWIND.items()
        }
    )


def northwind_manifest(example: str, url: str, unplaced: tuple[int, ...] = ()) -> str:
    """The example manifest pointed at `url`; modules in `unplaced` lose their moodle_course."""
    text = example.replace("url: https://lms.northwind.example\n", f"url: {url}\n")
    for cmid in unplaced:
        pattern = rf"(moodle_cmid: {cmid}\n)\s*moodle_course: \d+\n"
        text, count = re.subn(pattern, r"\1", text)
        assert count == 1, cmid
    return text
