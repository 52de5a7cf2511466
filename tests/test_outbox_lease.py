"""Leases that hold: inbox claims follow the `--lease` setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from plugin.service import compose
from plugin.settings import EXAMPLE_MANIFEST


def test_inbox_claims_follow_the_lease_setting(store_url: str) -> None:
    """`--lease 7`: the pipeline's claims hold 7 s, so a killed worker's events come back
    after 7 s (not 5 minutes)."""
    settings = compose.Settings(
        manifest_file=EXAMPLE_MANIFEST, database=store_url, worker_id="w1", lease=7.0
    )
    opened = compose.open_parts(settings, env={})
    store = opened.store
    try:
        for n in range(3):
            store.inbox.add("jira", "issue_updated", f"k{n}", {"n": n})
        now = datetime.now(UTC)
        store.inbox.clock = lambda: now
        claimed = store.inbox.claim(10, "killed")  # the pipeline's own call
        assert len(claimed) == 3
        store.inbox.clock = lambda: now + timedelta(seconds=6)
        assert store.inbox.claim(10, "w2") == []
        store.inbox.clock = lambda: now + timedelta(seconds=8)
        assert [i.id for i in store.inbox.claim(10, "w2")] == [i.id for i in claimed]
    finally:
        store.close()
