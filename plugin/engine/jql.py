"""Evaluate a skill's `jql` on the fields skillrelay synced for a ticket (no call to Jira).

Fields: project, key, labels, component(s), status, statusCategory, resolution, assignee,
issuetype (alias type; read from Ticket.fields["issuetype"]) and cf[NNNNN] / customfield_NNNNN
(read from Ticket.fields). Comparisons ignore case. As in Jira, `!=` and `not in` never match
a ticket whose field is empty, and `resolution = Unresolved` means the resolution is empty.
A field the sync does not carry is empty, so list `jql_fields()` in the fields to sync.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from plugin.engine.facts import FieldValue, TicketFact
from plugin.engine.jql_parse import Clause, JqlError, Node, Not, parse

Predicate = Callable[[TicketFact], bool]
Getter = Callable[[TicketFact], list[str]]
CUSTOM = re.compile(r"^(?:cf\[(\d+)\]|customfield_(\d+))$", re.IGNORECASE)
CATEGORIES = {  # statusCategory by key, id or name
    "new": "new",
    "to do": "new",
    "2": "new",
    "indeterminate": "indeterminate",
    "in progress": "indeterminate",
    "4": "indeterminate",
    "done": "done",
    "3": "done",
    "undefined": "undefined",
    "no category": "undefined",
    "1": "undefined",
}
FIELDS = "project, key, labels, component, status, statusCategory, resolution, assignee, "
FIELDS += "issuetype, cf[NNNNN]"

__all__ = ["JqlError", "check_jql", "compile_jql", "jql_fields"]


def _one(value: str | None) -> list[str]:
    return [value.casefold()] if value else []


def _many(value: FieldValue) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return _one(value)
    return [v.casefold() for v in value if v]


def _assignee(t: TicketFact) -> list[str]:
    a = t.assignee
    return [v.casefold() for v in (a.id, a.email, a.name) if v] if a else []


def _field(name: str) -> Getter:
    return lambda t: _many(t.fields.get(name))


def _category(t: TicketFact) -> list[str]:
    return _one(CATEGORIES.get((t.status_category or "").casefold(), t.status_category))


GETTERS: dict[str, Getter] = {
    "project": lambda t: _one(t.project),
    "key": lambda t: _one(t.key),
    "issuekey": lambda t: _one(t.key),
    "labels": lambda t: _many(t.labels),
    "component": lambda t: _many(t.components),
    "components": lambda t: _many(t.components),
    "status": lambda t: _one(t.status),
    "statuscategory": _category,
    "resolution": lambda t: _one(t.resolution),
    "assignee": _assignee,
    "issuetype": _field("issuetype"),
    "type": _field("issuetype"),
}


def _synced_name(field: str) -> str | None:
    """The Ticket.fields key a field is read from, if it is read from there."""
    custom = CUSTOM.match(field)
    if custom:
        return f"customfield_{custom.group(1) or custom.group(2)}"
    return "issuetype" if field.lower() in ("issuetype", "type") else None


def _getter(field: str) -> Getter:
    synced = _synced_name(field)
    if synced:
        return _field(synced)
    getter = GETTERS.get(field.lower())
    if getter is None:
        raise JqlError(f"field {field!r} is not supported in a skill's jql; use one of {FIELDS}")
    return getter


def _clause(clause: Clause) -> Predicate:
    get = _getter(clause.field)
    name = clause.field.lower()
    values = [v.casefold() for v in clause.values]
    if name == "statuscategory":
        values = [CATEGORIES.get(v, v) for v in values]
    op = clause.op
    if name == "resolution" and values == ["unresolved"] and op in ("=", "!="):
        op = "empty" if op == "=" else "not empty"
    wanted = frozenset(values)
    if op in ("=", "in"):
        return lambda t: not wanted.isdisjoint(get(t))
    if op in ("!=", "not in"):

        def differs(t: TicketFact) -> bool:
            found = get(t)
            return bool(found) and wanted.isdisjoint(found)

        return differs
    if op == "empty":
        return lambda t: not get(t)
    return lambda t: bool(get(t))


def _compile(node: Node) -> Predicate:
    if isinstance(node, Clause):
        return _clause(node)
    if isinstance(node, Not):
        inner = _compile(node.inner)
        return lambda t: not inner(t)
    parts = [_compile(p) for p in node.parts]
    if node.op == "and":
        return lambda t: all(p(t) for p in parts)
    return lambda t: any(p(t) for p in parts)


def compile_jql(text: str) -> Predicate:
    """A predicate on tickets; raises JqlError naming what is not supported."""
    return _compile(parse(text))


def check_jql(text: str) -> str | None:
    """None if `text` can be evaluated, else a message for the manifest's error report."""
    try:
        compile_jql(text)
    except JqlError as exc:
        return str(exc)
    return None


def jql_fields(text: str) -> frozenset[str]:
    """The Ticket.fields keys the query reads (custom fields, issuetype): sync these."""
    found: set[str] = set()

    def walk(node: Node) -> None:
        if isinstance(node, Clause):
            synced = _synced_name(node.field)
            if synced:
                found.add(synced)
        elif isinstance(node, Not):
            walk(node.inner)
        else:
            for part in node.parts:
                walk(part)

    walk(parse(text))
    return frozenset(found)
