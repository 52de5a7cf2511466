"""The field reference (manifest/REFERENCE.md), generated from the manifest's JSON Schema with
examples taken from an example manifest.

    python -m plugin.manifest.reference manifest/example.yaml > manifest/REFERENCE.md
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from plugin.manifest.base import (
    EMAIL_PATTERN,
    ENV_PATTERN,
    ID_PATTERN,
    IRI_PATTERN,
    MBOX_PATTERN,
    PATTERN_HELP,
    TIME_PATTERN,
    URL_PATTERN,
)
from plugin.manifest.schema import manifest_json_schema

Schema = dict[str, Any]

INTRO = """\
# Manifest reference

Every field of the manifest: its type, whether it is required, its default, the values it
allows and an example from `example.yaml`. Generated from the JSON Schema (`schema.json`);
after changing the models, regenerate it with

    python -m plugin.manifest.reference manifest/example.yaml > manifest/REFERENCE.md

(a test fails while it is out of date). Paths read as in error messages: `skills[]` is each
item of the `skills` list; a section "with `type: jira`" applies to the items of that type.
"""
HEADER = (
    "| field | type | required | default | allowed | example |\n"
    "| --- | --- | --- | --- | --- | --- |"
)
KINDS = {
    "string": "text",
    "integer": "whole number",
    "number": "number",
    "boolean": "true or false",
    "null": "empty",
}
LONGEST_EXAMPLE = 60
# Shorter than the error messages' words, for a table cell.
SHORT_HELP = {ENV_PATTERN: "the NAME of an environment variable (A-Z, 0-9, _) that holds it"}
PATTERN_EXAMPLES = {
    ID_PATTERN: "sql-basics",
    ENV_PATTERN: "API_TOKEN",
    URL_PATTERN: "https://example.atlassian.net",
    IRI_PATTERN: "https://lms.example.com/mod/page/view.php?id=12",
    EMAIL_PATTERN: "ana@example.com",
    MBOX_PATTERN: "mailto:ana@example.com",
    TIME_PATTERN: "18:00",
}


@dataclass(frozen=True)
class Section:
    path: str  # "skills[].modules[]"; "" for the top level
    label: str  # the heading: the path, and the union tags that select this model
    model: Schema
    examples: list[Any]  # the values at this path in the example manifest
    tagged: bool = False


def reference_text(example: str | Path) -> str:
    schema = manifest_json_schema()
    values = YAML(typ="safe").load(Path(example).read_text(encoding="utf-8"))
    root = Section("", "Top level", schema, [values])
    parts = [INTRO]
    for section in _walk(root, schema["$defs"]):
        parts.append(_render(section, schema["$defs"]))
    return "\n".join(parts)


def _walk(section: Section, defs: dict[str, Schema]) -> Iterator[Section]:
    """This section, then each model below it, depth first in field order."""
    yield section
    for name, field in section.model["properties"].items():
        path = f"{section.path}.{name}" if section.path else name
        found = [e[name] for e in section.examples if isinstance(e, dict) and name in e]
        where = f"{path}[]" if _is_list(field) else path
        for sub, tag, examples in _models(field, defs, found):
            label = f"`{where}`" + (f" with `type: {tag}`" if tag else "")
            if section.tagged:  # e.g. the auth of a jira source, not of an xapi one
                label += f" in {section.label}"
            tagged = bool(tag) or section.tagged
            yield from _walk(Section(where, label, sub, examples, tagged), defs)


def _models(
    field: Schema, defs: dict[str, Schema], found: list[Any]
) -> Iterator[tuple[Schema, str, list[Any]]]:
    """The models a field holds: (model, union tag or "", the examples of that model)."""
    node = field.get("items", field) if _is_list(field) else field
    items = [v for value in found for v in (value if isinstance(value, list) else [value])]
    options = [o for o in node.get("anyOf", [node]) if o.get("type") != "null"]
    for option in options:
        if "$ref" in option:
            yield _deref(option, defs), "", [i for i in items if isinstance(i, dict)]
        for member in option.get("oneOf", []):
            model = _deref(member, defs)
            tag = model["properties"]["type"]["const"]
            yield model, tag, [i for i in items if isinstance(i, dict) and i.get("type") == tag]


def _render(section: Section, defs: dict[str, Schema]) -> str:
    model = section.model
    about = f"Model `{model['title']}`."
    if model.get("description"):
        about += " " + " ".join(model["description"].split())
    lines = [f"## {section.label}", "", about, "", HEADER]
    required = set(model.get("required", []))
    for name, field in model["properties"].items():
        cells = [
            f"`{name}`",
            _kind(field, defs),
            "yes" if name in required else "no",
            _default(field),
            _allowed(field, defs),
            _example(name, field, section.examples),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _kind(field: Schema, defs: dict[str, Schema]) -> str:
    options = field.get("anyOf", [field])
    kinds = [_one_kind(o, defs) for o in options if o.get("type") != "null"]
    optional = "" if len(kinds) == len(options) else ", or empty"
    return " or ".join(kinds) + optional


def _one_kind(field: Schema, defs: dict[str, Schema]) -> str:
    if "$ref" in field:
        return "mapping"
    if "oneOf" in field:
        tags = [_deref(m, defs)["properties"]["type"]["const"] for m in field["oneOf"]]
        return f"mapping, by `type`: {', '.join(f'`{t}`' for t in tags)}"
    kind: str = field.get("type", "")
    if kind == "array":
        return f"list of {_one_kind(field['items'], defs)}"
    if field.get("format") == "date":
        return "date (YYYY-MM-DD)"
    return KINDS.get(kind, kind)


def _allowed(field: Schema, defs: dict[str, Schema]) -> str:
    options = [o for o in field.get("anyOf", [field]) if o.get("type") != "null"]
    rules = [rule for option in options for rule in _limits(option)]
    if _is_list(field) and "$ref" not in field["items"] and "oneOf" not in field["items"]:
        rules += [f"each: {rule}" for rule in _limits(field["items"])]
    return "; ".join(rules)


def _limits(field: Schema) -> list[str]:
    rules: list[str] = []
    if "enum" in field:
        rules.append("one of " + ", ".join(f"`{v}`" for v in field["enum"]))
    if "const" in field:
        rules.append(f"`{field['const']}`")
    low, high = field.get("minimum"), field.get("maximum")
    if low is not None and high is not None:
        rules.append(f"{low} to {high}")
    elif low is not None:
        rules.append(f"at least {low}")
    elif high is not None:
        rules.append(f"at most {high}")
    if "exclusiveMinimum" in field:
        rules.append(f"more than {field['exclusiveMinimum']}")
    if field.get("minLength") == 1:
        rules.append("not empty")
    if "maxLength" in field:
        rules.append(f"at most {field['maxLength']} characters")
    if "pattern" in field:
        pattern = field["pattern"]
        help_text = SHORT_HELP.get(pattern) or PATTERN_HELP.get(pattern)
        rules.append(help_text or f"matches `{pattern}`")
    if "minItems" in field:
        items = field["minItems"]
        rules.append("at least 1 item" if items == 1 else f"at least {items} items")
    return rules


def _default(field: Schema) -> str:
    if "default" not in field:
        return ""
    value = field["default"]
    if value is None:
        return "empty"
    if isinstance(value, dict):
        return "the defaults of its fields"
    return f"`{_yaml(value)}`"


def _example(name: str, field: Schema, examples: list[Any]) -> str:
    """The value in the example manifest, else one the schema allows."""
    found = [e[name] for e in examples if isinstance(e, dict) and name in e]
    value = found[0] if found else _made_up(field)
    if isinstance(value, dict) or (isinstance(value, list) and _has_mappings(value)):
        return "see below"
    if value is None:
        return "see below" if _holds_models(field) else ""
    text = _yaml(value)
    return f"`{text}`" if len(text) <= LONGEST_EXAMPLE else f"`{text[:57]}...`"


def _made_up(field: Schema) -> Any:
    options = [o for o in field.get("anyOf", [field]) if o.get("type") != "null"]
    option = options[0] if options else field
    if option.get("type") == "array" and field.get("default") == []:
        item = _made_up(option["items"])
        return None if item is None else [item]
    if field.get("default") not in (None, [], {}):
        return field["default"]
    for key in ("const", "minimum"):
        if key in option:
            return option[key]
    if "enum" in option:
        return option["enum"][0]
    if option.get("format") == "date":
        return "2026-11-02"
    return PATTERN_EXAMPLES.get(option.get("pattern", ""))


def _yaml(value: Any) -> str:
    """A value as it is written in the manifest (flow style for lists)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, str) and (value != value.strip() or "'" in value or ": " in value):
        return json.dumps(value)
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _holds_models(field: Schema) -> bool:
    node = field.get("items", field) if _is_list(field) else field
    return any("$ref" in o or "oneOf" in o for o in node.get("anyOf", [node]))


def _has_mappings(values: list[Any]) -> bool:
    return any(isinstance(v, dict) for v in values)


def _is_list(field: Schema) -> bool:
    return field.get("type") == "array"


def _deref(node: Schema, defs: dict[str, Schema]) -> Schema:
    found: Schema = defs[node["$ref"].rsplit("/", 1)[-1]]
    return found


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m plugin.manifest.reference EXAMPLE.yaml > REFERENCE.md")
    sys.stdout.write(reference_text(sys.argv[1]))
