"""Bad manifests: `skillrelay manifest validate` exits 2 with one exact line per problem.

Each case edits tests/fixtures/manifests/minimal.yaml (or replaces it) and names the
file:line, field path and message it expects; line numbers refer to the edited file.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from plugin.cli import main
from plugin.errors import ConfigError, Problem
from plugin.manifest import load_manifest

MINIMAL = Path(__file__).parent / "fixtures" / "manifests" / "minimal.yaml"

ENV_HELP = (
    "must be the NAME of an environment variable (A-Z, 0-9, _), not the secret itself; "
    "put the secret in an environment variable and name it here"
)
SECRET_KEY = (
    "secrets are never written in the manifest: put it in an environment variable "
    "and name that variable with "
)
TOP_LEVEL = "version, organisation, sources, identities, skills, rewards, ..."
KINDS = "points, paid_hour, project_priority, leadership_demo, masterclass_seat, badge"


class Case(NamedTuple):
    id: str
    edits: list[tuple[str, str]]  # (old, new) snippets, each must occur in the file
    expected: list[str]  # "<line>: <field>: <message>" (or "<line>: <message>")
    text: str | None = None  # the whole file instead of edits to minimal.yaml


CASES = [
    Case(
        "unknown-top-level-key",
        [("version: 1\n", "version: 1\ncolour: blue\n")],
        [
            "3: colour: unknown field; valid: version, organisation, sources, identities, "
            "skills, rewards, rules, teams, sprints, notifications"
        ],
    ),
    Case(
        "unknown-source-type",
        [("    type: moodle\n", "    type: lms\n")],
        ["18: sources[1].type: unknown source type 'lms'; valid: jira, moodle, xapi"],
    ),
    Case(
        "missing-source-type",
        [("    type: moodle\n", "")],
        ["17: sources[1].type: required field missing; valid: jira, moodle, xapi"],
    ),
    Case(
        "bad-deployment",
        [("deployment: cloud", "deployment: server")],
        ["9: sources[0].deployment: invalid value 'server'; valid: cloud, datacenter"],
    ),
    Case(
        "unknown-auth-type",
        [("      type: bearer", "      type: oauth")],
        ["25: sources[2].auth.type: unknown auth type 'oauth'; valid: basic, bearer"],
    ),
    Case(
        "inline-secret-in-token-env",
        [("token_env: JIRA_API_TOKEN", "token_env: ATATT3xFfGF0T1:qz")],
        [f"14: sources[0].auth.token_env: {ENV_HELP}"],
    ),
    Case(
        "random-uppercase-secret-in-token-env",
        [("token_env: MOODLE_TOKEN", "token_env: 9F86D081884C7D659A2FEAA0C55AD015")],
        [f"20: sources[1].token_env: {ENV_HELP}"],
    ),
    Case(
        "secret-key-token-inline",
        [("      token_env: JIRA_API_TOKEN\n", "      token: ATATT3xFfGF0T1\n")],
        [
            "11: sources[0].auth.token_env: required field missing",
            f"14: sources[0].auth.token: {SECRET_KEY}token_env",
        ],
    ),
    Case(
        "secret-key-password-inline",
        [
            (
                "      type: bearer\n      token_env: LRS_TOKEN\n",
                "      type: basic\n      username_env: LRS_USER\n      password: hunter2\n",
            )
        ],
        [
            "24: sources[2].auth.password_env: required field missing",
            f"27: sources[2].auth.password: {SECRET_KEY}password_env",
        ],
    ),
    Case(
        "missing-required-field",
        [("    base_url: https://acme.atlassian.net\n", "")],
        ["7: sources[0].base_url: required field missing"],
    ),
    Case(
        "string-for-int",
        [("minutes: 15", "minutes: fifteen")],
        ["58: skills[0].modules[0].minutes: expected a whole number, got 'fifteen'"],
    ),
    Case(
        "quoted-number-for-int",
        [("moodle_user_id: 3", 'moodle_user_id: "3"')],
        ["36: identities.people[1].moodle_user_id: expected a whole number, got '3'"],
    ),
    Case(
        "minutes-out-of-range",
        [("minutes: 15", "minutes: 90")],
        ["58: skills[0].modules[0].minutes: must be at most 60, got 90"],
    ),
    Case(
        "unknown-reward-kind",
        [("kind: points", "kind: trophy")],
        [f"45: rewards[0].kind: invalid value 'trophy'; valid: {KINDS}"],
    ),
    Case(
        "hours-on-points-reward",
        [("    points: 10\n", "    points: 10\n    hours: 2\n")],
        ["47: rewards[0].hours: hours is only for rewards of kind paid_hour"],
    ),
    Case(
        "reward-budget-zero",
        [("    approval: true\n", "    approval: true\n    budget: {per_sprint: 0}\n")],
        ["52: rewards[1].budget.per_sprint: must be at least 1, got 0"],
    ),
    Case(
        "skill-unknown-reward",
        [("reward: hour", "reward: hours")],
        ["67: skills[0].reward: unknown reward 'hours'; valid: points, hour"],
    ),
    Case(
        "team-member-unknown",
        [("members: [bob]", "members: [bob, carol]")],
        ["41: teams[0].members[1]: unknown person 'carol'; valid: ada, bob"],
    ),
    Case(
        "manager-unknown",
        [("managers: [ada]", "managers: [adam]")],
        ["40: teams[0].managers[0]: unknown person 'adam'; valid: ada, bob"],
    ),
    Case(
        "expert-unknown",
        [("experts: [ada]", "experts: [ada, eve]")],
        ["66: skills[0].experts[1]: unknown person 'eve'; valid: ada, bob"],
    ),
    Case(
        "duplicate-skill-id",
        [("  - id: flags\n", "  - id: sql\n")],
        [
            "68: skills[1].id: duplicate skill id 'sql'; already used at skills[0].id",
            "86: sprints[1].focus_skills[0]: unknown skill 'flags'; valid: sql",
        ],
    ),
    Case(
        "duplicate-module-id-across-skills",
        [("      - id: flags-1\n", "      - id: sql-2\n")],
        [
            "71: skills[1].modules[0].id: duplicate module id 'sql-2'; "
            "already used at skills[0].modules[1].id"
        ],
    ),
    Case(
        "same-cmid-in-two-skills",
        [("moodle_cmid: 21", "moodle_cmid: 11")],
        [
            "74: skills[1].modules[0].moodle_cmid: duplicate moodle_cmid 11; "
            "already used at skills[0].modules[0].moodle_cmid"
        ],
    ),
    Case(
        "same-activity-in-two-skills",
        [
            (
                "        moodle_cmid: 21\n",
                "        xapi_activity: https://lms.acme.example/mod/page/view.php?id=12\n",
            )
        ],
        [
            "74: skills[1].modules[0].xapi_activity: duplicate xapi_activity "
            "'https://lms.acme.example/mod/page/view.php?id=12'; "
            "already used at skills[0].modules[1].xapi_activity"
        ],
    ),
    Case(
        "activity-id-differs-from-cmid",
        [
            (
                "        moodle_cmid: 11\n",
                "        moodle_cmid: 11\n"
                "        xapi_activity: https://lms.acme.example/mod/quiz/view.php?id=13\n",
            )
        ],
        ["60: skills[0].modules[0].xapi_activity: activity id=13 does not match moodle_cmid 11"],
    ),
    Case(
        "skill-without-ticket-matcher",
        [("      components: [Flags]\n", "      components: []\n")],
        [
            "75: skills[1].tickets: needs at least one of "
            "labels, components, custom_field_value, jql"
        ],
    ),
    Case(
        "custom-field-value-without-skill-field",
        [("      components: [Flags]\n", "      custom_field_value: Flags\n")],
        [
            "76: skills[1].tickets.custom_field_value: "
            "needs skill_field (a custom field id) on the jira source"
        ],
    ),
    Case(
        "module-without-cmid-or-activity",
        [("        moodle_cmid: 21\n", "")],
        ["71: skills[1].modules[0]: a module needs moodle_cmid, xapi_activity or both"],
    ),
    Case(
        "bad-timezone",
        [("timezone: Europe/Berlin", "timezone: Europe/Berlim")],
        [
            "5: organisation.timezone: unknown time zone 'Europe/Berlim'; "
            "did you mean Europe/Berlin?"
        ],
    ),
    Case(
        "overlapping-sprints",
        [("start: 2026-11-16", "start: 2026-11-09")],
        ["84: sprints[1].start: overlaps sprint 's1' (2026-11-02 to 2026-11-15)"],
    ),
    Case(
        "impossible-date",
        [("start: 2026-11-16", "start: 2026-11-31")],
        ["84: sprints[1].start: expected a date like 2026-11-02, got '2026-11-31'"],
    ),
    Case(
        "sprint-focus-skill-unknown",
        [("focus_skills: [flags]", "focus_skills: [flag]")],
        ["86: sprints[1].focus_skills[0]: unknown skill 'flag'; valid: sql, flags"],
    ),
    Case(
        "sprint-participant-unknown",
        [("participants: [ada]", "participants: [ops]")],
        ["85: sprints[1].participants[0]: unknown team or person 'ops'; valid: core, ada, bob"],
    ),
    Case(
        "bad-xapi-version",
        [("      token_env: LRS_TOKEN\n", "      token_env: LRS_TOKEN\n    xapi_version: 1.0\n")],
        ["27: sources[2].xapi_version: invalid value 1.0; valid: 1.0.3, 2.0.0"],
    ),
    Case(
        "second-source-of-a-type",
        [
            (
                "      token_env: LRS_TOKEN\n",
                "      token_env: LRS_TOKEN\n  - id: lms2\n    type: moodle\n"
                "    url: https://lms2.acme.example\n    token_env: MOODLE2_TOKEN\n",
            )
        ],
        ["28: sources[3].type: duplicate source type 'moodle'; already used at sources[1].type"],
    ),
    Case(
        "duplicate-email-any-case",
        [("email: bob@acme.example", "email: Ada@acme.example")],
        [
            "35: identities.people[1].email: duplicate email 'Ada@acme.example'; "
            "already used at identities.people[0].email"
        ],
    ),
    Case(
        "unknown-channel-type",
        [("    - type: jira_comment", "    - type: slack")],
        [
            "89: notifications.channels[0].type: unknown channel type 'slack'; "
            "valid: jira_comment, moodle_message, lrs_statement, email, chat"
        ],
    ),
    Case(
        "bad-quiet-hours",
        [
            (
                "    per_person_per_week: 2\n",
                "    per_person_per_week: 2\n    quiet_hours: {start: '22:00', end: '7:00'}\n",
            )
        ],
        [
            "92: notifications.budget.quiet_hours.end: "
            "must be a time of day as HH:MM (24-hour clock), got '7:00'"
        ],
    ),
    Case(
        "bad-done-status-category",
        [
            (
                "    per_person_per_week: 2\n",
                "    per_person_per_week: 2\nrules:\n  done_status_category: closed\n",
            )
        ],
        ["93: rules.done_status_category: invalid value 'closed'; valid: new, indeterminate, done"],
    ),
    Case(
        "bad-id",
        [("  - id: flags\n", "  - id: Feature Flags\n")],
        [
            "68: skills[1].id: ids use lowercase letters, digits, '.', '_' and '-', "
            "starting with a letter/digit, got 'Feature Flags'"
        ],
    ),
    Case(
        "wrong-version",
        [("version: 1", "version: 2")],
        ["2: version: invalid value 2; valid: 1"],
    ),
    Case(
        "yaml-syntax-error",
        [("    name: Core\n", "    name: Core\n    oops\n")],
        [
            "40: invalid YAML: a missing ':' after a key: write `key: value`, or indent a line "
            "that continues the value above more than its key "
            "(parser: could not find expected ':')"
        ],
    ),
    Case(
        "yaml-duplicate-key",
        [("  name: Acme\n", "  name: Acme\n  name: Acme Corp\n")],
        ["5: invalid YAML: duplicate key 'name'"],
    ),
    Case(
        "empty-file",
        [],
        [f"1: the manifest is empty; expected a mapping with {TOP_LEVEL}"],
        text="",
    ),
    Case(
        "only-comments",
        [],
        [f"1: the manifest is empty; expected a mapping with {TOP_LEVEL}"],
        text="# nothing here yet\n",
    ),
    Case(
        "top-level-list",
        [],
        [f"2: the top level must be a mapping with {TOP_LEVEL}, not a list"],
        text="# skills\n- id: sql\n- id: flags\n",
    ),
    Case(
        "multiple-problems-together",
        [
            ("version: 1\n", "version: 1\ncolour: blue\n"),
            ("deployment: cloud", "deployment: server"),
            ("kind: points", "kind: trophy"),
            ("minutes: 10", "minutes: ten"),
        ],
        [
            "3: colour: unknown field; valid: version, organisation, sources, identities, "
            "skills, rewards, rules, teams, sprints, notifications",
            "10: sources[0].deployment: invalid value 'server'; valid: cloud, datacenter",
            f"46: rewards[0].kind: invalid value 'trophy'; valid: {KINDS}",
            "74: skills[1].modules[0].minutes: expected a whole number, got 'ten'",
        ],
    ),
    Case(
        "jql-unsupported-field",
        [("      labels: [skill-sql]\n", "      labels: [skill-sql]\n      jql: sprint = 42\n")],
        [
            "66: skills[0].tickets.jql: field 'sprint' is not supported in a skill's jql; use "
            "one of project, key, labels, component, status, statusCategory, resolution, "
            "assignee, issuetype, cf[NNNNN]"
        ],
    ),
    Case(
        "jql-syntax-error",
        [
            (
                "      labels: [skill-sql]\n",
                "      labels: [skill-sql]\n      jql: project in (PAY\n",
            )
        ],
        ["66: skills[0].tickets.jql: expected ')' to close the list, found the end"],
    ),
    Case(
        "multiple-reference-problems-together",
        [
            ("reward: hour", "reward: gold"),
            ("members: [bob]", "members: [carl]"),
            ("focus_skills: [flags]", "focus_skills: [flag]"),
        ],
        [
            "41: teams[0].members[0]: unknown person 'carl'; valid: ada, bob",
            "67: skills[0].reward: unknown reward 'gold'; valid: points, hour",
            "86: sprints[1].focus_skills[0]: unknown skill 'flag'; valid: sql, flags",
        ],
    ),
]


def expected_stderr(lines: list[str]) -> str:
    # plugin.cli prints one `file:line: field: message` line per problem.
    return "\n".join(lines) + "\n"


def write_case(case: Case, tmp_path: Path) -> Path:
    text = case.text
    if text is None:
        text = MINIMAL.read_text(encoding="utf-8")
        for old, new in case.edits:
            assert text.count(old) == 1, f"snippet not unique in minimal.yaml: {old!r}"
            text = text.replace(old, new)
    path = tmp_path / "manifest.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_fixture_is_valid() -> None:
    assert load_manifest(MINIMAL).skills[0].id == "sql"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_manifest_exits_2_with_exact_lines(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_case(case, tmp_path)

    code = main(["manifest", "validate", str(path)])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err == expected_stderr([f"{path}:{line}" for line in case.expected])


def test_missing_file_names_the_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nowhere.yaml"

    code = main(["manifest", "validate", str(path)])

    assert code == 2
    assert capsys.readouterr().err == expected_stderr([f"{path}: file not found"])


def test_load_manifest_raises_config_error_with_problems(tmp_path: Path) -> None:
    path = write_case(CASES[0], tmp_path)
    with pytest.raises(ConfigError) as raised:
        load_manifest(path)
    assert raised.value.exit_code == 2
    assert raised.value.problems == [
        Problem(
            file=str(path),
            line=3,
            field="colour",
            message="unknown field; valid: version, organisation, sources, identities, "
            "skills, rewards, rules, teams, sprints, notifications",
        )
    ]


def test_secret_values_are_never_echoed(tmp_path: Path) -> None:
    secret = "ATATT3xFfGF0T1qzSECRETVALUE"
    edits = [
        ("      token_env: JIRA_API_TOKEN\n", f"      token: {secret}\n"),
        ("token_env: MOODLE_TOKEN", f"token_env: {secret.lower()}"),
    ]
    path = write_case(Case("secrets", edits, []), tmp_path)
    with pytest.raises(ConfigError) as raised:
        load_manifest(path)
    assert len(raised.value.problems) == 3
    assert secret.lower() not in str(raised.value).lower()
