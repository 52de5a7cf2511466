"""What every import format provides, and the helpers they share."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from pydantic import ValidationError

from plugin.importers.output import Output


class WrongShape(ValueError):
    """A value is not any container or record this format takes."""


class Format(Protocol):
    name: str

    def records(self, value: Any, where: str) -> Iterator[tuple[str, Any]]:
        """The records in one document or line, each with where it is; raises WrongShape
        when `value` is none of the containers or records the format takes."""
        ...

    def read(self, where: str, record: Any, out: Output) -> None:
        """Turn one record into events (or count it ignored, or reject it)."""
        ...

    def finish(self, out: Output) -> None:
        """Emit what had to wait for the whole file (e.g. a void seen before its target)."""
        ...


def items(value: list[Any], where: str, name: str = "item") -> Iterator[tuple[str, Any]]:
    for n, item in enumerate(value):
        yield f"{where}[{name} {n}]", item


def first_error(exc: ValidationError, prefix: str = "") -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    path = ".".join(str(part) for part in error["loc"])
    return f"{prefix}{path}: {error['msg']}" if path else f"{prefix}{error['msg']}"


def kind_of(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )
