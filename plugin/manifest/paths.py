"""Field paths: from pydantic's error locations to `skills[2].modules[0].moodle_cmid`."""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, NamedTuple, Union, get_args, get_origin

from pydantic import BaseModel

from plugin.manifest.base import Loc


def render(parts: Loc) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _unwrap(annotation: Any) -> Any:
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        elif _is_union(annotation) and type(None) in get_args(annotation):
            rest = [a for a in get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _member_for_tag(union: Any, tag: object) -> type[BaseModel] | None:
    for member in get_args(union):
        field = member.model_fields.get("type") if _is_model(member) else None
        literal = field is not None and get_origin(field.annotation) is Literal
        if literal and field is not None and tag in get_args(field.annotation):
            return member  # type: ignore[no-any-return]
    return None


class Resolved(NamedTuple):
    path: Loc  # the location without union tags
    owner: type[BaseModel] | None  # the model owning the last key (to list its fields)
    expected: Any  # the annotation expected at the location, if known


def resolve(root: type[BaseModel], loc: Loc) -> Resolved:
    """Follow a pydantic error location through the model types."""
    parts: list[str | int] = []
    owner: type[BaseModel] | None = None
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if _is_model(current) and isinstance(part, str):
            owner = current
            field = current.model_fields.get(part)
            current = field.annotation if field else None
        elif get_origin(current) in (list, tuple) and isinstance(part, int):
            current = get_args(current)[0]
        elif _is_union(current) and (member := _member_for_tag(current, part)):
            current = member
            continue
        else:
            current = None
        parts.append(part)
    return Resolved(tuple(parts), owner, _unwrap(current))


def union_tags(union: Any) -> list[str]:
    """The `type` values a discriminated union accepts, in declaration order."""
    tags: list[str] = []
    for member in get_args(union) if _is_union(union) else ():
        field = member.model_fields.get("type") if _is_model(member) else None
        if field is not None and get_origin(field.annotation) is Literal:
            tags.extend(str(tag) for tag in get_args(field.annotation))
    return tags
