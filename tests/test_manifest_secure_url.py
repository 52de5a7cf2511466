"""A source's URL carries its credentials: plain http is refused unless it stays on this
machine or the manifest says so (#10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin.cli import main
from tests.test_manifest_errors import Case, write_case

CLEAR = "would send the credentials in clear text; use https://, or set allow_insecure_http: "
CLEAR += "true on this source (plain http is allowed to loopback)"
CASES = [
    Case(
        "jira",
        [("base_url: https://acme.atlassian.net", "base_url: http://acme.atlassian.net")],
        [f"10: sources[0].base_url: http://acme.atlassian.net {CLEAR}"],
    ),
    Case(
        "moodle",
        [("url: https://lms.acme.example", "url: http://lms.acme.example")],
        [f"19: sources[1].url: http://lms.acme.example {CLEAR}"],
    ),
    Case(
        "lrs",
        [("endpoint: https://lrs.acme.example/xAPI", "endpoint: http://lrs.acme.example/xAPI")],
        [f"23: sources[2].endpoint: http://lrs.acme.example/xAPI {CLEAR}"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_plain_http_to_another_host_is_refused(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_case(case, tmp_path)
    assert main(["manifest", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert [f"{path}:{line}" for line in case.expected] == [
        line for line in err.splitlines() if line.startswith(str(path))
    ], err


@pytest.mark.parametrize(
    "edit",
    [
        ("url: https://lms.acme.example", "url: http://127.0.0.1:8080"),
        ("url: https://lms.acme.example", "url: http://localhost:8080"),
        (
            "url: https://lms.acme.example",
            "url: http://lms.acme.example\n    allow_insecure_http: true",
        ),
    ],
    ids=["loopback", "localhost", "allowed"],
)
def test_plain_http_is_allowed_locally_or_when_asked(
    edit: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_case(Case("ok", [edit], []), tmp_path)
    assert main(["manifest", "validate", str(path)]) == 0, capsys.readouterr().err
