"""Atlassian Document Format (Jira Cloud v3 rich text), built small, and rendered to wiki markup.

One representation for both deployments: comments are built as ADF nodes (plain dicts, the
wire shape), sent as-is to Cloud v3 and rendered with `to_wiki` for Data Center v2, which
takes a wiki-markup string. Only the nodes skillrelay writes are supported: paragraphs, text
with strong / em / code / link marks, bullet and ordered lists, hard breaks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Node = dict[str, Any]
Inline = str | Node
Block = str | Node

_BULLET = re.compile(r"^\s*[-*]\s+(.*)$")
_BLOCKS = frozenset({"paragraph", "bulletList", "orderedList"})


def text(
    value: str,
    *,
    bold: bool = False,
    italic: bool = False,
    code: bool = False,
    link: str | None = None,
) -> Node:
    """A text node; ADF forbids empty text, so pass only non-empty strings."""
    if not value:
        raise ValueError("ADF text nodes cannot be empty")
    marks: list[Node] = []
    if bold:
        marks.append({"type": "strong"})
    if italic:
        marks.append({"type": "em"})
    if code:
        marks.append({"type": "code"})
    if link is not None:
        marks.append({"type": "link", "attrs": {"href": link}})
    node: Node = {"type": "text", "text": value}
    if marks:
        node["marks"] = marks
    return node


def strong(value: str) -> Node:
    return text(value, bold=True)


def hard_break() -> Node:
    return {"type": "hardBreak"}


def paragraph(*parts: Inline) -> Node:
    """A paragraph of text nodes; plain strings become unmarked text, empty ones are dropped."""
    content = [text(p) if isinstance(p, str) else p for p in parts if p != ""]
    return {"type": "paragraph", "content": content}


def _list(kind: str, items: Iterable[Inline | Sequence[Inline]]) -> Node:
    entries: list[Node] = []
    for item in items:
        if isinstance(item, str):
            block = paragraph(item)
        elif isinstance(item, Mapping):
            block = dict(item) if item.get("type") in _BLOCKS else paragraph(dict(item))
        else:
            block = paragraph(*item)
        entries.append({"type": "listItem", "content": [block]})
    if not entries:
        raise ValueError("ADF lists need at least one item")
    return {"type": kind, "content": entries}


def bullet_list(*items: Inline | Sequence[Inline]) -> Node:
    """Each item is a string, an inline node, a sequence of inlines, or a block node."""
    return _list("bulletList", items)


def ordered_list(*items: Inline | Sequence[Inline]) -> Node:
    return _list("orderedList", items)


def doc(*blocks: Block) -> Node:
    """The top-level document: {"type": "doc", "version": 1, "content": [...]}."""
    content = [paragraph(b) if isinstance(b, str) else b for b in blocks]
    return {"type": "doc", "version": 1, "content": content}


def from_text(value: str) -> Node:
    """Plain text to ADF: blank lines split paragraphs, lines starting "- " or "* " are bullets."""
    blocks: list[Node] = []
    for chunk in re.split(r"\n\s*\n", value.strip()):
        bullets: list[str] = []
        lines: list[str] = []
        for line in chunk.splitlines():
            match = _BULLET.match(line)
            if match and match.group(1):
                if lines:
                    blocks.append(_lines(lines))
                    lines = []
                bullets.append(match.group(1))
            else:
                if bullets:
                    blocks.append(bullet_list(*bullets))
                    bullets = []
                lines.append(line)
        if lines:
            blocks.append(_lines(lines))
        if bullets:
            blocks.append(bullet_list(*bullets))
    return doc(*blocks)


def _lines(lines: list[str]) -> Node:
    parts: list[Inline] = []
    for i, line in enumerate(lines):
        if i:
            parts.append(hard_break())
        parts.append(line)
    return paragraph(*parts)


# --- rendering ------------------------------------------------------------------------------

_WIKI_SPECIAL = re.compile(r"([\\*_{}\[\]|!^~+?])")
_WIKI_LINE_START = re.compile(r"^([-#*]|h[1-6]\.|bq\.)", re.MULTILINE)


def escape_wiki(value: str) -> str:
    """Backslash the characters wiki markup would read as formatting."""
    escaped = _WIKI_SPECIAL.sub(r"\\\1", value)
    return _WIKI_LINE_START.sub(r"\\\1", escaped)


def to_wiki(document: Mapping[str, Any]) -> str:
    """Jira wiki markup for an ADF document (Data Center v2 comment bodies)."""
    return "\n\n".join(_wiki_block(b, 1) for b in document.get("content", []))


def _wiki_block(node: Mapping[str, Any], depth: int) -> str:
    kind = node.get("type")
    if kind == "paragraph":
        return "".join(_wiki_inline(n) for n in node.get("content", []))
    if kind in ("bulletList", "orderedList"):
        marker = ("*" if kind == "bulletList" else "#") * depth
        lines: list[str] = []
        for item in node.get("content", []):
            for block in item.get("content", []):
                if block.get("type") in ("bulletList", "orderedList"):
                    lines.append(_wiki_block(block, depth + 1))
                else:
                    lines.append(f"{marker} {_wiki_block(block, depth)}")
        return "\n".join(lines)
    raise ValueError(f"cannot render ADF node {kind!r} as wiki markup")


def _wiki_inline(node: Mapping[str, Any]) -> str:
    kind = node.get("type")
    if kind == "hardBreak":
        return "\n"
    if kind != "text":
        raise ValueError(f"cannot render ADF inline node {kind!r} as wiki markup")
    out = escape_wiki(str(node.get("text", "")))
    for mark in node.get("marks", []):
        mtype = mark.get("type")
        if mtype == "strong":
            out = f"*{out}*"
        elif mtype == "em":
            out = f"_{out}_"
        elif mtype == "code":
            out = "{{" + out + "}}"
        elif mtype == "link":
            out = f"[{out}|{mark.get('attrs', {}).get('href', '')}]"
    return out


def to_plain_text(node: Any) -> str:
    """The text of an ADF node (Cloud v3 textarea custom fields), blocks on separate lines."""
    if not isinstance(node, Mapping):
        return ""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    if node.get("type") == "hardBreak":
        return "\n"
    parts = [to_plain_text(child) for child in node.get("content", [])]
    joiner = "\n" if node.get("type") in ("doc", "bulletList", "orderedList", "listItem") else ""
    return joiner.join(parts)
