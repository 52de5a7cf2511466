"""What a webhook view reads of a request, from its WSGI environ, whether the route in front
of Flask (webhooks.direct) or a Flask view received it: the body, headers, the media type.

The body within MAX_CONTENT_LENGTH (a 413 before anything is read when Content-Length is
larger, as werkzeug's `get_input_stream`; a 413 too for a longer body sent without one),
header names as werkzeug's EnvironHeaders maps them, the media type as `Request.mimetype`
parses it. `Read` is the same for a request granian's RSGI interface received (webhooks.rsgi),
its body read on the event loop under the limit already.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.wsgi import get_input_stream

JSON_TYPE = "application/json"


class Incoming:
    def __init__(self, environ: dict[str, Any], limit: int | None) -> None:
        self.environ = environ
        self.limit = limit
        self._body: bytes | None = None

    def body(self) -> bytes:
        if self._body is None:
            self._body = self._read()
        return self._body

    def _read(self) -> bytes:
        given = self.environ.get("CONTENT_LENGTH")
        if isinstance(given, str) and given.isascii() and given.isdigit():
            length = int(given)
            if self.limit is None or length <= self.limit:  # what get_input_stream reads
                data: bytes = self.environ["wsgi.input"].read(length)
                return data
        # No length (a de-chunked body), or one too large: werkzeug's 413 when the length
        # says so. Reading to the end it stops at the limit without a word, so one byte more
        # is asked for: a body past the limit is a 413, never a truncated body.
        more = None if self.limit is None else self.limit + 1
        data = get_input_stream(self.environ, max_content_length=more).read()
        if self.limit is not None and len(data) > self.limit:
            raise RequestEntityTooLarge()
        return data

    def header(self, name: str) -> str | None:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        value = self.environ.get(key)
        return value if isinstance(value, str) else None

    def mimetype(self) -> str:
        return media_type(self.environ.get("CONTENT_TYPE", ""))


class Read(Incoming):
    """A request whose body was read already, with its headers by lower-case name (as an
    RSGI server gives them); a repeated header joined with ", ", as in a WSGI environ."""

    def __init__(self, headers: Iterable[tuple[str, str]], body: bytes) -> None:
        super().__init__({}, None)
        self._body = body
        self.headers: dict[str, str] = {}
        for name, value in headers:
            known = self.headers.get(name)
            self.headers[name] = value if known is None else f"{known}, {value}"

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def mimetype(self) -> str:
        return media_type(self.headers.get("content-type", ""))


def media_type(given: str) -> str:
    """The media type of a Content-Type value, as werkzeug's `Request.mimetype` reads it."""
    if given == JSON_TYPE:  # what every sender sends: no parsing needed
        return given
    return parse_options_header(given)[0].lower()
