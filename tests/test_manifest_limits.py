"""Hostile manifests are refused fast, in bounded memory, with exit 2 and one
`file:line: message` line: a YAML alias bomb ("billion laughs"), nesting 10,000 levels deep,
a 50 MB file. Normal manifests, anchors and aliases included, still load.

The hostile cases run `skillrelay` in a child process with a time and an address-space
limit, so a regression fails the test instead of hanging it or exhausting the machine.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from plugin.errors import ConfigError, Problem
from plugin.manifest import load_manifest
from tests.test_manifest_errors import MINIMAL

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "manifest" / "example.yaml"
MEMORY = 512 * 2**20  # address space of the child: imports take about 100 MiB
TIMEOUT = 30  # seconds for the whole child, imports included
FAST = 1.0  # seconds for the refusal itself

# Runs one command to warm up (imports, the example manifest), then times the one under
# test; the time is the last line on stdout.
CHILD = """
import contextlib, io, json, sys, time
from plugin.cli import main
warm, argv = json.loads(sys.argv[1]), json.loads(sys.argv[2])
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    main(warm)
start = time.perf_counter()
code = main(argv)
print(f"{time.perf_counter() - start:.3f}")
sys.exit(code)
"""


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    seconds: float


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def bounded(argv: list[str], warm: list[str] | None = None) -> Run:
    """`skillrelay ARGV` in a child limited to MEMORY bytes and TIMEOUT seconds."""
    warm = warm or ["manifest", "validate", str(EXAMPLE)]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(warm), json.dumps(argv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        preexec_fn=_limit_memory,
        check=False,
    )
    *out, seconds = done.stdout.splitlines() or ["nan"]
    return Run(done.returncode, "\n".join(out), done.stderr, float(seconds))


def validate(path: Path) -> Run:
    return bounded(["manifest", "validate", str(path)])


def laughs(levels: int = 9) -> str:
    """The YAML billion laughs: each line aliases the one above nine times (9**9 strings)."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for above, name in zip("abcdefgh", "bcdefghi"[: levels - 1], strict=False):
        lines.append(f"{name}: &{name} [{', '.join([f'*{above}'] * 9)}]")
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_is_refused_before_it_expands(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text(laughs(), encoding="utf-8")

    run = validate(path)

    assert (run.code, run.out) == (2, "")
    assert run.err == (
        f"{path}:6: aliases repeat more than 100000 values in all, the most a manifest may "
        "repeat with *aliases\n"
    )
    assert run.seconds < FAST


def test_ten_thousand_levels_of_nesting_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text("version: 1\nskills: " + "[" * 10_000 + "]" * 10_000 + "\n")

    run = validate(path)

    assert (run.code, run.out) == (2, "")
    assert run.err == f"{path}:2: nested more than 64 levels deep, the most a manifest may nest\n"
    assert run.seconds < FAST


def test_deep_indentation_names_the_line_that_goes_too_deep(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text("".join("  " * n + f"level{n}:\n" for n in range(200)), encoding="utf-8")

    run = validate(path)

    assert (run.code, run.out) == (2, "")
    assert run.err == f"{path}:64: nested more than 64 levels deep, the most a manifest may nest\n"
    assert run.seconds < FAST


def test_a_50_megabyte_manifest_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    person = "    - id: p{n}\n      name: Person {n}\n      email: p{n}@acme.example\n"
    with path.open("w", encoding="utf-8") as f:
        f.write("version: 1\nidentities:\n  people:\n")
        for n in range(0, 750_000):
            f.write(person.format(n=n))
    assert path.stat().st_size > 50 * 2**20

    run = validate(path)

    assert (run.code, run.out) == (2, "")
    assert run.err == f"{path}: larger than 4 MiB, the most a manifest may hold\n"
    assert run.seconds < FAST


def test_serve_refuses_an_alias_bomb_instead_of_hanging(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text(laughs(), encoding="utf-8")

    database = f"sqlite:///{tmp_path / 'skillrelay.db'}"
    run = bounded(["serve", "--manifest", str(path), "--database", database, "--port", "0"])

    assert run.code == 2
    assert f"{path}:6: aliases repeat more than 100000 values" in run.err
    assert run.seconds < FAST


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text("version: 1\nskills: &loop\n  - *loop\n", encoding="utf-8")

    with pytest.raises(ConfigError) as raised:
        load_manifest(path)

    assert raised.value.exit_code == 2
    assert raised.value.problems == [
        Problem(str(path), 3, "", "alias *loop is inside the value &loop names, so it never ends")
    ]


def test_anchors_and_aliases_in_a_normal_manifest_still_load(tmp_path: Path) -> None:
    text = MINIMAL.read_text(encoding="utf-8")
    text = text.replace("    managers: [ada]\n", "    managers: &leads [ada]\n")
    text = text.replace("    experts: [ada]\n", "    experts: *leads\n")
    text = text.replace("    participants: [core]\n", "    participants: &all [core]\n")
    text = text.replace("    participants: [ada]\n", "    participants: *all\n")
    path = tmp_path / "manifest.yaml"
    path.write_text(text, encoding="utf-8")

    manifest = load_manifest(path)

    assert list(manifest.skills[0].experts) == ["ada"]
    assert [list(s.participants) for s in manifest.sprints] == [["core"], ["core"]]


@pytest.mark.parametrize(
    "path",
    [EXAMPLE, *sorted((ROOT / "tests" / "fixtures" / "manifests").glob("*.yaml"))],
    ids=lambda p: p.name,
)
def test_shipped_manifests_load_within_the_limits(path: Path) -> None:
    assert load_manifest(path).version == 1
