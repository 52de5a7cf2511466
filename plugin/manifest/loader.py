"""Read a manifest: YAML (keeping each node's line) -> Manifest, or a ConfigError that names
file:line and the field path of every problem at once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import YAMLError

from plugin.errors import ConfigError, Problem
from plugin.limits import (
    MANIFEST_BYTES,
    BoundedComposer,
    LimitExceeded,
    check_openers,
    mib,
    read_at_most,
)
from plugin.manifest.base import Loc
from plugin.manifest.messages import translate
from plugin.manifest.model import Manifest
from plugin.manifest.paths import render
from plugin.manifest.syntax import describe

TOP_LEVEL = "version, organisation, sources, identities, skills, rewards, ..."


class _Constructor(RoundTripConstructor):
    """Leaves dates as text for pydantic to parse: ruamel raises a bare ValueError, with no
    line, on a date like 2026-13-01."""


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_str)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.Composer = BoundedComposer  # refuses alias bombs and deep nesting before building
    return yaml


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    name = str(path)
    root = _parse(Path(path), name)
    try:
        return Manifest.model_validate(_plain(root))
    except ValidationError as exc:
        errors = _without_echoes(exc.errors())
        found = [pair for error in errors for pair in translate(error, Manifest)]
        problems = [Problem(name, line_of(root, loc), render(loc), msg) for loc, msg in found]
        problems.sort(key=lambda p: p.line or 0)
        raise ConfigError(problems) from None


def _without_echoes(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Drop "needs at least N items" for a list whose items are already reported: it only
    counts the items that were valid."""
    inside = {error["loc"][:n] for error in errors for n in range(len(error["loc"]))}
    return [e for e in errors if not (e["type"] == "too_short" and e["loc"] in inside)]


def _fail(name: str, line: int | None, message: str) -> ConfigError:
    return ConfigError([Problem(name, line, "", message)])


def _parse(path: Path, name: str) -> CommentedMap:
    try:
        data = read_at_most(path, MANIFEST_BYTES)
        text = None if data is None else data.decode("utf-8-sig")  # tolerate a BOM
    except FileNotFoundError:
        raise _fail(name, None, "file not found") from None
    except IsADirectoryError:
        raise _fail(name, None, "is a directory, not a manifest file") from None
    except UnicodeDecodeError:
        raise _fail(name, None, "is not UTF-8 text") from None
    except OSError as exc:
        raise _fail(name, None, f"cannot be read: {exc.strerror}") from None
    if text is None:
        raise _fail(name, None, f"larger than {mib(MANIFEST_BYTES)}, the most a manifest may hold")
    try:
        check_openers(text, "manifest")
        root = _yaml().load(text)
    except YAMLError as exc:
        raise _fail(name, *describe(exc, text)) from None
    except LimitExceeded as exc:
        raise _fail(name, exc.line, exc.message) from None
    if root is None:
        raise _fail(name, 1, f"the manifest is empty; expected a mapping with {TOP_LEVEL}")
    if not isinstance(root, CommentedMap):
        what = "a list" if isinstance(root, CommentedSeq) else "a single value"
        line = root.lc.line + 1 if isinstance(root, CommentedSeq) else 1
        raise _fail(name, line, f"the top level must be a mapping with {TOP_LEVEL}, not {what}")
    return root


def _plain(node: Any) -> Any:
    """ruamel's round-trip types -> plain Python, so validation sees ordinary values."""
    if isinstance(node, dict):
        return {_plain(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    for kind in (bool, int, float, str):
        if isinstance(node, kind):
            return kind(node)
    return node


def line_of(root: CommentedMap, loc: Loc) -> int:
    """1-based line of the deepest node on the path that exists in the YAML."""
    node: Any = root
    line = int(root.lc.line) + 1
    for part in loc:
        try:
            if isinstance(node, CommentedMap) and part in node:
                position = node.lc.key(part)
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                position = node.lc.item(part)
            else:
                break
        except (KeyError, IndexError, AttributeError):  # e.g. keys merged in with `<<:`
            break
        node = node[part]
        line = int(position[0]) + 1
    return line
