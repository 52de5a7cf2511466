"""The durable store: inbox, decisions, awards ledger, outbox, cursors and identities.

SQLite (one machine) or PostgreSQL (scale-out) through SQLAlchemy Core; the schema is
managed by Alembic (`skillrelay db upgrade`).
"""

from plugin.store.models import (
    Award,
    AwardEvent,
    AwardState,
    Backlog,
    ClaimedItem,
    Decision,
    Identity,
    InboxEvent,
    InboxItem,
    InboxStatus,
    InvalidTransition,
    NewAward,
    OutboxItem,
    OutboxStatus,
    UnknownAward,
)
from plugin.store.store import Store

__all__ = [
    "Award",
    "AwardEvent",
    "AwardState",
    "Backlog",
    "ClaimedItem",
    "Decision",
    "Identity",
    "InboxEvent",
    "InboxItem",
    "InboxStatus",
    "InvalidTransition",
    "NewAward",
    "OutboxItem",
    "OutboxStatus",
    "Store",
    "UnknownAward",
]
