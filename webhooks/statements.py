"""Statements an LRS forwards, turned into Completion and Progress events. Pure: no I/O.

The mapping is the xAPI sync's own (`completion_of`, `completion_event`, `progress_of`,
`progress_event`), so a statement seen by both paths gives the same event under the same
natural key (the statement id). A progress statement with neither timestamp nor stored is
ignored (`ignored_time`) rather than refused: a body with a completion in it still gets in.
A voiding statement counts when the statement it voids is in the same request; otherwise it
is ignored here and left to the sync, which can look the voided statement up in the LRS.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from connectors.xapi_models import VERB_VOIDED, Statement
from connectors.xapi_source import (
    DONE,
    completion_event,
    completion_of,
    progress_event,
    progress_of,
)
from plugin.domain import Completion, CompletionState, PersonRef, Progress
from plugin.errors import PayloadError
from plugin.store.models import JsonText
from webhooks.door import check_id


@dataclass(frozen=True)
class Parsed:
    events: list[Completion | Progress]
    raws: list[dict[str, Any] | JsonText]
    ignored: Counter[str]


def parse_statements(
    data: Any, modules: Mapping[str, str], texts: Sequence[JsonText] | None = None
) -> Parsed:
    """One statement object or an array of them; PayloadError names the first bad field.

    `texts` are the statements as received (one per statement), kept as each event's raw
    instead of the decoded statement."""
    if isinstance(data, dict):
        raws, names = [data], ["statement"]
    elif isinstance(data, list):
        raws, names = data, [f"statements[{n}]" for n in range(len(data))]
    else:
        raise PayloadError("body: expected a statement object or an array of statements")
    statements = [_statement(raw, name) for raw, name in zip(raws, names, strict=True)]
    kept: Sequence[dict[str, Any] | JsonText] = raws
    if texts is not None and len(texts) == len(raws):
        kept = texts
    done: dict[str, tuple[PersonRef, str]] = {}
    for statement in statements:
        found = completion_of(statement, modules)
        if not isinstance(found, str) and found[2] in DONE:
            done[statement.id] = (found[0], found[1])
    parsed = Parsed([], [], Counter())
    for statement, raw, name in zip(statements, kept, names, strict=True):
        found = _completion(statement, modules, done)
        if found == "ignored_verb":
            progress = progress_of(statement, modules)
            if isinstance(progress, str):
                parsed.ignored[progress] += 1
                continue
            signal = progress_event(statement, *progress)
            if signal is None:
                parsed.ignored["ignored_time"] += 1
                continue
            parsed.events.append(signal)
            parsed.raws.append(raw)
            continue
        if isinstance(found, str):
            parsed.ignored[found] += 1
            continue
        event = completion_event(statement, *found)
        if event is None:
            raise PayloadError(f"{name}.timestamp: missing (and no stored)")
        parsed.events.append(event)
        parsed.raws.append(raw)
    return parsed


def _statement(raw: Any, name: str) -> Statement:
    if not isinstance(raw, dict):
        raise PayloadError(f"{name}: expected an object, got {type(raw).__name__}")
    try:
        statement = Statement.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        path = ".".join(str(part) for part in error["loc"])
        raise PayloadError(f"{name}.{path}: {error['msg']}") from None
    check_id(statement.id, f"{name}.id")  # the natural key, and the actor the identity key
    actor = raw.get("actor")
    if isinstance(actor, dict):
        for key in ("mbox", "mbox_sha1sum", "openid"):
            check_id(actor.get(key), f"{name}.actor.{key}")
        account = actor.get("account")
        if isinstance(account, dict):
            for key in ("homePage", "name"):
                check_id(account.get(key), f"{name}.actor.account.{key}")
    return statement


def _completion(
    statement: Statement, modules: Mapping[str, str], done: Mapping[str, tuple[PersonRef, str]]
) -> tuple[PersonRef, str, CompletionState] | str:
    if statement.verb.id != VERB_VOIDED:
        return completion_of(statement, modules)
    target = statement.object.id
    if statement.object.object_type != "StatementRef" or not target or target not in done:
        return "ignored_void"
    person, module = done[target]
    return person, module, CompletionState.INCOMPLETE
