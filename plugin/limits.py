"""How much of a file skillrelay reads at once, so that hostile input is refused quickly and
in bounded memory instead of hanging or filling the machine.

- MANIFEST_BYTES: a manifest file (a real one is tens of KiB);
- JSON_BYTES: one JSON value read at once: an import file read whole, or one JSON line;
- NESTING: levels of lists and mappings in a manifest or in one imported record (a real
  manifest nests about 6, a Jira issue about 20);
- ALIAS_NODES: values that YAML aliases (`*name`) repeat in one document, in all. They are
  counted while the document is composed, before any value is built, so an alias bomb is
  refused before it expands.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NoReturn

from ruamel.yaml.composer import Composer
from ruamel.yaml.events import AliasEvent

MIB = 2**20
MANIFEST_BYTES = 4 * MIB
JSON_BYTES = 16 * MIB
NESTING = 64
ALIAS_NODES = 100_000

# `[[[[...`: ruamel's scanner looks 1024 characters ahead on such a line keeping a possible
# key per level (about half a second) before the composer can refuse it; found here first.
OPENERS = re.compile(r"(?:[\[{]\s*){" + str(NESTING + 1) + "}")


class LimitExceeded(Exception):
    """A file goes past a limit: where (1-based line, when known) and a plain message."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def mib(size: int) -> str:
    return f"{size // MIB} MiB"


def read_at_most(path: Path, limit: int) -> bytes | None:
    """The file's bytes, or None when it holds more than `limit`. At most limit + 1 bytes are
    read, so a huge file, a pipe or a device never fills memory."""
    with path.open("rb") as f:
        data = f.read(limit + 1)
    return None if len(data) > limit else data


def deeper_than(value: Any, limit: int = NESTING) -> bool:
    """Whether `value` nests more than `limit` levels: the value is level 1, the items of a
    list or dict one level below it (as the YAML composer counts). Walks without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return False


def check_openers(text: str, kind: str) -> None:
    """LimitExceeded when `text` opens more than NESTING flow lists or mappings in a row."""
    found = OPENERS.search(text)
    if found:
        line = text.count("\n", 0, found.start()) + 1
        raise LimitExceeded(line, _too_deep(kind))


def _too_deep(kind: str) -> str:
    return f"nested more than {NESTING} levels deep, the most a {kind} may nest"


class BoundedComposer(Composer):
    """ruamel's composer, refusing (LimitExceeded) a document nested more than NESTING levels
    or whose aliases repeat more than ALIAS_NODES values in all.

    Composing links an alias to its anchor's node and copies nothing; what blows up is what
    is built from the nodes afterwards. So counting here refuses a bomb before it expands,
    and stops the composer's recursion long before Python's limit.
    """

    kind = "manifest"  # what the messages call the document

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.level = 0
        self.repeated = 0
        self.counts = [0]  # values composed so far inside each value still open
        self.sizes: dict[int, int] = {}  # id(anchored node) -> values it stands for

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)
            size = self.sizes.get(id(node))
            if size is None:  # the anchored value is still open: the alias is inside it
                name = event.anchor
                self._refuse(
                    event, f"alias *{name} is inside the value &{name} names, so it never ends"
                )
            self.repeated += size
            if self.repeated > ALIAS_NODES:
                self._refuse(
                    event,
                    f"aliases repeat more than {ALIAS_NODES} values in all, the most a "
                    f"{self.kind} may repeat with *aliases",
                )
            self.counts[-1] += size
            return node
        self.level += 1
        if self.level > NESTING:
            self._refuse(event, _too_deep(self.kind))
        self.counts.append(0)
        node = super().compose_node(parent, index)
        size = self.counts.pop() + 1
        self.counts[-1] += size
        if event.anchor is not None:
            self.sizes[id(node)] = size
        self.level -= 1
        return node

    def _refuse(self, event: Any, message: str) -> NoReturn:
        raise LimitExceeded(event.start_mark.line + 1, message)
