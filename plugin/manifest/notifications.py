"""Where nudges and award notices go, how many a person may get, and when."""

from __future__ import annotations

from typing import Annotated, Literal, Self, get_args

from pydantic import Field, StrictBool, StrictInt, model_validator

from plugin.manifest.base import Email, EnvName, Id, Problems, Strict, Text, TimeOfDay

Event = Literal[
    "awarded",
    "approval_needed",
    "revoked",
    "apply_suggestion",
    "checkin_prompt",
    "checkin_overdue",
    "stalled_reminder",
    "sprint_invitation",
    "sprint_nudge",
    "sprint_wrapup",
    "digest",
]
ALL_EVENTS: tuple[Event, ...] = get_args(Event)


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


class Smtp(Strict):
    host: Text
    port: Annotated[StrictInt, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"  # none: a relay on localhost only
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    sender: Email = Field(alias="from")


class EmailChannel(Strict):
    """E-mail over SMTP, plain text and HTML, with a one-click unsubscribe link."""

    type: Literal["email"]
    events: tuple[Event, ...] = ALL_EVENTS
    smtp: Smtp


class ChatChannel(Strict):
    """A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat); the URL is a
    secret, so it comes from an environment variable."""

    type: Literal["chat"]
    events: tuple[Event, ...] = ALL_EVENTS
    url_env: EnvName


Channel = Annotated[
    JiraCommentChannel | MoodleMessageChannel | LrsStatementChannel | EmailChannel | ChatChannel,
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
    """Across all channels, in rolling windows; quiet hours in each person's own zone."""

    per_person_per_day: Annotated[StrictInt, Field(ge=0)] = 2
    per_person_per_week: Annotated[StrictInt, Field(ge=0)] = 3
    quiet_hours: QuietHours | None = None
    # What did not fit goes out together: every day, or on Mondays, at this local time.
    digest: Literal["daily", "weekly"] = "daily"
    digest_at: TimeOfDay = "09:00"


class CheckIns(Strict):
    """After an award, the person's managers are asked for a short check-in."""

    due_days: Annotated[StrictInt, Field(ge=1, le=90)] = 7
    remind_every_days: Annotated[StrictInt, Field(ge=1, le=90)] = 3
    max_reminders: Annotated[StrictInt, Field(ge=0, le=10)] = 2


class Reminders(Strict):
    """A module started and not finished: a kind reminder after a few days, a few at most."""

    after_days: Annotated[StrictInt, Field(ge=1, le=90)] = 3
    every_days: Annotated[StrictInt, Field(ge=1, le=90)] = 4
    max: Annotated[StrictInt, Field(ge=0, le=10)] = 3


class SprintMessages(Strict):
    """The two-week rhythm: an invitation before, a nudge halfway, a wrap-up after."""

    invite_days_before: Annotated[StrictInt, Field(ge=0, le=14)] = 2
    nudge: StrictBool = True
    wrapup: StrictBool = True


class Notifications(Strict):
    channels: tuple[Channel, ...] = ()
    budget: NotificationBudget = NotificationBudget()
    checkins: CheckIns = CheckIns()
    reminders: Reminders = Reminders()
    sprints: SprintMessages = SprintMessages()
    # Kinds a person asked not to get (the unsubscribe link adds to this at run time).
    opt_out: dict[Id, tuple[Event, ...]] = Field(default_factory=dict)

    def channels_for(self, kind: str) -> tuple[Channel, ...]:
        """The person-facing channels that carry `kind`, in manifest order."""
        return tuple(c for c in self.channels if c.type != "lrs_statement" and kind in c.events)
