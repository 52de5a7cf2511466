"""`skillrelay sync` and `skillrelay events` end to end against a real Ralph LRS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.xapi import LrsClient
from plugin.cli import main
from plugin.demo.statements import logstore_statement
from plugin.demo.story import LEARNING
from plugin.manifest import load_manifest
from plugin.settings import EXAMPLE_MANIFEST
from tests.peers.ralph import RalphServer


@pytest.fixture
def setup(
    ralph_lrs: RalphServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, str]:
    text = EXAMPLE_MANIFEST.read_text().replace(
        "https://lrs.northwind.example/xAPI", ralph_lrs.endpoint.rstrip("/")
    )
    manifest_file = tmp_path / "manifest.yaml"
    manifest_file.write_text(text)
    monkeypatch.setenv("LRS_USERNAME", ralph_lrs.username)
    monkeypatch.setenv("LRS_PASSWORD", ralph_lrs.password)
    url = f"sqlite:///{tmp_path / 'skillrelay.db'}"
    assert main(["db", "upgrade", "--url", url]) == 0
    manifest = load_manifest(manifest_file)
    LrsClient(ralph_lrs.endpoint, auth=ralph_lrs.auth).send_statements(
        [logstore_statement(manifest, step) for step in LEARNING]
    )
    return manifest_file, url


def test_sync_then_events(setup: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    manifest_file, url = setup
    args = ["--manifest", str(manifest_file), "--database", url]
    assert main(["sync", "--once", "--source", "xapi", *args]) == 0
    out = capsys.readouterr().out
    assert "xapi" in out and f"{len(LEARNING):>8}" in out and "ok" in out

    assert main(["events", "--json", *args]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == len(LEARNING)
    first = rows[0]
    assert (first["person"], first["skills"], first["what"]) == (
        "amara.okafor",
        ["sql-indexing"],
        "complete sql-query-plans",
    )
    assert {r["what"].split()[0] for r in rows} == {"complete", "passed", "failed", "incomplete"}

    # A second pass reads the overlap again and stores nothing new.
    assert main(["sync", "--once", "--source", "xapi", *args]) == 0
    assert "xapi            1        0          1" in capsys.readouterr().out
    assert main(["events", "--json", *args]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == len(LEARNING)


def test_dry_run_leaves_the_inbox_empty(
    setup: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    manifest_file, url = setup
    args = ["--manifest", str(manifest_file), "--database", url]
    assert main(["sync", "--once", "--dry-run", "--source", "xapi", *args]) == 0
    assert "dry run" in capsys.readouterr().out
    assert main(["events", *args]) == 0
    assert "no events yet" in capsys.readouterr().out


def test_a_missing_secret_names_the_variable_and_field(
    setup: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest_file, url = setup
    monkeypatch.delenv("LRS_PASSWORD")
    code = main(
        ["sync", "--once", "--source", "xapi", "--manifest", str(manifest_file), "--database", url]
    )
    assert code == 2
    assert capsys.readouterr().err == (
        f"{manifest_file}: sources[lrs].auth.password_env: "
        "environment variable LRS_PASSWORD is not set\n"
    )


def test_wrong_lrs_password_stops_the_source_with_exit_1(
    setup: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest_file, url = setup
    monkeypatch.setenv("LRS_PASSWORD", "not-the-password")
    code = main(
        ["sync", "--once", "--source", "xapi", "--manifest", str(manifest_file), "--database", url]
    )
    assert code == 1
    out = capsys.readouterr().out
    assert "stopped" in out and "401" in out
    assert "not-the-password" not in out


def test_sync_before_db_upgrade_says_what_to_do(
    setup: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest_file, _ = setup
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    code = main(
        [
            "sync",
            "--once",
            "--source",
            "xapi",
            "--manifest",
            str(manifest_file),
            "--database",
            fresh,
        ]
    )
    assert code == 2  # a setup step was skipped: exits like a configuration error
    assert "skillrelay db upgrade" in capsys.readouterr().err
