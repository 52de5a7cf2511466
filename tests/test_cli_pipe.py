"""CLI output piped into a reader that has gone away stops quietly (#10)."""

from __future__ import annotations

import subprocess
import sys

from plugin.cli import PIPE_CLOSED


def test_a_closed_reader_ends_the_command_quietly() -> None:
    command = [sys.executable, "-m", "plugin", "manifest", "schema"]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    with child:
        child.stdout.close()  # like `| head` that has read what it wanted
        errors = child.stderr.read().decode()
        assert child.wait(timeout=60) == PIPE_CLOSED
    assert errors == ""
