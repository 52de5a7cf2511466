"""Module completions from an LRS, as an `EventSource` (`name = "xapi"`, stream `statements`).

Completions are recognised as Moodle's Logstore xAPI plugin emits them, plus the ADL verbs:

    completed (result.completion not false)    COMPLETE; PASSED / FAILED when result.success
                                                is true / false
    https://xapi.edlm/.../verbs/uncompleted     INCOMPLETE
    passed / failed                             PASSED / FAILED
    voided, object a StatementRef to one of     INCOMPLETE for that person and module
    the completions above

The object's activity IRI is mapped to a module id by a plain mapping (built from the
manifest by the composition root); statements about other activities, other verbs, or
actors without an identifier are skipped and counted in `XapiSource.counts`. A voiding
statement's target is looked up among the completions read in the same pull, then in the
LRS (`LrsClient.get_statement`). The natural key is the statement id; `at` is the statement
`timestamp` (`stored` when it has none). Within a batch, events are in time order: LRSs
differ in how they order a page (Ralph reverses each page when asked `ascending`).

Cursor: an ISO 8601 UTC time, the newest `timestamp` (or `stored`, see `watermark`) read so
far, never past `X-Experience-API-Consistent-Through` when the LRS sends it, never past the
sync's `now`, never backwards. A pull asks `since = cursor - lag`: statements in the overlap
come back once per pull and the inbox drops them by natural key. `timestamp` is the default
watermark because it is safe for both kinds of LRS: the spec's `since` compares `stored`
(and timestamp <= stored), Ralph's compares `timestamp`. On Ralph a statement that arrives
with a `timestamp` older than `cursor - lag` is never seen: choose the lag accordingly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from connectors.xapi_client import LrsClient, StatementPage, iso, parse_time
from connectors.xapi_models import VERB_VOIDED, Statement, as_utc, person_ref
from plugin.domain import Completion, CompletionState, PersonRef
from plugin.errors import ConfigError
from plugin.ports import Batch, Event

STREAM = "statements"

VERB_COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
VERB_PASSED = "http://adlnet.gov/expapi/verbs/passed"
VERB_FAILED = "http://adlnet.gov/expapi/verbs/failed"
VERB_UNCOMPLETED = "https://xapi.edlm/profiles/edlm-lms/concepts/verbs/uncompleted"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DONE = frozenset({CompletionState.COMPLETE, CompletionState.PASSED, CompletionState.FAILED})


def completion_state(statement: Statement) -> CompletionState | None:
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
    statement: Statement, modules: Mapping[str, str]
) -> tuple[PersonRef, str, CompletionState] | str:
    """The (person, module, state) a statement reports, or why it reports none (a counter
    name: ignored_verb, ignored_activity, ignored_actor). Pure; voiding is the caller's job
    (it needs the voided statement). Shared by this source and the webhook receiver."""
    state = completion_state(statement)
    if state is None:
        return "ignored_verb"
    module = None
    if statement.object.object_type == "Activity" and statement.object.id:
        module = modules.get(statement.object.id)
    if module is None:
        return "ignored_activity"
    person = person_ref(statement.actor)
    if person is None or statement.actor.object_type != "Agent":
        return "ignored_actor"
    return person, module, state


def completion_event(
    statement: Statement, person: PersonRef, module: str, state: CompletionState
) -> Completion | None:
    """The inbox event for a completion statement; None when it has neither timestamp nor
    stored. The natural key is the statement id, whichever path (pull or webhook) reads it."""
    at = statement.timestamp or statement.stored
    if at is None:
        return None
    return Completion(
        source="xapi", natural_key=statement.id, person=person, module=module, state=state, at=at
    )


class XapiSource:
    """Pulls statements page by page; one `Batch` per page, `raw` aligned with `events`."""

    name = "xapi"

    def __init__(
        self,
        client: LrsClient,
        modules: Mapping[str, str],
        *,
        lag: timedelta = timedelta(minutes=5),
        watermark: Literal["timestamp", "stored"] = "timestamp",
        page_size: int | None = None,
    ) -> None:
        if lag < timedelta(0):
            raise ValueError("lag must not be negative")
        self.client = client
        self.modules = dict(modules)
        self.lag = lag
        self.watermark = watermark
        self.page_size = page_size
        self.counts: Counter[str] = Counter()

    def pull(self, cursors: Mapping[str, str | None], now: datetime) -> Iterator[Batch]:
        now = as_utc(now)
        saved = _read_cursor(cursors.get(STREAM))
        since = saved - self.lag if saved is not None else None
        high = saved  # the cursor never moves backwards
        newest: datetime | None = None
        completions: dict[str, tuple[PersonRef, str]] = {}
        for page in self.client.statements(since=since, limit=self.page_size):
            events, raw, errors = self._read(page, completions)
            for statement in page.statements:
                mark = self._mark(statement)
                if mark is not None and (newest is None or mark > newest):
                    newest = mark
            cursor, position = None, None
            if newest is not None:
                candidate = min(newest, now)
                if page.consistent_through is not None:
                    candidate = min(candidate, page.consistent_through)
                if high is None or candidate > high:
                    high = position = candidate
                    cursor = iso(candidate)
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

    def _order(self, statement: Statement) -> tuple[datetime, datetime]:
        at = statement.timestamp or statement.stored or _EPOCH
        return at, statement.stored or at

    def _mark(self, statement: Statement) -> datetime | None:
        if self.watermark == "stored":
            return statement.stored or statement.timestamp
        return statement.timestamp or statement.stored

    def _read(
        self, page: StatementPage, completions: dict[str, tuple[PersonRef, str]]
    ) -> tuple[list[Event], list[Mapping[str, Any]], list[str]]:
        events: list[Event] = []
        raw: list[Mapping[str, Any]] = []
        errors = list(page.errors)
        for statement, payload in sorted(
            zip(page.statements, page.raw, strict=True), key=lambda pair: self._order(pair[0])
        ):
            found = self._completion(statement, completions)
            if found is None:
                continue
            event = completion_event(statement, *found)
            if event is None:
                errors.append(f"statement {statement.id}: neither timestamp nor stored")
                continue
            events.append(event)
            raw.append(payload)
            self.counts["completions"] += 1
        return events, raw, errors

    def _completion(
        self, statement: Statement, completions: dict[str, tuple[PersonRef, str]]
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
            self.counts[found] += 1
            return None
        person, module, state = found
        if state in DONE:
            completions[statement.id] = (person, module)
        return found

    def _mapped(self, statement: Statement) -> tuple[PersonRef, str, CompletionState] | str:
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


def _read_cursor(value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    parsed = parse_time(value)
    if parsed is None:
        raise ConfigError(f"xapi cursor for '{STREAM}' is not an ISO 8601 time: {value!r}")
    return parsed
