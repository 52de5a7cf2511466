"""Moodle completion sync: read each course's current activity states, emit what changed.

Cost per sync: 1 + M + sum over courses of (1 + enrolled users) calls, plus 1 when a course
failed; see `connectors.moodle`.

A course that cannot be read (the token's user is not enrolled, lacks a capability there, or
the course is gone) does not stop the others: every other course is read and stored, then
the pull ends with one IncompleteSync naming each failed course (id, name, Moodle's reason)
and each module whose course could not be found, so `sync` exits 1 every run until it is
fixed. Only errors about the token itself, or worth retrying later, end the pull at once.

Web services offer no completion change feed, so the cursor of stream `course:<id>` holds the
states seen last time, as compact JSON `{"<userid>:<cmid>": [state, timecompleted]}`. It is
sparse: only modules of interest, only states other than incomplete (absent = incomplete or
never seen), so its size follows the number of completions, not users x modules. Entries of
users who left the course are dropped; a user or module Moodle did not report this time
(a failed call, a hidden module) keeps its entry. Re-emitting is harmless: the natural key
`moodle:<userid>:<cmid>:<state>:<timecompleted>` lets the inbox drop repeats, so an
unreadable cursor simply starts over.

Moodle state 1 -> COMPLETE, 2 -> PASSED, 3 -> FAILED, back to 0 -> INCOMPLETE. The first
sync emits every current non-incomplete state (history for the admin); later syncs emit a
Completion only when a state changed. A return to incomplete is dated by Moodle's time when
it has one, otherwise by the sync time; its key then carries the time of the completion it
undoes, so a re-run gives the same key.

Started modules (for the stalled-module reminders, when switched on): a Progress event per
person and tracked module of interest that is still incomplete, when

- `started_on_view`: its "view" completion rule is met (Moodle 3.11+ `details`; older sites
  send none and give no such signal). Verb "viewed", key `moodle-progress:<u>:<cm>:viewed`;
  the cursor remembers it as the entry `[0, 0]` (incomplete, viewed), so it is emitted once.
- `started_on_enrolment`: the person is newly seen enrolled in the course (a user whose
  completion could not be read is not seen yet). Verb "enrolled", key
  `moodle-progress:<u>:<cm>:enrolled`; the cursor lists the user ids seen enrolled, as
  `"enrolled": [5, 6]`, so its size follows the enrolments; a user who leaves is dropped.

Moodle gives neither the view time nor the enrolment time here, so both are dated by the sync
time on first sight. An old cursor (without these) still loads; with both off the cursor is
exactly the completion states above.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.moodle import SYNC_FUNCTIONS, MoodleClient
from connectors.moodle_models import ActivitiesCompletion, ActivityStatus, MoodleUser
from connectors.moodle_wire import ContextAccessError
from plugin.domain import Completion, CompletionState, PersonRef, Progress, ProgressVerb
from plugin.errors import AuthError, ConnectorError, FatalError
from plugin.ports import Batch

log = logging.getLogger("skillrelay.moodle")

Key = tuple[int, int]  # (userid, cmid)
Seen = tuple[int, int]  # (state, timecompleted)
VIEWED: Seen = (0, 0)  # incomplete, its "view" rule met: the viewed Progress was emitted
ENROLLED = "enrolled"  # the cursor's list of user ids seen enrolled
# Progress has no "enrolled" verb: an enrolment reads as ADL "attempted" (started it); its
# natural key still says enrolled.
ENROLLED_VERB: ProgressVerb = "enrolled"

STATES: Mapping[int, CompletionState] = {
    0: CompletionState.INCOMPLETE,
    1: CompletionState.COMPLETE,
    2: CompletionState.PASSED,
    3: CompletionState.FAILED,
}


def course_stream(courseid: int) -> str:
    return f"course:{courseid}"


class IncompleteSync(FatalError):
    """Some courses or modules could not be read; everything else was read and stored."""


class MoodleSource:
    """An EventSource over Moodle activity completion; one Batch per readable course.

    `courses` are the courses the manifest names; `unplaced` are cmids without one, whose
    course is asked of Moodle (core_course_get_course_module) on every pull. Per-user
    completion calls run `concurrency` at a time. A failed call for one user (a FatalError
    such as an unconfirmed account) goes to `Batch.errors` and keeps that user's last known
    states; a course or module that cannot be read is reported at the end (IncompleteSync);
    other AuthError and any RetriableError end the pull (fix or retry later).
    `started_on_view` and `started_on_enrolment` add the Progress signals (module docstring).
    """

    name = "moodle"

    def __init__(
        self,
        client: MoodleClient,
        *,
        courses: Iterable[int],
        cmids: Iterable[int],
        unplaced: Iterable[int] = (),
        concurrency: int = 4,
        only_active: bool = False,
        started_on_view: bool = False,
        started_on_enrolment: bool = False,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.client = client
        self.courses = tuple(sorted(set(courses)))
        self.unplaced = tuple(sorted(set(unplaced)))
        self.cmids = frozenset(cmids) | frozenset(self.unplaced)
        self.concurrency = concurrency
        self.only_active = only_active
        self.started_on_view = started_on_view
        self.started_on_enrolment = started_on_enrolment

    def pull(self, cursors: Mapping[str, str | None], now: datetime) -> Iterator[Batch]:
        self.client.connect(SYNC_FUNCTIONS)
        located, problems = self.locate()
        courses = sorted(set(self.courses) | set(located.values()))
        failed: dict[int, str] = {}
        for courseid in courses:
            try:
                batch = self.sync_course(courseid, cursors.get(course_stream(courseid)), now)
            except FatalError as exc:
                if not is_local(exc):
                    raise
                failed[courseid] = reason(exc)
                continue
            yield batch
        heads = [f"{len(failed)} of {len(courses)} courses could not be read"] if failed else []
        if problems:
            heads.append(f"{len(problems)} module(s) could not be found")
        if failed:
            problems = self.describe_courses(failed) + problems
        if problems:
            lines = "\n".join(f"  {p}" for p in problems)
            raise IncompleteSync(
                self.name, f"{', '.join(heads)}; all else was read and stored:\n{lines}"
            )

    def locate(self) -> tuple[dict[int, int], list[str]]:
        """The course of each unplaced cmid, and a line for each one Moodle cannot place."""
        found: dict[int, int] = {}
        problems: list[str] = []
        for cmid in self.unplaced:
            try:
                found[cmid] = self.client.course_module(cmid).course
            except FatalError as exc:
                if not is_local(exc):
                    raise
                problems.append(f"module cmid {cmid} (no moodle_course) not found: {reason(exc)}")
        return found, problems

    def describe_courses(self, failed: Mapping[int, str]) -> list[str]:
        """One line per failed course, named by one call for all of them."""
        try:
            names = {c.id: c.fullname for c in self.client.courses_by_ids(sorted(failed))}
        except ConnectorError as exc:
            log.warning("moodle: could not read the failed courses' names: %s", exc)
            names = {}
        return [
            f"course {courseid} {_quoted(names.get(courseid))}: {why}"
            for courseid, why in sorted(failed.items())
        ]

    def sync_course(self, courseid: int, cursor: str | None, now: datetime) -> Batch:
        """One course's batch; raises FatalError when the course cannot be read."""
        stream = course_stream(courseid)
        known, notes = read_cursor(cursor)
        errors = [f"course {courseid}: {e}" for e in notes]
        users = self.client.enrolled_users(courseid, only_active=self.only_active)

        by_user: dict[int, dict[int, Seen]] = {}
        for (userid, cmid), seen in known.states.items():
            if cmid in self.cmids:  # a module dropped from the manifest drops its entries
                by_user.setdefault(userid, {})[cmid] = seen
        state: dict[Key, Seen] = {}
        enrolled: set[int] = set()
        events: list[Completion | Progress] = []
        raw: list[Mapping[str, Any]] = []
        fetched = 0
        for user, outcome in zip(users, self._read(courseid, users), strict=True):
            before = by_user.get(user.id, {})
            if isinstance(outcome, FatalError):
                errors.append(f"course {courseid} user {user.id}: {outcome}")
                state.update(((user.id, cmid), seen) for cmid, seen in before.items())
                if user.id in known.enrolled:
                    enrolled.add(user.id)  # still enrolled; a new one is tried next sync
                continue
            fetched += len(outcome.statuses)
            errors.extend(
                f"course {courseid} user {user.id}: {w.describe()}" for w in outcome.warnings
            )
            newcomer = self.started_on_enrolment and user.id not in known.enrolled
            after = dict(before)  # modules not reported this time keep their entry
            for status in outcome.statuses:
                if status.cmid not in self.cmids or status.istrackeduser is False:
                    continue
                if status.state not in STATES:
                    errors.append(
                        f"course {courseid} user {user.id} cm {status.cmid}: "
                        f"unknown completion state {status.state}"
                    )
                    continue
                last = before.get(status.cmid)
                for event in self._events(user, status, last, newcomer, now):
                    events.append(event)
                    raw.append({"courseid": courseid, "userid": user.id, **status.model_dump()})
                if status.state:
                    after[status.cmid] = (status.state, status.timecompleted)
                elif self._viewed(status):
                    after[status.cmid] = VIEWED
                else:
                    after.pop(status.cmid, None)
            state.update(((user.id, cmid), seen) for cmid, seen in after.items())
            if self.started_on_enrolment:
                enrolled.add(user.id)

        encoded = dump_state(state, enrolled)
        return Batch(
            stream=stream,
            events=tuple(events),
            cursor=None if encoded == cursor else encoded,
            fetched=fetched,
            raw=tuple(raw),
            errors=tuple(errors),
        )

    def _events(
        self,
        user: MoodleUser,
        status: ActivityStatus,
        last: Seen | None,
        newcomer: bool,
        now: datetime,
    ) -> Iterator[Completion | Progress]:
        """What one status says that was not said before: a completion change, a first view,
        a first enrolment."""
        completion = change(user, status, last, now)
        if completion is not None:
            yield completion
        if self._viewed(status) and last != VIEWED:
            yield started(user, status.cmid, "viewed", "viewed", now)
        if newcomer and status.state == 0 and status.tracking:
            yield started(user, status.cmid, ENROLLED_VERB, "enrolled", now)

    def _viewed(self, status: ActivityStatus) -> bool:
        """A tracked module still incomplete whose "view" rule is met, when that counts."""
        return (
            self.started_on_view and status.state == 0 and bool(status.tracking) and status.viewed
        )

    def _read(
        self, courseid: int, users: Sequence[MoodleUser]
    ) -> list[ActivitiesCompletion | FatalError]:
        """Each user's completion, in order, at most `concurrency` calls in flight."""
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="moodle-sync") as pool:
            futures = [
                pool.submit(self.client.activities_completion, courseid, user.id) for user in users
            ]
            try:
                return [_settle(future) for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise


def is_local(exc: FatalError) -> bool:
    """True for a failure of one course or module; False when the token itself is refused."""
    return not isinstance(exc, AuthError) or isinstance(exc, ContextAccessError)


def reason(exc: ConnectorError) -> str:
    return str(exc).removeprefix(f"{exc.service}: ")


def _quoted(name: str | None) -> str:
    return f'"{name}"' if name else "(name not visible to the token's user)"


def _settle(future: Future[ActivitiesCompletion]) -> ActivitiesCompletion | FatalError:
    try:
        return future.result()
    except AuthError:
        raise
    except FatalError as exc:
        return exc


def person(user: MoodleUser) -> PersonRef:
    return PersonRef(
        system="moodle", id=str(user.id), email=user.email or None, display_name=user.fullname
    )


def started(
    user: MoodleUser, cmid: int, verb: ProgressVerb, signal: str, now: datetime
) -> Progress:
    """A person started a module; dated `now`, the sync that first saw it (see module doc)."""
    return Progress(
        source="moodle",
        natural_key=f"moodle-progress:{user.id}:{cmid}:{signal}",
        person=person(user),
        module=f"moodle:cm:{cmid}",
        verb=verb,
        at=now,
    )


def change(
    user: MoodleUser, status: ActivityStatus, before: Seen | None, now: datetime
) -> Completion | None:
    """The Completion for a state that differs from the last one seen, else None."""
    previous = before[0] if before else 0
    if status.state == previous:
        return None
    stamp = status.timecompleted
    if status.state == 0 and not stamp and before:
        stamp = before[1]  # undoing the completion seen at this time
    at = datetime.fromtimestamp(status.timecompleted, UTC) if status.timecompleted else now
    return Completion(
        source="moodle",
        natural_key=f"moodle:{user.id}:{status.cmid}:{status.state}:{stamp}",
        person=person(user),
        module=f"moodle:cm:{status.cmid}",
        state=STATES[status.state],
        at=at,
    )


@dataclass(frozen=True)
class CourseCursor:
    """What a course cursor remembers: states by (user, cm), and the users seen enrolled."""

    states: dict[Key, Seen] = field(default_factory=dict)
    enrolled: frozenset[int] = frozenset()


def read_cursor(cursor: str | None) -> tuple[CourseCursor, list[str]]:
    """Decode a course cursor; an unreadable one starts over (with a note for Batch.errors)."""
    if not cursor:
        return CourseCursor(), []
    try:
        data = json.loads(cursor)
        states: dict[Key, Seen] = {}
        enrolled: frozenset[int] = frozenset()
        for key, value in data.items():
            if key == ENROLLED:
                if not isinstance(value, list):
                    raise ValueError("enrolled is not a list")
                enrolled = frozenset(int(userid) for userid in value)
                continue
            seen_state, seen_time = value
            userid, cmid = key.split(":")
            states[(int(userid), int(cmid))] = (int(seen_state), int(seen_time))
    except (ValueError, TypeError, AttributeError):
        return CourseCursor(), [
            "unreadable cursor, starting over (repeats are dropped by natural key)"
        ]
    return CourseCursor(states, enrolled), []


def load_state(cursor: str | None) -> tuple[dict[Key, Seen], list[str]]:
    """The states of a course cursor (see read_cursor)."""
    found, notes = read_cursor(cursor)
    return found.states, notes


def dump_state(state: Mapping[Key, Seen], enrolled: Iterable[int] = ()) -> str:
    data: dict[str, Any] = {f"{u}:{c}": [s, t] for (u, c), (s, t) in sorted(state.items())}
    users = sorted(set(enrolled))
    if users:  # left out when empty: with the enrolment signal off the cursor is as before
        data[ENROLLED] = users
    return json.dumps(data, separators=(",", ":"))
