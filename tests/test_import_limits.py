"""`skillrelay import` refuses hostile records fast and in bounded memory: a line over
16 MiB or a record nested more than 64 levels is reported as `FILE:LINE` (or `FILE[item N]`)
and the rest of the file is still imported; a file read whole over 16 MiB exits 2.

Each import runs in a child process with a time and an address-space limit
(tests.test_manifest_limits.bounded), with --dry-run: it counts what it would store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.test_import_support import FIXTURES
from tests.test_manifest_limits import EXAMPLE, FAST, Run, bounded

BIG = 20 * 2**20
TOO_LARGE = "larger than 16 MiB, the most one line may hold"
TOO_DEEP = "nested more than 64 levels deep, the most a record may nest"
WHOLE = (
    "larger than 16 MiB, the most a file read whole may hold; "
    "write it as JSON lines, one record or page per line"
)


def dry_run(fmt: str, path: Path) -> Run:
    argv = ["import", "--format", fmt, "--dry-run", "--json", "--manifest", str(EXAMPLE)]
    warm = [*argv, str(FIXTURES / "statements.json")]
    warm[2] = "xapi"
    return bounded([*argv, str(path)], warm=warm)


def summary(run: Run) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(run.out)
    return found


def statements() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads((FIXTURES / "statements.json").read_text())
    return found


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"deeper": value}
    return value


def deep_statement() -> dict[str, Any]:
    """A statement whose result extensions nest 100 levels: valid JSON, far too deep."""
    statement = dict(statements()[0], id="0b9c6a52-3f1e-4d7a-9a61-5c2e8f1d2aff")
    statement["result"] = {"extensions": {"https://example.com/x": nested(100)}}
    return statement


@pytest.mark.parametrize(
    ("fmt", "fixture"),
    [
        ("xapi", "statements.jsonl"),
        ("jira-webhook", "webhooks.jsonl"),
        ("jira-issues", "search_dc.jsonl"),
    ],
)
def test_huge_and_deep_lines_are_rejected_and_the_rest_is_kept(
    tmp_path: Path, fmt: str, fixture: str
) -> None:
    clean = summary(dry_run(fmt, FIXTURES / fixture))
    path = tmp_path / "hostile.jsonl"
    with path.open("w", encoding="utf-8") as f:
        f.write('{"pad": "' + "x" * BIG + '"}\n')
        f.write("[" * 10_000 + "]" * 10_000 + "\n")
        f.write(json.dumps(nested(100)) + "\n")
        f.write((FIXTURES / fixture).read_text(encoding="utf-8"))

    run = dry_run(fmt, path)

    assert run.code == 1
    assert run.err.splitlines()[:3] == [
        f"{path}:1: {TOO_LARGE}",
        f"{path}:2: {TOO_DEEP}",
        f"{path}:3: {TOO_DEEP}",
    ]
    found = summary(run)
    assert found["events"] == clean["events"]
    assert found["rejected"] == {**clean["rejected"], "too large": 1, "too deep": 2}
    assert run.seconds < FAST


def test_a_deep_statement_in_an_array_is_rejected_and_the_rest_is_kept(tmp_path: Path) -> None:
    good = statements()
    path = tmp_path / "statements.json"
    path.write_text(json.dumps([good[0], deep_statement(), *good[1:]], indent=2))

    run = dry_run("xapi", path)

    assert run.code == 1
    assert run.err == f"{path}[item 1]: {TOO_DEEP}\n"
    found = summary(run)
    assert (found["read"], found["events"], found["rejected"]) == (6, 3, {"too deep": 1})
    assert run.seconds < FAST


@pytest.mark.parametrize("indent", [2, None], ids=["pretty", "one-line"])
def test_a_document_over_16_mib_exits_2(tmp_path: Path, indent: int | None) -> None:
    template = statements()[0]
    path = tmp_path / "statements.json"
    count = BIG // len(json.dumps(template)) + 1
    many = [dict(template, id=f"00000000-0000-4000-8000-{n:012d}") for n in range(count)]
    path.write_text(json.dumps(many, indent=indent))
    assert path.stat().st_size > BIG

    run = dry_run("xapi", path)

    assert (run.code, run.out) == (2, "")
    assert run.err == f"{path}: {WHOLE}\n"
    assert run.seconds < FAST


def test_a_deep_status_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "statuses.json"
    path.write_text(json.dumps([{"id": "1", "name": "Done", "extra": nested(100)}]))
    argv = ["import", "--format", "jira-issues", "--dry-run", "--json"]
    argv += ["--manifest", str(EXAMPLE), "--statuses", str(path)]

    run = bounded([*argv, str(FIXTURES / "search_dc.jsonl")])

    assert (run.code, run.out) == (2, "")
    assert run.err == f"{path}[item 0]: {TOO_DEEP}\n"
