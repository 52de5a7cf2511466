"""The manifest's JSON Schema, generated from the models (manifest/schema.json is its copy)."""

from __future__ import annotations

import json
from typing import Any

from plugin.manifest.model import Manifest

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def manifest_json_schema() -> dict[str, Any]:
    schema = Manifest.model_json_schema()
    return {"$schema": DIALECT, **schema}


def schema_text() -> str:
    """What `skillrelay manifest schema` prints and manifest/schema.json holds, byte for byte."""
    return json.dumps(manifest_json_schema(), indent=2, sort_keys=True) + "\n"
