"""The shipped example manifest validates and answers the lookups later code relies on."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from plugin import settings
from plugin.cli import main
from plugin.manifest import JiraSource, Manifest, MoodleSource, XapiSource, load_manifest

EXAMPLE = settings.EXAMPLE_MANIFEST
LMS = "https://lms.northwind.example"
KINDS = {"points", "paid_hour", "project_priority", "leadership_demo", "masterclass_seat", "badge"}


@pytest.fixture(scope="module")
def example() -> Manifest:
    return load_manifest(EXAMPLE)


def test_cli_validates_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["manifest", "validate", str(EXAMPLE)])

    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out == (
        f"{EXAMPLE}: ok — 6 skills, 13 modules, 6 rewards, 3 teams, 2 sprints, 3 sources\n"
    )


def test_cli_path_defaults_to_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "company.yaml"
    copy.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv(settings.MANIFEST_ENV, str(copy))

    assert main(["manifest", "validate"]) == 0
    assert capsys.readouterr().out.startswith(f"{copy}: ok — ")


def test_example_covers_what_admins_need(example: Manifest) -> None:
    assert isinstance(example.jira, JiraSource) and example.jira.deployment == "cloud"
    assert isinstance(example.moodle, MoodleSource) and example.moodle.url == LMS
    assert isinstance(example.xapi, XapiSource) and example.xapi.xapi_version == "1.0.3"
    assert len(example.identities.people) >= 10
    assert len(example.teams) == 3
    assert {r.kind for r in example.rewards} == KINDS
    assert [s.start for s in example.sprints] == [date(2026, 11, 2), date(2026, 11, 16)]
    assert all(s.length_days == 14 for s in example.sprints)
    for skill in example.skills:
        assert len(skill.modules) >= 2
        assert all(10 <= m.minutes <= 20 for m in skill.modules)
        assert all(label.startswith("skill-") for label in skill.tickets.labels)


def test_moodle_activity_iris_match_their_cmids(example: Manifest) -> None:
    # Logstore xAPI names a course module <moodle url>/mod/<modname>/view.php?id=<cmid>.
    for skill in example.skills:
        for module in skill.modules:
            if module.moodle_cmid is not None:
                assert module.xapi_activity is not None
                assert module.xapi_activity.startswith(f"{LMS}/mod/")
                assert module.xapi_activity.endswith(f"/view.php?id={module.moodle_cmid}")


def test_people_with_moodle_ids_need_no_xapi_override(example: Manifest) -> None:
    for person in example.identities.people:
        if person.moodle_user_id is not None:
            assert person.xapi_account is None and person.xapi_mbox is None
        else:
            assert person.xapi_mbox is not None


@pytest.mark.parametrize(
    ("key", "skill", "module"),
    [
        ("moodle:cm:2101", "sql-indexing", "sql-query-plans"),
        (f"{LMS}/mod/quiz/view.php?id=2102", "sql-indexing", "sql-composite-indexes"),
        (
            "https://a11y-studio.example/xapi/activities/screen-reader-smoke-test",
            "accessible-ui",
            "a11y-screen-reader-smoke",
        ),
    ],
    ids=["moodle-cmid", "logstore-iri", "external-iri"],
)
def test_modules_by_key(example: Manifest, key: str, skill: str, module: str) -> None:
    found_skill, found_module = example.modules_by_key[key]
    assert (found_skill.id, found_module.id) == (skill, module)


def test_lookups(example: Manifest) -> None:
    sql = example.skills_by_id["sql-indexing"]
    assert example.reward_for(sql).kind == "paid_hour"
    assert example.rewards_by_id["paid-learning-hour"].hours == 1
    assert example.cooldown_days(sql) == 0
    assert example.cooldown_days(example.skills_by_id["incident-postmortems"]) == 14
    assert [t.id for t in example.teams_of("ben.carter")] == ["payments-core"]
    assert example.managers_of("ben.carter") == ("amara.okafor",)
    assert example.people_by_id["lena.fischer"].moodle_user_id is None


@pytest.mark.parametrize(
    ("day", "sprint"),
    [
        (date(2026, 11, 1), None),
        (date(2026, 11, 2), "2026-11-a"),
        (date(2026, 11, 15), "2026-11-a"),
        (date(2026, 11, 16), "2026-11-b"),
        (date(2026, 11, 29), "2026-11-b"),
        (date(2026, 11, 30), None),
    ],
    ids=["before", "first-day", "last-day", "next-sprint", "its-last-day", "after"],
)
def test_sprint_on(example: Manifest, day: date, sprint: str | None) -> None:
    found = example.sprint_on(day)
    assert (found.id if found else None) == sprint


def test_sprint_people_expands_teams(example: Manifest) -> None:
    second = example.sprints[1]
    assert example.sprint_people(second) == {
        "isaac.mensah",
        "julia.berg",
        "ben.carter",
        "chloe.nguyen",
        "diego.ramirez",
        "lena.fischer",
    }
