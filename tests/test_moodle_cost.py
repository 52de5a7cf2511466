"""The README's Moodle call-cost formula is what a sync really does, counted on the wire."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.moodle import SYNC_COST, calls_per_sync
from plugin.cli import main
from plugin.settings import EXAMPLE_MANIFEST
from tests.moodle_server import Site, moodle_server, northwind_manifest, northwind_site

README = Path(__file__).parent.parent / "README.md"

# (name, learners per course 21..26, modules without moodle_course, course that fails)
SHAPES = [
    ("all-placed", [2, 2, 2, 2, 2, 2], (), None),
    ("several-users", [3, 0, 1, 5, 2, 4], (), None),
    ("without-course", [2, 1, 3, 0, 2, 2], (2201, 2202, 2301), None),
    ("failed-course", [2, 1, 3, 1, 2, 2], (2201, 2202), 23),
    ("one-course-unplaced", [1, 1, 1, 1, 1, 1], (2101, 2102, 2401, 2602), None),
]


@pytest.fixture
def site() -> Site:
    return northwind_site()


@pytest.fixture
def url(site: Site) -> Iterator[str]:
    with moodle_server(site) as base:
        yield base


@pytest.mark.parametrize(
    ("learners", "unplaced", "failing"), [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES]
)
def test_a_sync_makes_exactly_the_documented_calls(
    site: Site,
    url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    learners: list[int],
    unplaced: tuple[int, ...],
    failing: int | None,
) -> None:
    for courseid, count in zip(sorted(site.courses), learners, strict=True):
        site.courses[courseid].users = list(range(101, 101 + count))
    if failing is not None:
        site.courses[failing].error = "error_coursecontextnotvalid"
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(northwind_manifest(EXAMPLE_MANIFEST.read_text(), url, unplaced))
    database = f"sqlite:///{tmp_path / 'skillrelay.db'}"
    monkeypatch.setenv("MOODLE_TOKEN", "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e")
    assert main(["db", "upgrade", "--url", database]) == 0
    args = ["sync", "--once", "--source", "moodle", "--manifest", str(manifest)]

    code = main([*args, "--database", database])

    assert code == (0 if failing is None else 1)
    read = [0 if c == failing else n for c, n in zip(sorted(site.courses), learners, strict=True)]
    expected = calls_per_sync(read, len(unplaced), any_course_failed=failing is not None)
    assert len(site.calls) == expected
    assert site.counts()["core_webservice_get_site_info"] == 1
    assert site.counts()["core_course_get_course_module"] == len(unplaced)


def test_the_readme_states_the_formula_the_code_counts() -> None:
    readme = " ".join(README.read_text(encoding="utf-8").split())
    assert " ".join(SYNC_COST.split()) in readme
    assert calls_per_sync([200, 200, 200]) == 604 and "604" in SYNC_COST
    assert calls_per_sync([10, 0], 2, any_course_failed=True) == 1 + 2 + 11 + 1 + 1
