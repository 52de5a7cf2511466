"""Typed views of the Moodle web-service answers skillrelay reads (lenient: extra="ignore").

Only the fields we use are modelled; Moodle 4.x adds many more and may add others later.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from pydantic import BaseModel, ConfigDict, Field


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SiteFunction(Lenient):
    name: str
    version: str | None = None


class SiteInfo(Lenient):
    """core_webservice_get_site_info."""

    sitename: str = ""
    username: str = ""
    userid: int
    siteurl: str = ""
    release: str | None = None
    version: str | None = None
    functions: tuple[SiteFunction, ...] = ()

    @property
    def function_names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.functions)


class MoodleUser(Lenient):
    """A user_description (users_by_field) or an enrolled user (fields limited by request)."""

    id: int
    username: str | None = None
    fullname: str | None = None
    email: str | None = None  # absent when the token's user may not see it
    idnumber: str | None = None
    suspended: bool | None = None
    lang: str | None = None  # the user's language, e.g. "ru" or "en_us"


class MoodleCourse(Lenient):
    """core_enrol_get_users_courses item."""

    id: int
    shortname: str = ""
    fullname: str = ""
    idnumber: str | None = None
    visible: bool | None = None
    enablecompletion: bool | None = None
    completed: bool | None = None
    progress: float | None = None


class CourseSummary(Lenient):
    """core_course_get_courses_by_field item (only public fields for a course the token's
    user may not enter)."""

    id: int
    fullname: str = ""
    shortname: str = ""


class CoursesByField(Lenient):
    courses: tuple[CourseSummary, ...] = ()


class ModuleInCourse(Lenient):
    """core_course_get_course_module `cm`: where a course module lives."""

    id: int  # the cmid
    course: int
    module: int | None = None
    name: str = ""
    modname: str = ""
    instance: int | None = None


class CourseModuleAnswer(Lenient):
    cm: ModuleInCourse


class CompletionStateCode(IntEnum):
    """Moodle's COMPLETION_* states for an activity."""

    INCOMPLETE = 0
    COMPLETE = 1
    COMPLETE_PASS = 2
    COMPLETE_FAIL = 3


class RuleValue(Lenient):
    """How far one completion rule is met: `status` is a COMPLETION_* state (1: met)."""

    status: int = 0
    description: str = ""


class RuleResult(Lenient):
    """One `details` item (core_completion\\cm_completion_details, Moodle 3.11+), e.g.
    {"rulename": "completionview", "rulevalue": {"status": 1, "description": "View"}}."""

    rulename: str = ""
    rulevalue: RuleValue = RuleValue()


VIEW_RULE = "completionview"  # the rule "the student must view this activity"


class ActivityStatus(Lenient):
    cmid: int
    modname: str = ""
    instance: int | None = None
    state: int
    timecompleted: int = 0  # unix seconds; 0 when never set
    tracking: int = 0  # 0 none, 1 manual, 2 automatic
    overrideby: int | None = None
    istrackeduser: bool | None = None  # Moodle 4.0+; False for teachers and other non-learners
    # Moodle 3.11+, automatic tracking only: one result per rule; absent before 3.11.
    details: tuple[RuleResult, ...] = ()

    @property
    def viewed(self) -> bool:
        """True when the activity has a "view" rule and this user met it. Moodle gives no
        view time here. Under a manual override the rule reports the overall state instead."""
        return any(
            d.rulename == VIEW_RULE and d.rulevalue.status == CompletionStateCode.COMPLETE
            for d in self.details
        )


class MoodleWarning(Lenient):
    item: str | None = None
    itemid: int | None = None
    warningcode: str | None = None
    message: str | None = None

    def describe(self) -> str:
        what = f"{self.item} {self.itemid}" if self.item else "warning"
        return f"{what}: {self.warningcode or 'warning'}: {self.message or ''}".rstrip(": ")


class ActivitiesCompletion(Lenient):
    """core_completion_get_activities_completion_status."""

    statuses: tuple[ActivityStatus, ...] = ()
    warnings: tuple[MoodleWarning, ...] = ()


class CourseModule(Lenient):
    id: int  # the cmid
    name: str = ""
    instance: int | None = None
    modname: str = ""
    completion: int | None = None  # tracking: 0 none, 1 manual, 2 automatic


class CourseSection(Lenient):
    """core_course_get_contents item."""

    id: int
    name: str = ""
    section: int | None = None
    modules: tuple[CourseModule, ...] = Field(default=())


class SentMessage(Lenient):
    """core_message_send_instant_messages item: msgid -1 means this message failed."""

    msgid: int
    clientmsgid: str | None = None
    errormessage: str | None = None
    conversationid: int | None = None
    timecreated: int | None = None


@dataclass(frozen=True)
class MessageOutcome:
    """What happened to one message we asked Moodle to send."""

    touserid: int
    msgid: int | None  # None when Moodle refused it
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None
