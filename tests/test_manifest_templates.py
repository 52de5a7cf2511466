"""`manifest validate` checks the message templates an admin put next to the manifest."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from plugin import cli
from plugin.settings import EXAMPLE_MANIFEST


def validate(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["manifest", "validate", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def test_an_unknown_variable_in_an_override_is_named_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "manifest.yaml"
    shutil.copyfile(EXAMPLE_MANIFEST, manifest)
    folder = tmp_path / "templates" / "en"
    folder.mkdir(parents=True)
    (folder / "awarded.txt").write_text("Hi {{ person_name }},\n\nYou got {{ bonus_points }}.\n")
    code, out, err = validate(manifest, capsys)
    assert (code, out) == (2, "")
    [line] = err.splitlines()
    assert line.startswith(f"{folder / 'awarded.txt'}:3: ")
    assert "bonus_points" in line


def test_good_overrides_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "manifest.yaml"
    shutil.copyfile(EXAMPLE_MANIFEST, manifest)
    folder = tmp_path / "templates" / "ru"
    folder.mkdir(parents=True)
    (folder / "awarded.subject").write_text("Навык «{{ skill_name }}» применён\n")
    code, out, _ = validate(manifest, capsys)
    assert code == 0 and out.startswith(f"{manifest}: ok")
