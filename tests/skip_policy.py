"""Tests never skip quietly (a pytest plugin, loaded by tests/conftest.py).

A test that skips because a peer (PostgreSQL, Ralph) or a file is missing would let `make
test` pass while checking nothing, so such a skip is reported as a failure, with its reason.
The one exception is a test marked `@pytest.mark.platform("why")`: it may skip where the
platform cannot run it, and the summary line says `[platform: why]` so CI can tell the two
apart. Expected failures (xfail) are left alone.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

MARK = "platform"
HINT = "tests never skip: install what the test needs (`make test` does), or mark it platform"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARK}(reason): the test may skip on platforms that cannot run it"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _reason(report)
    mark = item.get_closest_marker(MARK)
    if mark is not None:
        why = mark.args[0] if mark.args else mark.kwargs.get("reason", "")
        if isinstance(report.longrepr, tuple):
            path, line, _ = report.longrepr
            report.longrepr = (path, line, f"[platform: {why}] {reason}")
        return
    report.outcome = "failed"
    report.longrepr = f"skipped: {reason} ({HINT})"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, None]:
    outcome = yield
    report = outcome.get_result()
    if report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped while collecting: {_reason(report)} ({HINT})"


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)
