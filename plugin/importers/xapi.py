"""`--format xapi`: statements as an LRS or Moodle's Logstore xAPI plugin emits them.

A file holds a JSON array of statements, a StatementResult (`{"statements": [...],
"more": ...}`, as GET /statements answers), one statement, or JSON lines of any of these.
Completions are mapped exactly as the xAPI sync and webhook map them (`completion_of`,
`completion_event`: same events, same natural key, the statement id), so importing what sync
also reads never counts twice. Other statements are counted as ignored, by reason.

A voiding statement counts when the statement it voids is in the same file (before or after
it); one voiding a statement outside the file is ignored here: `skillrelay sync --source
xapi` looks the voided statement up in the LRS.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from connectors.xapi_models import VERB_VOIDED, Statement
from connectors.xapi_source import DONE, completion_event, completion_of
from plugin.domain import CompletionState, PersonRef
from plugin.importers.base import WrongShape, first_error, items, kind_of
from plugin.importers.output import Output

IGNORED = {
    "ignored_verb": "not a completion (verb)",
    "ignored_activity": "activity of no module in the manifest",
    "ignored_actor": "actor without an identifier (or a group)",
    "ignored_void": "voids a statement that is not in this file",
}


class XapiFormat:
    name = "xapi"

    def __init__(self, modules: Mapping[str, str]) -> None:
        self.modules = modules  # activity IRI -> module key (plugin.runtime.xapi_modules)
        self.done: dict[str, tuple[PersonRef, str]] = {}  # completions read so far, by id
        self.voids: list[tuple[str, Statement, Mapping[str, Any]]] = []  # awaiting their target

    def records(self, value: Any, where: str) -> Iterator[tuple[str, Any]]:
        if isinstance(value, list):
            yield from items(value, where)
        elif isinstance(value, dict) and isinstance(value.get("statements"), list):
            for n, statement in enumerate(value["statements"]):
                yield f"{where} statements[{n}]", statement
        elif isinstance(value, dict):
            yield where, value
        else:
            raise WrongShape(
                f"expected a statement, an array of statements or a StatementResult, "
                f"got {kind_of(value)}"
            )

    def read(self, where: str, record: Any, out: Output) -> None:
        out.summary.read += 1
        if not isinstance(record, dict):
            out.rejected(where, "not a statement", f"expected a statement, got {kind_of(record)}")
            return
        try:
            statement = Statement.model_validate(record)
        except ValidationError as exc:
            out.rejected(where, "not a valid statement", first_error(exc))
            return
        if statement.verb.id == VERB_VOIDED:
            self._void(where, statement, record, out)
            return
        found = completion_of(statement, self.modules)
        if isinstance(found, str):
            out.ignored(IGNORED.get(found, found))
            return
        event = completion_event(statement, *found)
        if event is None:
            out.rejected(where, "no time", "neither timestamp nor stored")
            return
        if found[2] in DONE:
            self.done[statement.id] = (found[0], found[1])
        out.event(event, record)

    def _void(self, where: str, statement: Statement, raw: Mapping[str, Any], out: Output) -> None:
        target = statement.object.id
        if statement.object.object_type != "StatementRef" or not target:
            out.rejected(where, "not a valid statement", "object: voided needs a StatementRef")
            return
        if target in self.done:
            self._voided(where, statement, raw, out)
        else:
            self.voids.append((where, statement, raw))

    def _voided(
        self, where: str, statement: Statement, raw: Mapping[str, Any], out: Output
    ) -> None:
        person, module = self.done[str(statement.object.id)]
        event = completion_event(statement, person, module, CompletionState.INCOMPLETE)
        if event is None:
            out.rejected(where, "no time", "neither timestamp nor stored")
        else:
            out.event(event, raw)

    def finish(self, out: Output) -> None:
        for where, statement, raw in self.voids:
            if statement.object.id in self.done:
                self._voided(where, statement, raw, out)
            else:
                out.ignored(IGNORED["ignored_void"])
        self.voids.clear()
