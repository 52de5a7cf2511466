"""manifest/schema.json is exactly what `skillrelay manifest schema` prints, and it is usable."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from plugin.cli import main
from plugin.manifest import manifest_json_schema

MANIFEST_DIR = Path(__file__).resolve().parent.parent / "manifest"
SCHEMA_FILE = MANIFEST_DIR / "schema.json"


def test_schema_file_is_in_sync(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "schema"]) == 0
    printed = capsys.readouterr().out
    assert printed.endswith("}\n")
    # Regenerate with: skillrelay manifest schema > manifest/schema.json
    assert SCHEMA_FILE.read_bytes() == printed.encode("utf-8")


def test_schema_is_json_with_discriminators() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema == json.loads(json.dumps(manifest_json_schema()))
    sources = schema["properties"]["sources"]["items"]["discriminator"]
    assert sources["propertyName"] == "type"
    assert set(sources["mapping"]) == {"jira", "moodle", "xapi"}
    auth = schema["$defs"]["JiraSource"]["properties"]["auth"]["discriminator"]
    assert set(auth["mapping"]) == {"basic", "bearer"}
    channels = schema["$defs"]["Notifications"]["properties"]["channels"]["items"]
    assert set(channels["discriminator"]["mapping"]) == {
        "jira_comment",
        "moodle_message",
        "lrs_statement",
        "email",
        "chat",
    }
    assert all(d.get("additionalProperties") is False for d in schema["$defs"].values())


def _json_ready(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _json_ready(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_json_ready(v) for v in node]
    return node.isoformat() if isinstance(node, date) else node


def test_example_passes_the_json_schema() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    example = _json_ready(YAML(typ="safe").load(MANIFEST_DIR / "example.yaml"))

    jsonschema.Draft202012Validator(schema).validate(example)


def test_other_templates_are_well_formed() -> None:
    webhook = json.loads((MANIFEST_DIR / "jira-webhook.json").read_text(encoding="utf-8"))
    assert webhook["events"] == ["jira:issue_created", "jira:issue_updated"]
    assert webhook["url"].endswith("/webhooks/jira")
    functions = (MANIFEST_DIR / "moodle-functions.txt").read_text(encoding="utf-8").split()
    assert "core_completion_get_activities_completion_status" in functions
    assert len(functions) == len(set(functions)) == 7
