"""The suite never skips quietly: a skip fails unless the test is marked platform-specific."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

INNER = """
    import pytest

    @pytest.fixture
    def peer():
        pytest.skip("PostgreSQL server binaries not found")

    def test_needs_a_peer(peer):
        pass

    def test_needs_a_file():
        pytest.skip("spec file not found")

    @pytest.mark.platform("fork() exists only on POSIX")
    @pytest.mark.skipif(True, reason="not on this platform")
    def test_posix_only():
        pass

    @pytest.mark.xfail(reason="known bug", strict=True)
    def test_known_bug():
        assert False

    def test_plain():
        pass
"""


def run_inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.RunResult:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_inner=textwrap.dedent(INNER))
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "tests.skip_policy", "-ra")


def test_a_missing_peer_or_file_fails_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_inner(pytester, monkeypatch)
    # A fixture's skip fails at setup (an error), the test's own skip fails the test.
    result.assert_outcomes(passed=1, errors=1, failed=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_needs_a_peer*",
            "skipped: PostgreSQL server binaries not found (tests never skip*",
            "*test_needs_a_file*",
            "skipped: spec file not found (tests never skip*",
        ]
    )
    assert result.ret != 0


def test_a_platform_skip_is_reported_with_its_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_inner(pytester, monkeypatch)
    result.stdout.fnmatch_lines(["SKIPPED*[[]platform: fork() exists only on POSIX[]]*"])
