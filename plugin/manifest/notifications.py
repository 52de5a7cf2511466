"""Where nudges and award notices go, and how many a person may get (validated now, used later)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, StrictInt, model_validator

from plugin.manifest.base import Problems, Strict, TimeOfDay

Event = Literal["awarded", "approval_needed", "revoked", "apply_suggestion"]
ALL_EVENTS: tuple[Event, ...] = ("awarded", "approval_needed", "revoked", "apply_suggestion")


class JiraCommentChannel(Strict):
    """A comment on the ticket that earned the reward."""

    type: Literal["jira_comment"]
    events: tuple[Event, ...] = ("awarded", "revoked")


class MoodleMessageChannel(Strict):
    """A Moodle instant message to the learner."""

    type: Literal["moodle_message"]
    events: tuple[Event, ...] = ALL_EVENTS


class LrsStatementChannel(Strict):
    """xAPI statements ("applied", "earned") written back to the LRS."""

    type: Literal["lrs_statement"]
    events: tuple[Event, ...] = ("awarded", "revoked")


Channel = Annotated[
    JiraCommentChannel | MoodleMessageChannel | LrsStatementChannel,
    Field(discriminator="type"),
]


class QuietHours(Strict):
    """No notifications between start and end, organisation time; may wrap past midnight."""

    start: TimeOfDay
    end: TimeOfDay

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise Problems([(("end",), "quiet hours must end at a different time than they start")])
        return self


class NotificationBudget(Strict):
    per_person_per_week: Annotated[StrictInt, Field(ge=0)] = 3
    quiet_hours: QuietHours | None = None


class Notifications(Strict):
    channels: tuple[Channel, ...] = ()
    budget: NotificationBudget = NotificationBudget()
