"""A YAML syntax error -> the line to fix and a plain hint (indentation, a missing ':', tabs,
quotes), with the parser's own words after it for searching."""

from __future__ import annotations

import re

from ruamel.yaml.error import MarkedYAMLError, YAMLError

# An unfinished key, quote or [list] is reported where the scanner gave up; the line where
# it started is the one to fix.
STARTED_AT = ("while scanning a simple key", "while scanning a quoted", "while parsing a flow")
KEY = re.compile(r"^(?P<indent>[ ]*(?:-[ ]+)*)(?P<key>[^\s#'\"-][^:#]*?):(?:[ \t]|$)")
NO_SPACE = re.compile(r"^[ ]*(?:-[ ]+)*(?P<key>[\w.-]+):(?P<value>[^\s:/][^:]*)$")

MISSING_COLON = (
    "a missing ':' after a key: write `key: value`, or indent a line that continues "
    "the value above more than its key"
)
TAB = "a tab: YAML indents with spaces only; replace the tab with spaces"
LIST_AMONG_KEYS = "a list item among keys: indent the '- ' items under the key that holds the list"
KEY_AMONG_ITEMS = (
    "a key among list items: start a new item with '- ', or indent the key to line up "
    "with the keys of the item above"
)
INDENTATION = "check the indentation of this line against the lines above it"


def describe(exc: YAMLError, text: str) -> tuple[int | None, str]:
    """(1-based line, message) for a YAML error in `text`."""
    if not isinstance(exc, MarkedYAMLError):
        return None, f"invalid YAML: {exc}"
    problem = (exc.problem or "syntax error").replace("\t", "\\t")
    context, mark = exc.context or "", exc.problem_mark
    if context.startswith(STARTED_AT) and exc.context_mark:
        mark = exc.context_mark
    mark = mark or exc.context_mark
    line = mark.line + 1 if mark else None
    duplicate = re.match(r'found duplicate key "([^"]*)"', problem)
    if duplicate:  # ruamel quotes both values; name only the key (values may be secrets)
        return line, f"invalid YAML: duplicate key {duplicate.group(1)!r}"
    if "another document" in problem:
        return line, "invalid YAML: the manifest must be a single document (found a second '---')"
    lines = text.splitlines()
    hint = _hint(exc, problem, lines, mark.line if mark else None, mark.column if mark else 0)
    if hint:
        return line, f"invalid YAML: {hint} (parser: {problem})"
    if context and exc.context_mark and exc.context_mark.line + 1 != line:
        context = f"{context} that starts at line {exc.context_mark.line + 1}"
    return line, f"invalid YAML: {problem}" + (f" ({context})" if context else "")


def _hint(
    exc: MarkedYAMLError, problem: str, lines: list[str], row: int | None, column: int
) -> str | None:
    if row is None or row >= len(lines):
        return None
    here = lines[row]
    if "\\t" in problem or "\t" in here[: len(here) - len(here.lstrip())]:
        return TAB
    context = exc.context or ""
    if context.startswith("while scanning a quoted"):
        quote = here[column : column + 1] or "'"
        return f"the quote ({quote}) opened on this line is never closed"
    if context.startswith("while parsing a flow"):
        sequence = "sequence" in context
        opened, closed, what = ("[", "]", "list") if sequence else ("{", "}", "mapping")
        return (
            f"the '{opened}' opened on this line is never closed: end the {what} with "
            f"'{closed}' and separate its items with ', '"
        )
    if context.startswith("while scanning a simple key"):
        glued = NO_SPACE.match(here)
        if glued:
            return f"a missing space after ':': write `{glued['key']}: {glued['value']}`"
        return MISSING_COLON
    if problem.startswith("found character") and "cannot start any token" in problem:
        return f"a value that starts with {problem.split()[2]} must be in quotes"
    if problem == "mapping values are not allowed here":
        return _mapping_values(lines, row)
    if problem.startswith("expected <block end>"):
        return _block_end(problem, lines, row, column)
    return None


def _mapping_values(lines: list[str], row: int) -> str:
    here = lines[row]
    value = re.match(r"^[ ]*(?:-[ ]+)*[^:#]+:[ ]+(?P<value>[^'\"].*:[ ].*)$", here)
    if value:
        return f"a value that contains ': ' must be in quotes, e.g. {value['value'].strip()!r}"
    return _misaligned(lines, row) or INDENTATION


def _block_end(problem: str, lines: list[str], row: int, column: int) -> str:
    if problem.endswith("found '-'"):
        return LIST_AMONG_KEYS
    if problem.endswith("found '?'"):
        return KEY_AMONG_ITEMS
    if problem.endswith("found '<scalar>'") and lines[row][:column].rstrip().endswith(("'", '"')):
        return "text after a closing quote: put the whole value in quotes"
    return _misaligned(lines, row) or INDENTATION


def _misaligned(lines: list[str], row: int) -> str | None:
    """A key indented unlike the key on the closest line above that holds one."""
    here = KEY.match(lines[row])
    if not here:
        return None
    for above in range(row - 1, -1, -1):
        found = KEY.match(lines[above])
        if found:
            mine, theirs = len(here["indent"]), len(found["indent"])
            if mine == theirs:
                return None
            return (
                f"this key is indented {mine} spaces, the key above it (line {above + 1}) "
                f"{theirs}: keys of one mapping start in the same column"
            )
        if lines[above].strip() and not lines[above].lstrip().startswith("#"):
            return None  # a line that is not a key (a continued value): no safe guess
    return None
