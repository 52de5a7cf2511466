"""Shared fixtures. Real peers (PostgreSQL, Ralph, Chromium) are started once per session by
plugins; tests/skip_policy.py turns a skip (a missing peer or file) into a failure."""

import logging
from collections.abc import Iterator

import pytest

from plugin import logs

pytest_plugins = [
    "tests.peers.postgres",
    "tests.peers.ralph",
    "tests.peers.browser",
    "tests.peers.oidc",
    "tests.skip_policy",
]


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    # A command run in-process configures logging for a whole process (root handlers and
    # level, the "skillrelay" level a service sets); undo it so the next test sees defaults.
    root, ours = logging.getLogger(), logging.getLogger("skillrelay")
    before, level, our_level = set(root.handlers), root.level, ours.level
    yield
    for handler in root.handlers[:]:
        # Only what `logs.configure` installed: pytest adds and removes its own per phase.
        if handler not in before and isinstance(handler.formatter, logs.LineFormatter):
            root.removeHandler(handler)
    root.setLevel(level)
    ours.setLevel(our_level)
