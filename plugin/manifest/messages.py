"""Pydantic errors rewritten for admins: each names what is wrong and, for closed sets, what
is valid. Values of secret-bearing fields are never echoed."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from plugin.manifest.base import PATTERN_HELP, Loc, Problems
from plugin.manifest.paths import Resolved, resolve, union_tags
from plugin.manifest.references import choices

SECRET_PARTS = {"token", "password", "passwd", "secret"}
SECRET_KEYS = {"pat", "api_key", "apikey"}
BOUNDS = {
    "greater_than_equal": ("at least", "ge"),
    "greater_than": ("more than", "gt"),
    "less_than_equal": ("at most", "le"),
    "less_than": ("less than", "lt"),
}
UNION_NOUNS = {"sources": "source", "auth": "auth", "channels": "channel"}

KIND = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text (put numbers that are ids in quotes)",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "date_type": "a date like 2026-11-02",
    "date_parsing": "a date like 2026-11-02",
    "date_from_datetime_parsing": "a date like 2026-11-02",
    "date_from_datetime_inexact": "a date like 2026-11-02",
}


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "nothing"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _quoted(expected: str) -> list[str]:
    # pydantic's "'cloud' or 'datacenter'" -> ["cloud", "datacenter"]
    return [part.strip("'") for part in re.split(r",\s*|\s+or\s+", expected) if part]


def _looks_secret(name: str) -> bool:
    word = name.lower()
    if word.endswith("_env"):  # already names a variable
        return False
    return word in SECRET_KEYS or bool(set(word.split("_")) & SECRET_PARTS)


def _unknown_field(key: object, owner: type[BaseModel] | None) -> str:
    fields = list(owner.model_fields) if owner else []
    if _looks_secret(str(key)):
        parts = set(str(key).lower().split("_")) & SECRET_PARTS or {"token"}
        named = [f for f in fields if f.endswith("_env")]
        env = [f for f in named if any(p in f for p in parts)] or named
        name = " or ".join(env) if env else "a field ending in _env"
        return (
            "secrets are never written in the manifest: put it in an environment variable "
            f"and name that variable with {name}"
        )
    return f"unknown field; valid: {choices(fields, limit=30)}"


def _message(error: ErrorDetails, where: Resolved) -> str:
    path = where.path
    kind, ctx, value = error["type"], error.get("ctx", {}), error["input"]
    field = next((p for p in reversed(path) if isinstance(p, str)), "")
    secret = field.endswith("_env") or _looks_secret(field)
    got = "" if secret else f", got {_show(value)}"
    if kind == "missing":
        return "required field missing"
    if kind == "extra_forbidden":
        return _unknown_field(path[-1] if path else "", where.owner)
    if kind == "union_tag_invalid":
        noun = UNION_NOUNS.get(field, field)  # the list or field holding the union
        tags = ", ".join(union_tags(where.expected))
        return f"unknown {noun} type {ctx['tag']!r}; valid: {tags}"
    if kind == "union_tag_not_found":
        return f"required field missing; valid: {', '.join(union_tags(where.expected))}"
    if kind in ("literal_error", "enum"):
        return f"invalid value {_show(value)}; valid: {', '.join(_quoted(ctx['expected']))}"
    if kind == "string_pattern_mismatch":
        help_text = PATTERN_HELP.get(ctx["pattern"], f"must match {ctx['pattern']}")
        return help_text + got
    if kind in KIND:
        return f"expected {KIND[kind]}{got}"
    if kind in BOUNDS:
        word, bound = BOUNDS[kind]
        return f"must be {word} {ctx[bound]}{got}"
    if kind == "too_short":
        return f"needs at least {ctx['min_length']} item(s)"
    if kind == "string_too_short":
        return "must not be empty"
    message = error["msg"].removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def translate(error: ErrorDetails, root: type[BaseModel]) -> list[tuple[Loc, str]]:
    """One pydantic error -> (field path without union tags, message) pairs."""
    raised = error.get("ctx", {}).get("error")
    if isinstance(raised, Problems):
        return [(resolve(root, (*error["loc"], *loc)).path, msg) for loc, msg in raised.items]
    where = resolve(root, error["loc"])
    message = _message(error, where)
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return [((*where.path, "type"), message)]  # the line of `type:`, not the whole item
    return [(where.path, message)]
