"""Plain hints for YAML syntax errors and unknown time zones, still one exact
`file:line: message` line per problem and exit 2.

Each case edits tests/fixtures/manifests/minimal.yaml; line numbers refer to the edited file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin.cli import main
from tests.test_manifest_errors import Case, expected_stderr, write_case

MISSING_COLON = (
    "a missing ':' after a key: write `key: value`, or indent a line that continues "
    "the value above more than its key"
)
TAB = "a tab: YAML indents with spaces only; replace the tab with spaces"

YAML_CASES = [
    Case(
        "missing-colon",
        [("    name: Core\n", "    name: Core\n    oops\n")],
        [f"40: invalid YAML: {MISSING_COLON} (parser: could not find expected ':')"],
    ),
    Case(
        "no-space-after-colon",
        [("    kind: points\n", "    kind:points\n")],
        [
            "45: invalid YAML: a missing space after ':': write `kind: points` "
            "(parser: could not find expected ':')"
        ],
    ),
    Case(
        "key-indented-less",
        [("    kind: points\n", "   kind: points\n")],
        [
            "45: invalid YAML: this key is indented 3 spaces, the key above it (line 44) 4: "
            "keys of one mapping start in the same column "
            "(parser: expected <block end>, but found '<block mapping start>')"
        ],
    ),
    Case(
        "key-indented-more",
        [("    kind: points\n", "      kind: points\n")],
        [
            "45: invalid YAML: this key is indented 6 spaces, the key above it (line 44) 4: "
            "keys of one mapping start in the same column "
            "(parser: mapping values are not allowed here)"
        ],
    ),
    Case(
        "item-key-indented-more",
        [("    name: Points\n", "     name: Points\n")],
        [
            "44: invalid YAML: this key is indented 5 spaces, the key above it (line 43) 4: "
            "keys of one mapping start in the same column "
            "(parser: mapping values are not allowed here)"
        ],
    ),
    Case(
        "tab-indentation",
        [("    kind: points\n", "\tkind: points\n")],
        [f"45: invalid YAML: {TAB} (parser: found character '\\t' that cannot start any token)"],
    ),
    Case(
        "colon-in-value",
        [("title: Indexes", "title: Indexes: the basics")],
        [
            "61: invalid YAML: a value that contains ': ' must be in quotes, "
            "e.g. 'Indexes: the basics' (parser: mapping values are not allowed here)"
        ],
    ),
    Case(
        "list-item-among-keys",
        [("    approval: true\n", "    approval: true\n    - extra\n")],
        [
            "52: invalid YAML: a list item among keys: indent the '- ' items under the key "
            "that holds the list (parser: expected <block end>, but found '-')"
        ],
    ),
    Case(
        "key-among-list-items",
        [("  - id: hour\n", "  - id: hour\n  kind2: x\n")],
        [
            "48: invalid YAML: a key among list items: start a new item with '- ', or indent "
            "the key to line up with the keys of the item above "
            "(parser: expected <block end>, but found '?')"
        ],
    ),
    Case(
        "unclosed-quote",
        [("name: Points", "name: 'Points")],
        [
            "44: invalid YAML: the quote (') opened on this line is never closed "
            "(parser: found unexpected end of stream)"
        ],
    ),
    Case(
        "unclosed-list",
        [("members: [bob]", "members: [bob")],
        [
            "41: invalid YAML: the '[' opened on this line is never closed: end the list with "
            "']' and separate its items with ', ' (parser: expected ',' or ']', but got ':')"
        ],
    ),
    Case(
        "reserved-first-character",
        [("name: Points", "name: '@points'")],
        [],
    ),
    Case(
        "reserved-first-character-unquoted",
        [("name: Points", "name: @points")],
        [
            "44: invalid YAML: a value that starts with '@' must be in quotes "
            "(parser: found character '@' that cannot start any token)"
        ],
    ),
    Case(
        "text-after-quote",
        [("name: Points", "name: 'Points' extra")],
        [
            "44: invalid YAML: text after a closing quote: put the whole value in quotes "
            "(parser: expected <block end>, but found '<scalar>')"
        ],
    ),
]

ZONE_CASES = [
    ("US/Chicgo", "did you mean America/Chicago?"),
    ("Europe/Berlim", "did you mean Europe/Berlin?"),
    ("europe/london", "did you mean Europe/London?"),
    ("New York", "did you mean America/New_York?"),
    ("CST", "did you mean America/Chicago or Asia/Shanghai?"),
    ("PST", "did you mean America/Los_Angeles?"),
    ("MSK", "did you mean Europe/Moscow?"),
    ("ist", "did you mean Asia/Kolkata, Europe/Dublin or Asia/Jerusalem?"),
    ("XYZ", "use an IANA name like Europe/London"),
    ("Mars/Olympus_Mons", "use an IANA name like Europe/London"),
]


@pytest.mark.parametrize("case", YAML_CASES, ids=[c.id for c in YAML_CASES])
def test_yaml_syntax_errors_come_with_a_plain_hint(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_case(case, tmp_path)

    code = main(["manifest", "validate", str(path)])

    out, err = capsys.readouterr()
    if not case.expected:  # the fixed version of the case before it: valid
        assert (code, err) == (0, "")
        return
    assert (code, out) == (2, "")
    assert err == expected_stderr([f"{path}:{line}" for line in case.expected])


@pytest.mark.parametrize(("zone", "hint"), ZONE_CASES, ids=[z for z, _ in ZONE_CASES])
def test_unknown_time_zones_get_a_fitting_suggestion_or_none(
    zone: str, hint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_case(Case(zone, [("timezone: Europe/Berlin", f"timezone: {zone}")], []), tmp_path)

    assert main(["manifest", "validate", str(path)]) == 2

    expected = f"5: organisation.timezone: unknown time zone '{zone}'; {hint}"
    assert capsys.readouterr().err == expected_stderr([f"{path}:{expected}"])


@pytest.mark.parametrize(
    ("zone", "place"), [("EST", "America/New_York"), ("MST", "America/Denver")]
)
def test_fixed_offset_abbreviations_point_to_the_place(
    zone: str, place: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # zoneinfo knows EST and MST, but as fixed offsets: sprints would be an hour off all
    # summer in New York or Denver.
    path = write_case(Case(zone, [("timezone: Europe/Berlin", f"timezone: {zone}")], []), tmp_path)

    assert main(["manifest", "validate", str(path)]) == 2

    expected = (
        f"5: organisation.timezone: '{zone}' is a fixed offset that ignores daylight saving "
        f"time; did you mean {place}?"
    )
    assert capsys.readouterr().err == expected_stderr([f"{path}:{expected}"])


@pytest.mark.parametrize("zone", ["UTC", "America/Chicago", "Asia/Kolkata", "HST"])
def test_real_zones_still_pass(zone: str, tmp_path: Path) -> None:
    path = write_case(Case(zone, [("timezone: Europe/Berlin", f"timezone: {zone}")], []), tmp_path)
    assert main(["manifest", "validate", str(path)]) == 0
