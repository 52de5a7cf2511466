"""CLI output piped into a reader that has gone away stops quietly (#10)."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from plugin import cli
from plugin.cli import PIPE_CLOSED
from plugin.errors import ConnectorError


def test_a_closed_reader_ends_the_command_quietly() -> None:
    command = [sys.executable, "-m", "plugin", "manifest", "schema"]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    with child:
        child.stdout.close()  # like `| head` that has read what it wanted
        errors = child.stderr.read().decode()
        assert child.wait(timeout=60) == PIPE_CLOSED
    assert errors == ""


def test_error_messages_cannot_drive_the_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Whatever a message quotes from outside (here a title-setting escape), stderr shows it
    # as text; the message's own line breaks stay.
    def fail(args: argparse.Namespace) -> int:
        raise ConnectorError("jira", "Nope\x1b]0;pwned\x07\nsecond line")

    parser = argparse.ArgumentParser()
    parser.set_defaults(func=fail, log_level="WARNING")
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main([]) != 0
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert "Nope\\x1b]0;pwned\\x07" in err and err.count("\n") == 2
