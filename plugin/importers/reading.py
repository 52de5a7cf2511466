"""An import file as JSON values: one document (loaded whole) or JSON lines (streamed).

How the two are told apart, without reading a large JSON-lines file into memory:
- the first non-blank line parses alone: JSON lines, unless nothing else follows it (then it
  is the whole document, e.g. a one-line array);
- otherwise the file is parsed whole; if that fails, the first line holds more than a lone
  `{` or `[` and the second line parses alone, it is JSON lines whose first line is broken;
  any other failure means the file is not JSON at all (`UnusableFile`, naming
  `FILE:line:col`).

A malformed line is reported as `FILE:LINE` and the rest is still read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from plugin.errors import SkillrelayError

BOM = b"\xef\xbb\xbf"


class UnusableFile(SkillrelayError):
    """The file cannot be imported at all (missing, not JSON, a shape no format takes)."""

    exit_code = 2


@dataclass(frozen=True)
class Document:
    """The whole file as one JSON value."""

    value: Any


@dataclass(frozen=True)
class Line:
    """One JSON-lines line: its value, or why it could not be read (`error`)."""

    number: int
    value: Any = None
    error: str | None = None


@dataclass(frozen=True)
class Lines:
    """A JSON-lines file, read again from the start each time it is iterated."""

    path: Path

    def __iter__(self) -> Iterator[Line]:
        with self.path.open("rb") as f:
            for number, text in _nonblank(f):
                yield _line(number, text)


def open_json(path: Path, label: str) -> Document | Lines:
    """The file as a Document or as Lines; UnusableFile when it is neither."""
    try:
        with path.open("rb") as f:
            lines = _nonblank(f)
            first = next(lines, None)
            if first is None:
                raise UnusableFile(f"{label}: empty file: nothing to import")
            _, text = first
            try:
                value = loads(text)
            except (ValueError, RecursionError):
                pass
            else:
                more = next(lines, None)
                return Lines(path) if more is not None else Document(value)
            second = next(lines, None)
        return _whole(path, label, text, second)
    except OSError as exc:
        raise UnusableFile(f"{label}: cannot read: {exc.strerror or exc}") from None


def loads(text: bytes | str) -> Any:
    """json.loads, refusing NaN and Infinity (they are not JSON and cannot be stored)."""
    return json.loads(text, parse_constant=_no_constant)


def _whole(
    path: Path, label: str, first: bytes, second: tuple[int, bytes] | None
) -> Document | Lines:
    try:
        return Document(loads(path.read_bytes().removeprefix(BOM)))
    except json.JSONDecodeError as exc:
        if not _opens(first) and second is not None and _parses(second[1]):
            return Lines(path)  # JSON lines whose first line is broken
        raise UnusableFile(f"{label}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:
        raise UnusableFile(f"{label}: not JSON: {_reason(exc)}") from None


def _nonblank(f: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of each non-blank line; a UTF-8 BOM on the first is dropped."""
    for number, raw in enumerate(f, start=1):
        text = raw.removeprefix(BOM) if number == 1 else raw
        if text.strip():
            yield number, text


def _line(number: int, text: bytes) -> Line:
    try:
        return Line(number, loads(text.rstrip(b"\r\n")))
    except json.JSONDecodeError as exc:
        return Line(number, error=f"not JSON: {exc.msg} (column {exc.colno})")
    except (ValueError, RecursionError) as exc:
        return Line(number, error=f"not JSON: {_reason(exc)}")


def _opens(text: bytes) -> bool:
    """A line that only opens a document (`{` or `[`): pretty-printed JSON, not JSON lines."""
    return text.strip() in (b"{", b"[")


def _parses(text: bytes) -> bool:
    try:
        loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)
