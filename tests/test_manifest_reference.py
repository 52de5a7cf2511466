"""manifest/REFERENCE.md documents every field of the JSON Schema and is up to date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from plugin.manifest import manifest_json_schema
from plugin.manifest.reference import reference_text

ROOT = Path(__file__).resolve().parent.parent
MANIFEST_DIR = ROOT / "manifest"
REFERENCE = MANIFEST_DIR / "REFERENCE.md"
EXAMPLE = MANIFEST_DIR / "example.yaml"


def sections(text: str) -> dict[str, str]:
    """Heading -> the text under it."""
    found: dict[str, str] = {}
    for chunk in text.split("\n## ")[1:]:
        heading, _, body = chunk.partition("\n")
        found[heading.strip()] = body
    return found


def rows(body: str) -> dict[str, list[str]]:
    """Field name -> its table cells (type, required, default, allowed, example)."""
    table: dict[str, list[str]] = {}
    for line in body.splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            table[cells[0].strip("`")] = cells[1:]
    return table


def test_reference_file_is_in_sync() -> None:
    # Regenerate with: python -m plugin.manifest.reference manifest/example.yaml
    #                  > manifest/REFERENCE.md
    assert REFERENCE.read_text(encoding="utf-8") == reference_text(EXAMPLE)


def test_the_generator_is_a_command() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "plugin.manifest.reference", str(EXAMPLE)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert printed == reference_text(EXAMPLE)


def test_every_field_of_every_model_has_a_row() -> None:
    schema = manifest_json_schema()
    found = sections(reference_text(EXAMPLE))
    models: list[dict[str, Any]] = [schema, *schema["$defs"].values()]
    for model in models:
        title = model["title"]
        owned = [
            rows(b) for b in found.values() if b.split("\n")[1].startswith(f"Model `{title}`.")
        ]
        assert owned, f"no section for {title}"
        for table in owned:
            assert set(table) == set(model["properties"]), title


def test_rows_show_type_default_allowed_values_and_an_example() -> None:
    found = sections(reference_text(EXAMPLE))
    rules = rows(found["`rules`"])
    kind, required, default, allowed, example = rules["done_status_category"]
    assert (kind, required, default) == ("text", "no", "`done`")
    assert allowed == "one of `new`, `indeterminate`, `done`"
    assert example == "`done`"
    assert rules["apply_window_days"][:4] == ["whole number", "no", "`30`", "at least 1"]

    jira = rows(found["`sources[]` with `type: jira`"])
    assert jira["deployment"][1:] == [
        "yes",
        "",
        "one of `cloud`, `datacenter`",
        "`cloud`",
    ]
    assert "NAME of an environment variable" in jira["webhook_secret_env"][3]  # not the secret
    assert jira["webhook_secret_env"][4] == "`JIRA_WEBHOOK_SECRET`"
    assert jira["auth"][0].startswith("mapping, by `type`: `basic`, `bearer`")

    sprint = rows(found["`sprints[]`"])
    assert sprint["start"][0] == "date (YYYY-MM-DD)"
    assert sprint["length_days"][1:4] == ["no", "`14`", "1 to 56"]
    module = rows(found["`skills[].modules[]`"])
    assert module["moodle_cmid"][0] == "whole number, or empty"
