"""`skillrelay sync --source moodle` end to end against a Moodle on 127.0.0.1: a course the
service user cannot read, and modules without moodle_course seen by a site admin."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugin.cli import main
from plugin.manifest import load_manifest
from plugin.settings import EXAMPLE_MANIFEST
from tests.moodle_server import Site, moodle_server, northwind_manifest, northwind_site

T1 = 1_700_100_000


@pytest.fixture
def site() -> Site:
    return northwind_site(users=2)


@pytest.fixture
def url(site: Site) -> Iterator[str]:
    with moodle_server(site) as base:
        yield base


class Skillrelay:
    def __init__(self, tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp_path = tmp_path
        self.url = url
        self.database = f"sqlite:///{tmp_path / 'skillrelay.db'}"
        monkeypatch.setenv("MOODLE_TOKEN", "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e")
        assert main(["db", "upgrade", "--url", self.database]) == 0
        self.manifest(())

    def manifest(self, unplaced: tuple[int, ...]) -> None:
        text = northwind_manifest(EXAMPLE_MANIFEST.read_text(), self.url, unplaced)
        self.manifest_file = self.tmp_path / "manifest.yaml"
        self.manifest_file.write_text(text)
        manifest = load_manifest(self.manifest_file)
        self.module_of = {m.moodle_cmid: m.id for s in manifest.skills for m in s.modules}

    def args(self) -> list[str]:
        return ["--manifest", str(self.manifest_file), "--database", self.database]

    def sync(self) -> int:
        return main(["sync", "--once", "--source", "moodle", *self.args()])

    def modules_completed(self, capsys: pytest.CaptureFixture[str]) -> set[str]:
        capsys.readouterr()
        assert main(["events", "--json", "--source", "moodle", *self.args()]) == 0
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        return {
            row["what"].removeprefix("complete ")
            for row in rows
            if row["what"].startswith("complete ")
        }


@pytest.fixture
def app(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> Skillrelay:
    return Skillrelay(tmp_path, url, monkeypatch)


def read_courses(site: Site) -> list[int]:
    return [
        int(form["courseid"])
        for function, form in site.calls
        if function == "core_enrol_get_enrolled_users"
    ]


def test_a_course_the_user_cannot_read_is_reported_and_the_others_are_read(
    site: Site, app: Skillrelay, capsys: pytest.CaptureFixture[str]
) -> None:
    site.courses[23].error = "error_coursecontextnotvalid"
    site.states = {(101, 2101): (1, T1), (101, 2401): (1, T1), (102, 2602): (1, T1)}

    assert app.sync() == 1
    out = capsys.readouterr().out
    assert read_courses(site) == [21, 22, 23, 24, 25, 26]
    failed = [line for line in out.splitlines() if "course 23" in line]
    assert len(failed) == 1
    assert '"Incident postmortems"' in failed[0]
    assert "errorcoursecontextnotvalid" in failed[0]
    assert "Course or activity not accessible. (Not enrolled)" in failed[0]
    assert "1 of 6 courses could not be read" in out
    # what was read is stored: courses before and after the broken one
    assert app.modules_completed(capsys) == {app.module_of[c] for c in (2101, 2401, 2602)}

    # the next run reads every course again, and still says which one failed
    site.calls.clear()
    site.states[(102, 2502)] = (1, T1)
    assert app.sync() == 1
    assert "course 23" in capsys.readouterr().out
    assert read_courses(site) == [21, 22, 23, 24, 25, 26]
    assert app.module_of[2502] in app.modules_completed(capsys)


def test_a_site_admin_enrolled_nowhere_finds_modules_without_a_course(
    site: Site, app: Skillrelay, capsys: pytest.CaptureFixture[str]
) -> None:
    app.manifest(unplaced=(2201, 2202))
    site.states = {(101, 2201): (1, T1), (102, 2101): (1, T1)}

    assert app.sync() == 0
    assert "ok" in capsys.readouterr().out
    asked = [form["cmid"] for f, form in site.calls if f == "core_course_get_course_module"]
    assert asked == ["2201", "2202"]
    assert 22 in read_courses(site)
    assert app.modules_completed(capsys) == {app.module_of[2201], app.module_of[2101]}


def test_a_module_that_cannot_be_found_is_an_error_naming_its_cmid(
    site: Site, app: Skillrelay, capsys: pytest.CaptureFixture[str]
) -> None:
    app.manifest(unplaced=(2201, 2202))
    site.courses[22].cmids.remove(2202)  # deleted in Moodle
    site.states = {(101, 2201): (1, T1)}

    assert app.sync() == 1
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if "2202" in line]
    assert "invalidrecord" in line and "course_modules" in line
    assert "2201" not in out
    # the module that was found is still read
    assert app.modules_completed(capsys) == {app.module_of[2201]}
