"""An import file as JSON values: one document (loaded whole) or JSON lines (streamed).

How the two are told apart, without reading a large JSON-lines file into memory:
- the first non-blank line parses alone: JSON lines, unless nothing else follows it (then it
  is the whole document, e.g. a one-line array);
- otherwise the file is parsed whole; if that fails, the first line holds more than a lone
  `{` or `[` and the second line parses alone, it is JSON lines whose first line is broken;
  any other failure means the file is not JSON at all (`UnusableFile`, naming
  `FILE:line:col`);
- a file read whole holds at most JSON_BYTES (plugin.limits): a larger one is JSON lines if
  its first line is over JSON_BYTES and more follow, or it is broken as above; else
  `UnusableFile`.

A malformed line is reported as `FILE:LINE` and the rest is still read; so is a line over
JSON_BYTES (skipped without being held in memory) or one nested more than NESTING levels.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from plugin.errors import SkillrelayError
from plugin.limits import JSON_BYTES, NESTING, deeper_than, mib, read_at_most

BOM = b"\xef\xbb\xbf"
CHUNK = 2**20  # how much of an over-long line is read at a time while skipping it
TOO_DEEP = f"nested more than {NESTING} levels deep, the most a record may nest"
TOO_LARGE = f"larger than {mib(JSON_BYTES)}, the most one line may hold"
WHOLE = (
    f"larger than {mib(JSON_BYTES)}, the most a file read whole may hold; "
    "write it as JSON lines, one record or page per line"
)


class UnusableFile(SkillrelayError):
    """The file cannot be imported at all (missing, not JSON, a shape no format takes)."""

    exit_code = 2


@dataclass(frozen=True)
class Document:
    """The whole file as one JSON value."""

    value: Any


@dataclass(frozen=True)
class Line:
    """One JSON-lines line: its value, or why it could not be read (`error`, counted under
    `reason`)."""

    number: int
    value: Any = None
    error: str | None = None
    reason: str = "not JSON"


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
                if text is None:
                    raise ValueError(TOO_LARGE)
                value = loads(text)
            except (ValueError, RecursionError):
                second = next(lines, None)
            else:
                more = next(lines, None)
                return Lines(path) if more is not None else Document(value)
        return _whole(path, label, text, second)
    except OSError as exc:
        raise UnusableFile(f"{label}: cannot read: {exc.strerror or exc}") from None


def loads(text: bytes | str) -> Any:
    """json.loads, refusing NaN and Infinity (they are not JSON and cannot be stored)."""
    return json.loads(text, parse_constant=_no_constant)


def _whole(
    path: Path, label: str, first: bytes | None, second: tuple[int, bytes | None] | None
) -> Document | Lines:
    data = read_at_most(path, JSON_BYTES)
    if data is None:
        if _broken_first(first, second):
            return Lines(path)
        raise UnusableFile(f"{label}: {WHOLE}")
    try:
        return Document(loads(data.removeprefix(BOM)))
    except json.JSONDecodeError as exc:
        if _broken_first(first, second):
            return Lines(path)
        raise UnusableFile(f"{label}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    except RecursionError:
        raise UnusableFile(f"{label}: {TOO_DEEP}") from None
    except ValueError as exc:
        raise UnusableFile(f"{label}: not JSON: {_reason(exc)}") from None


def _nonblank(f: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) of each non-blank line, None for a line over JSON_BYTES; a
    UTF-8 BOM on the first is dropped."""
    for number in itertools.count(1):
        raw = f.readline(JSON_BYTES + 1)
        if not raw:
            return
        if len(raw) > JSON_BYTES:
            while raw and not raw.endswith(b"\n"):  # skip the rest, never holding it
                raw = f.readline(CHUNK)
            yield number, None
            continue
        text = raw.removeprefix(BOM) if number == 1 else raw
        if text.strip():
            yield number, text


def _line(number: int, text: bytes | None) -> Line:
    if text is None:
        return Line(number, error=TOO_LARGE, reason="too large")
    try:
        value = loads(text.rstrip(b"\r\n"))
    except json.JSONDecodeError as exc:
        return Line(number, error=f"not JSON: {exc.msg} (column {exc.colno})")
    except RecursionError:
        return Line(number, error=TOO_DEEP, reason="too deep")
    except ValueError as exc:
        return Line(number, error=f"not JSON: {_reason(exc)}")
    if deeper_than(value):
        return Line(number, error=TOO_DEEP, reason="too deep")
    return Line(number, value)


def _broken_first(first: bytes | None, second: tuple[int, bytes | None] | None) -> bool:
    """JSON lines whose first line is too large (and more lines follow), or broken while the
    second line parses alone (a document's first line that does not parse is a lone `{`/`[`)."""
    if second is None:
        return False
    return first is None or (not _opens(first) and _parses(second[1]))


def _opens(text: bytes) -> bool:
    """A line that only opens a document (`{` or `[`): pretty-printed JSON, not JSON lines."""
    return text.strip() in (b"{", b"[")


def _parses(text: bytes | None) -> bool:
    if text is None:
        return False
    try:
        loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _reason(exc: ValueError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return str(exc)
