"""Outside text made safe to print: control characters shown as escapes, never acted on.

Ticket keys, display names, statuses and error messages come from Jira, Moodle and the LRS.
Printed raw, an ESC byte drives the terminal (clears it, retitles the window), a newline
forges a line of a table or a log, a bidi override shows text backwards. `printable` shows
each such character as an escape a person can read (`\\x1b`, `\\n`, `\\u202e`) and leaves
every other character, accents and scripts included, as it is.
"""

from __future__ import annotations

import json
import re
from typing import Any

# C0 controls (with tab, newline and ESC), DEL, C1 controls (U+0085 NEL ends a line for
# some readers), the line and paragraph separators, the bidi marks, embeddings, overrides
# and isolates that reorder what follows them, and lone surrogates (JSON lets a payload
# carry one; printed, it stops the command with an encoding error).
_WIDE = r"\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE = re.compile(rf"[\x00-\x1f{_WIDE}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(found: re.Match[str]) -> str:
    char = found.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control, line-breaking or bidi character shown as an escape."""
    return _UNSAFE.sub(_escape, text)


# json.dumps escapes C0 controls itself; a newline it writes (with `indent`) is layout.
_UNSAFE_IN_JSON = re.compile(f"[{_WIDE}]")


def _json_escape(found: re.Match[str]) -> str:
    return f"\\u{ord(found.group()):04x}"


def json_text(value: Any, *, indent: int | None = None) -> str:
    """JSON for the terminal: names in any script stay readable, but DEL, C1 controls and
    bidi characters (which JSON allows raw) are written as `\\uXXXX` escapes too.

    Outside strings JSON holds only ASCII punctuation, digits and words, so every match is
    inside a string, where the escape decodes back to the same character.
    """
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, indent=indent)
    return _UNSAFE_IN_JSON.sub(_json_escape, text)
