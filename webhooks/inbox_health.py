"""What /readyz and /metrics read about the inbox: is the pipeline keeping up, and what
failed (quarantined events, by reason class). A few indexed queries, run per probe/scrape."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select

from plugin.store import Store
from plugin.store.schema import inbox

# The pipeline's reasons, in classes a label can hold (the text itself is unbounded).
REASONS = ("unstorable", "unreadable", "undecidable", "other")
_REASON = case(
    (inbox.c.error.like("%cannot be stored%"), "unstorable"),
    (inbox.c.error.like("unreadable%"), "unreadable"),
    (inbox.c.error.like("could not be decided%"), "undecidable"),
    else_="other",
)


def oldest_new(store: Store) -> datetime | None:
    """When the oldest event no worker has decided yet arrived (the status index narrows the
    scan to the undecided rows)."""
    query = select(func.min(inbox.c.received_at)).where(inbox.c.status == "new")
    with store.engine.connect() as conn:
        found: datetime | None = conn.execute(query).scalar()
    return found


def failed_since(store: Store, since: datetime) -> int:
    """Events received since `since` that the pipeline quarantined."""
    query = select(func.count()).where(inbox.c.status == "failed", inbox.c.received_at >= since)
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def failed_by_reason(store: Store) -> dict[str, int]:
    """Quarantined events by reason class: unstorable text, unreadable payloads, other."""
    counts = dict.fromkeys(REASONS, 0)
    reason = _REASON.label("reason")
    query = select(reason, func.count()).where(inbox.c.status == "failed").group_by(reason)
    with store.engine.connect() as conn:
        counts.update({str(name): int(n) for name, n in conn.execute(query)})
    return counts
