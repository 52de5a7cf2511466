"""Where skillrelay finds its manifest and database (environment first, then defaults)."""

from __future__ import annotations

import os
from pathlib import Path

MANIFEST_ENV = "SKILLRELAY_MANIFEST"
DATABASE_ENV = "SKILLRELAY_DATABASE_URL"
DEFAULT_DATABASE_URL = "sqlite:///skillrelay.db"

# The checked-in example manifest doubles as the embedded default for `demo`.
EXAMPLE_MANIFEST = Path(__file__).resolve().parent.parent / "manifest" / "example.yaml"


def manifest_path(given: str | None = None) -> Path:
    """The manifest named on the command line, else $SKILLRELAY_MANIFEST, else the example."""
    if given:
        return Path(given)
    env = os.environ.get(MANIFEST_ENV)
    return Path(env) if env else EXAMPLE_MANIFEST


def database_url(given: str | None = None) -> str:
    return given or os.environ.get(DATABASE_ENV) or DEFAULT_DATABASE_URL
