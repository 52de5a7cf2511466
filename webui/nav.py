"""The header's links: each page module adds its own, with who may see it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Link:
    endpoint: str
    word: str  # a key of webui.words
    shown: Callable[[Any], bool]  # given the Viewer
    order: int


LINKS: list[Link] = []


def add(endpoint: str, word: str, shown: Callable[[Any], bool], order: int) -> None:
    LINKS.append(Link(endpoint, word, shown, order))
    LINKS.sort(key=lambda link: link.order)


def visible(viewer: Any) -> list[Link]:
    return [link for link in LINKS if viewer is not None and link.shown(viewer)]
