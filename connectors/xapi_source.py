"""Module completions and progress from an LRS, as an `EventSource` (`name = "xapi"`, stream
`statements`).

Completions are recognised as Moodle's Logstore xAPI plugin emits them, plus the ADL verbs:

    completed (result.completion not false)    COMPLETE; PASSED / FAILED when result.success
                                                is true / false
    https://xapi.edlm/.../verbs/uncompleted     INCOMPLETE
    passed / failed                             PASSED / FAILED
    voided, object a StatementRef to one of     INCOMPLETE for that person and module
    the completions above

Statements saying a learner started or worked on a module become `Progress` events (the
signal for "started, not finished yet" reminders; nothing decides them):

    http://adlnet.gov/expapi/verbs/attempted | launched | initialized | progressed | resumed
        (the ADL verbs; cmi5 sends launched and initialized with these same IRIs)
    http://id.tincanapi.com/verb/viewed (Logstore xAPI's `course_module_viewed`, with the
        course module's IRI as the object, as in its completions)

A statement is a completion or a progress signal, never both: `completed` (even one whose
result.completion is false), `passed` and `failed` are only ever read as completions.

The object's activity IRI is mapped to a module id by a plain mapping (built from the
manifest by the composition root); statements about other activities, other verbs, or
actors without an identifier are skipped and counted in `XapiSource.counts`. A voiding
statement's target is looked up among the completions read in the same pull, then in the
LRS (`LrsClient.get_statement`). The natural key is the statement id; `at` is the statement
`timestamp` (`stored` when it has none). Within a batch, events are in time order: LRSs
differ in how they order a page (Ralph reverses each page when asked `ascending`).

Cursor (`xapi_cursor.SourceCursor`, saved only once a page's events are stored): where the
LRS's `since` compares `stored`, as the spec says, a pull asks `ascending=true` and the cursor
is the newest `stored` read, saved after every page while pages come in `stored` order, at
the end otherwise. Ralph compares the statement's `timestamp` and pages in insertion order, so
the newest timestamp read says nothing about the pages not read yet: there the cursor (the
newest `timestamp`) is saved only when the walk is complete, and an interrupted pull is read
again from where the last complete one ended. A statement stored after a pull with a
`timestamp` older than the cursor (Logstore xAPI re-sending its queue) is found by reading a
trailing window again every `reread_every`: `since = cursor - reread_window` instead of
`cursor - lag`. Every pull overlaps the last by `lag`; the inbox drops repeats by natural
key. A cursor never passes `X-Experience-API-Consistent-Through` nor the sync's `now`, and
never moves backwards.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from connectors.read_ahead import read_ahead
from connectors.xapi_client import LrsClient, StatementPage
from connectors.xapi_cursor import (
    SinceField,
    SourceCursor,
    probe_sample,
    probe_since,
    read_source_cursor,
)
from connectors.xapi_models import (
    VERB_VOIDED,
    AnyStatement,
    Statement,
    StatementStruct,
    as_utc,
    person_ref,
)
from plugin.domain import Completion, CompletionState, PersonRef, Progress, ProgressVerb
from plugin.ports import Batch, Event
from plugin.store.models import JsonText

log = logging.getLogger("skillrelay.xapi")

STREAM = "statements"

VERB_COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
VERB_PASSED = "http://adlnet.gov/expapi/verbs/passed"
VERB_FAILED = "http://adlnet.gov/expapi/verbs/failed"
VERB_UNCOMPLETED = "https://xapi.edlm/profiles/edlm-lms/concepts/verbs/uncompleted"
VERB_ATTEMPTED = "http://adlnet.gov/expapi/verbs/attempted"
VERB_LAUNCHED = "http://adlnet.gov/expapi/verbs/launched"
VERB_INITIALIZED = "http://adlnet.gov/expapi/verbs/initialized"
VERB_PROGRESSED = "http://adlnet.gov/expapi/verbs/progressed"
VERB_RESUMED = "http://adlnet.gov/expapi/verbs/resumed"
VERB_VIEWED = "http://id.tincanapi.com/verb/viewed"
# Verb IRI -> Progress.verb: a learner started or worked on a module.
PROGRESS_VERBS: dict[str, ProgressVerb] = {
    VERB_ATTEMPTED: "attempted",
    VERB_LAUNCHED: "launched",
    VERB_INITIALIZED: "initialized",
    VERB_PROGRESSED: "progressed",
    VERB_RESUMED: "resumed",
    VERB_VIEWED: "viewed",
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DONE = frozenset({CompletionState.COMPLETE, CompletionState.PASSED, CompletionState.FAILED})


def completion_state(statement: AnyStatement) -> CompletionState | None:
    """The module state a statement reports, or None if it reports none (voiding aside)."""
    verb, result = statement.verb.id, statement.result
    if verb == VERB_COMPLETED:
        if result is None:
            return CompletionState.COMPLETE
        if result.completion is False:
            return None
        if result.success is True:
            return CompletionState.PASSED
        if result.success is False:
            return CompletionState.FAILED
        return CompletionState.COMPLETE
    return {
        VERB_PASSED: CompletionState.PASSED,
        VERB_FAILED: CompletionState.FAILED,
        VERB_UNCOMPLETED: CompletionState.INCOMPLETE,
    }.get(verb)


def completion_of(
    statement: AnyStatement, modules: Mapping[str, str]
) -> tuple[PersonRef, str, CompletionState] | str:
    """The (person, module, state) a statement reports, or why it reports none (a counter
    name: ignored_verb, ignored_activity, ignored_actor). Pure; voiding is the caller's job
    (it needs the voided statement). Shared by this source and the webhook receiver."""
    state = completion_state(statement)
    if state is None:
        return "ignored_verb"
    found = _subject(statement, modules)
    return found if isinstance(found, str) else (*found, state)


def progress_of(
    statement: AnyStatement, modules: Mapping[str, str]
) -> tuple[PersonRef, str, ProgressVerb] | str:
    """The (person, module, verb) of a statement saying a learner started or worked on a
    module, or why it says none (ignored_verb, ignored_activity, ignored_actor), by the same
    rules as `completion_of`. Completions are never progress: their verbs are not read here."""
    verb = PROGRESS_VERBS.get(statement.verb.id)
    if verb is None:
        return "ignored_verb"
    found = _subject(statement, modules)
    return found if isinstance(found, str) else (*found, verb)


def _subject(statement: AnyStatement, modules: Mapping[str, str]) -> tuple[PersonRef, str] | str:
    """The person and the module a statement is about, or why it is about none."""
    module = None
    if statement.object.object_type == "Activity" and statement.object.id:
        module = modules.get(statement.object.id)
    if module is None:
        return "ignored_activity"
    person = person_ref(statement.actor)
    if person is None or statement.actor.object_type != "Agent":
        return "ignored_actor"
    return person, module


def completion_event(
    statement: AnyStatement, person: PersonRef, module: str, state: CompletionState
) -> Completion | None:
    """The inbox event for a completion statement; None when it has neither timestamp nor
    stored. The natural key is the statement id, whichever path (pull or webhook) reads it."""
    at = statement.timestamp or statement.stored
    if at is None:
        return None
    return Completion(
        source="xapi", natural_key=statement.id, person=person, module=module, state=state, at=at
    )


def progress_event(
    statement: AnyStatement, person: PersonRef, module: str, verb: ProgressVerb
) -> Progress | None:
    """The inbox event for a progress statement (as `completion_event`: the statement id is
    the natural key, `at` its timestamp, else stored; None when it has neither)."""
    at = statement.timestamp or statement.stored
    if at is None:
        return None
    return Progress(
        source="xapi", natural_key=statement.id, person=person, module=module, verb=verb, at=at
    )


def _decoded(payload: Mapping[str, Any] | JsonText) -> Any:
    return json.loads(payload) if isinstance(payload, JsonText) else payload


class XapiSource:
    """Pulls statements page by page; one `Batch` per page, `raw` aligned with `events`.

    `since_compares`: what the LRS's `since` compares, `stored` (the spec) or `timestamp`
    (Ralph), or `auto`: found by `probe_since` after the first pull that can tell, and kept in
    the cursor; until then the pull runs as for `timestamp`, which is safe on both.
    `reread_every` (None: never) and `reread_window`: how often a `timestamp` pull reads the
    trailing window again, for statements stored late with old timestamps.
    """

    name = "xapi"

    def __init__(
        self,
        client: LrsClient,
        modules: Mapping[str, str],
        *,
        lag: timedelta = timedelta(minutes=5),
        since_compares: Literal["auto", "stored", "timestamp"] = "timestamp",
        reread_window: timedelta = timedelta(hours=24),
        reread_every: timedelta | None = None,
        page_size: int | None = None,
    ) -> None:
        if lag < timedelta(0):
            raise ValueError("lag must not be negative")
        if reread_window < lag:
            raise ValueError("reread_window must not be shorter than lag")
        if reread_every is not None and reread_every <= timedelta(0):
            raise ValueError("reread_every must be positive")
        self.client = client
        self.modules = dict(modules)
        self.lag = lag
        self.since_compares = since_compares
        self.reread_window = reread_window
        self.reread_every = reread_every
        self.page_size = page_size
        self.counts: Counter[str] = Counter()

    def pull(self, cursors: Mapping[str, str | None], now: datetime) -> Iterator[Batch]:
        now = as_utc(now)
        saved = read_source_cursor(cursors.get(STREAM), STREAM)
        compares = self.since_compares
        if compares == "auto":
            compares = saved.lrs or "timestamp"
        by_stored = compares == "stored"
        reread = not by_stored and self._reread_due(saved, now)
        since = None
        if saved.at is not None:
            since = saved.at - (self.reread_window if reread else self.lag)
        walk = _Walk(now, probing=self.since_compares == "auto" and saved.lrs is None)
        # The LRS prepares the next page while this one is mapped and stored.
        pages = read_ahead(self.client.statements(since=since, limit=self.page_size), "xapi-pull")
        try:
            completions: dict[str, tuple[PersonRef, str]] = {}
            page = next(pages, None)
            current = saved
            while page is not None:
                # One page ahead: a cursor saved at the walk's end rides on the last page's batch.
                following = next(pages, None)
                events, raw, errors = self._read(page, completions)
                walk.add(page)
                cursor, position = None, None
                if following is None:
                    done = self._finished(saved, current, walk, by_stored, reread)
                    if done != current:
                        cursor, position, current = done.dump(), now, done
                elif by_stored and walk.in_order and walk.stored is not None:
                    # Pages in `stored` order: everything stored before the newest read is read.
                    mark = walk.capped(walk.stored)
                    if current.at is None or mark > current.at:
                        current = current.moved(at=mark, field="stored")
                        cursor, position = current.dump(), mark
                self.counts["fetched"] += page.fetched
                self.counts["duplicates"] += page.duplicates
                self.counts["errors"] += len(errors)
                yield Batch(
                    stream=STREAM,
                    events=tuple(events),
                    cursor=cursor,
                    fetched=page.fetched,
                    raw=tuple(raw),
                    errors=tuple(errors),
                    position=position,
                )
                page = following
        finally:
            pages.close()  # a stopped pull does not wait for the page in flight

    def _reread_due(self, saved: SourceCursor, now: datetime) -> bool:
        if self.reread_every is None or saved.at is None:
            return False  # never asked, or a first pull: it reads everything anyway
        if saved.field == "stored" or saved.reread is None:
            return True
        return now - saved.reread >= self.reread_every

    def _finished(
        self, saved: SourceCursor, current: SourceCursor, walk: _Walk, by_stored: bool, reread: bool
    ) -> SourceCursor:
        """The cursor once every page was read (`current`: as the pages left it)."""
        done = current
        newest = walk.stored if by_stored else walk.timestamp
        mark = walk.capped(newest) if newest is not None else None
        field: SinceField = "stored" if by_stored else "timestamp"
        if mark is not None and (current.at is None or mark > current.at):
            done = done.moved(at=mark, field=field)
        elif not by_stored and current.field == "stored":
            done = done.moved(field="timestamp")  # the window was read again just now
        if not by_stored and self.reread_every is not None and (reread or saved.at is None):
            done = done.moved(reread=walk.now)
        if self.since_compares == "auto" and saved.lrs is None and walk.sample is not None:
            found = probe_since(self.client, walk.sample)
            if found is not None:
                done = done.moved(lrs=found)
                log.info("xapi: the LRS's `since` compares `%s`", found)
        return done

    def _order(self, statement: StatementStruct) -> tuple[datetime, datetime]:
        at = statement.timestamp or statement.stored or _EPOCH
        return at, statement.stored or at

    def _read(
        self, page: StatementPage, completions: dict[str, tuple[PersonRef, str]]
    ) -> tuple[list[Event], list[Mapping[str, Any] | JsonText], list[str]]:
        events: list[Event] = []
        raw: list[Mapping[str, Any] | JsonText] = []
        errors = list(page.errors)
        for statement, payload in sorted(
            zip(page.statements, page.raw, strict=True), key=lambda pair: self._order(pair[0])
        ):
            event: Completion | Progress | None
            found = self._completion(statement, completions)
            if found is not None:
                event, counter = completion_event(statement, *found), "completions"
            else:
                progress = self._progress(statement)
                if progress is None:
                    continue
                event, counter = progress_event(statement, *progress), "progress"
            if event is None:
                errors.append(f"statement {statement.id}: neither timestamp nor stored")
                continue
            events.append(event)
            raw.append(payload)
            self.counts[counter] += 1
        return events, raw, errors

    def _completion(
        self, statement: StatementStruct, completions: dict[str, tuple[PersonRef, str]]
    ) -> tuple[PersonRef, str, CompletionState] | None:
        if statement.verb.id == VERB_VOIDED:
            target = statement.object.id
            if statement.object.object_type != "StatementRef" or not target:
                self.counts["ignored_void"] += 1
                return None
            known = completions.get(target) or self._lookup(target)
            if known is None:
                self.counts["ignored_void"] += 1
                return None
            return known[0], known[1], CompletionState.INCOMPLETE
        found = self._mapped(statement)
        if isinstance(found, str):
            if found != "ignored_verb" or statement.verb.id not in PROGRESS_VERBS:
                self.counts[found] += 1  # a progress verb is counted by `_progress`
            return None
        person, module, state = found
        if state in DONE:
            completions[statement.id] = (person, module)
        return found

    def _progress(self, statement: StatementStruct) -> tuple[PersonRef, str, ProgressVerb] | None:
        if statement.verb.id not in PROGRESS_VERBS:
            return None
        found = progress_of(statement, self.modules)
        if isinstance(found, str):
            self.counts[found] += 1
            return None
        return found

    def _mapped(self, statement: AnyStatement) -> tuple[PersonRef, str, CompletionState] | str:
        return completion_of(statement, self.modules)

    def _lookup(self, statement_id: str) -> tuple[PersonRef, str] | None:
        """The person and module of a completion read in an earlier pull (or never)."""
        payload = self.client.get_statement(statement_id)
        if payload is None:
            return None
        try:
            target = Statement.model_validate(payload)
        except ValueError:
            return None
        found = self._mapped(target)
        if isinstance(found, str) or found[2] not in DONE:
            return None
        return found[0], found[1]


class _Walk:
    """What one pull has read so far: newest times, order, a statement to probe with (looked
    for only when `probing`)."""

    def __init__(self, now: datetime, *, probing: bool = True) -> None:
        self.now = now
        self.probing = probing
        self.timestamp: datetime | None = None
        self.stored: datetime | None = None
        self.consistent: datetime | None = None
        self.in_order = True  # every page stored after the ones before it
        self.sample: Statement | None = None

    def add(self, page: StatementPage) -> None:
        stored = [s.stored for s in page.statements if s.stored is not None]
        if stored and self.stored is not None and min(stored) < self.stored:
            self.in_order = False
        for statement in page.statements:
            ts = statement.timestamp or statement.stored
            if ts is not None and (self.timestamp is None or ts > self.timestamp):
                self.timestamp = ts
        if self.probing and self.sample is None:
            # The probe takes the pydantic model: made only while a sample is wanted.
            models = (Statement.model_validate(_decoded(payload)) for payload in page.raw)
            self.sample = next((model for model in models if probe_sample(model)), None)
        if stored:
            self.stored = max([*stored, self.stored] if self.stored else stored)
        if page.consistent_through is not None:
            self.consistent = page.consistent_through

    def capped(self, mark: datetime) -> datetime:
        """Never past the sync's start, nor past what the LRS says is consistent."""
        mark = min(mark, self.now)
        return min(mark, self.consistent) if self.consistent is not None else mark
