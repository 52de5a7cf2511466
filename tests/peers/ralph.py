"""Session fixture: a real Ralph xAPI LRS on 127.0.0.1 (see connectors/local_lrs.py).

Fixtures:
- `ralph` (session): one server for the whole run, a `RalphServer`.
- `ralph_lrs` (function): the same server with its statement file emptied first, so every
  test starts from an empty LRS (restarted if an earlier test stopped it).

`start_ralph(directory)` starts an independent server (its own port and data) for tests
that need an LRS to go down and come back: `server.stop()`, then `server.start()` again on
the same port with the same data.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.local_lrs import RalphMissing, RalphServer, start_ralph

__all__ = ["RalphMissing", "RalphServer", "ralph", "ralph_lrs", "start_ralph"]


@pytest.fixture(scope="session")
def ralph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RalphServer]:
    """One real Ralph LRS for the whole test session."""
    try:
        server = start_ralph(tmp_path_factory.mktemp("ralph"))
    except RalphMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ralph_lrs(ralph: RalphServer) -> RalphServer:
    """The session's Ralph, running, with no statements stored."""
    ralph.clear()
    if not ralph.running:
        ralph.start()
    return ralph
