"""The tables. Alembic migrations create them; this MetaData is what queries are built from.

A test compares this MetaData with the migrated database, so the two cannot drift apart.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from plugin.store.types import Id, UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

INBOX_STATUSES = ("new", "processed", "failed", "deferred")
AWARD_STATES = (
    "pending_approval",
    "approved",
    "fulfilled",
    "rejected",
    "revoked",
    "revocation_flagged",
)
OUTBOX_STATUSES = ("pending", "in_flight", "done", "dead")


def one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=column)


inbox = Table(
    "inbox",
    metadata,
    Column("id", Id, primary_key=True),
    Column("source", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("natural_key", Text, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("raw", JSON),
    Column("received_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False, server_default="new"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("processed_at", UtcDateTime),
    Column("error", Text),
    # A lease, so a crashed worker's claim runs out instead of hiding the event forever.
    Column("claimed_by", Text),
    Column("claimed_until", UtcDateTime),
    # The deciding transaction that marked the event processed (decider.seq).
    Column("decided_seq", Id),
    UniqueConstraint("source", "natural_key"),
    one_of("status", INBOX_STATUSES),
    Index(None, "status", "id"),
    Index(None, "decided_seq"),
    Index(None, "kind", "received_at"),  # a period's learning events (web UI)
)

# One row: the number of the last deciding transaction (see plugin.pipeline.watermark).
decider = Table(
    "decider",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Id, nullable=False),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("inbox_id", Id, ForeignKey("inbox.id")),
    Column("person_id", Text),
    Column("skill_id", Text),
    Column("ticket_key", Text),
    Column("outcome", String(64), nullable=False),
    Column("detail", JSON),
    Column("decided_at", UtcDateTime, nullable=False),
    Index(None, "ticket_key"),
)

awards = Table(
    "awards",
    metadata,
    Column("id", Id, primary_key=True),
    Column("person_id", Text, nullable=False),
    Column("skill_id", Text, nullable=False),
    Column("ticket_key", Text, nullable=False),
    Column("reward_id", Text, nullable=False),
    Column("sprint_id", Text),
    Column("points", Integer, nullable=False, server_default="0"),
    Column("state", String(32), nullable=False),
    Column("completion_key", Text),
    Column("ticket_done_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("evidence", JSON),
    UniqueConstraint("person_id", "skill_id", "ticket_key"),
    one_of("state", AWARD_STATES),
    # Budget use, and the web UI's figures, counted from the indexes alone.
    Index(None, "reward_id", "ticket_done_at", "state"),
    Index(None, "person_id", "sprint_id"),
    Index(None, "state"),
    Index(None, "sprint_id", "state", "reward_id", "person_id"),
    Index(None, "ticket_done_at"),  # the web UI ledger's period filter
)

award_events = Table(
    "award_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("award_id", Id, ForeignKey("awards.id"), nullable=False),
    Column("from_state", String(32)),
    Column("to_state", String(32), nullable=False),
    Column("actor", Text, nullable=False),
    Column("note", Text),
    Column("at", UtcDateTime, nullable=False),
    Index(None, "award_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True),
    Column("idempotency_key", Text, nullable=False),
    Column("target", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("claimed_by", Text),
    Column("claimed_until", UtcDateTime),
    UniqueConstraint("idempotency_key"),
    one_of("status", OUTBOX_STATUSES),
    Index(None, "status", "next_attempt_at"),
)

cursors = Table(
    "cursors",
    metadata,
    Column("source", String(32), nullable=False),
    Column("stream", Text, nullable=False),
    Column("value", Text, nullable=False),
    # A text key that sorts like the position it encodes (see cursors.order_key).
    Column("order_key", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("source", "stream"),
)

identities = Table(
    "identities",
    metadata,
    Column("system", String(32), nullable=False),
    Column("external_id", Text, nullable=False),
    Column("person_id", Text),
    Column("email", Text),
    Column("display_name", Text),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Column("mapped_at", UtcDateTime),  # set when an admin maps the id (identities map)
    PrimaryKeyConstraint("system", "external_id"),
    Index(None, "person_id"),
    Index(None, "mapped_at"),
)

NOTIFICATION_STATUSES = ("pending", "sent", "digested", "dropped")

notifications = Table(
    "notifications",
    metadata,
    Column("id", Id, primary_key=True),
    Column("key", Text, nullable=False),
    Column("person_id", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("channel", String(32)),
    Column("reason", Text),
    Column("variables", JSON, nullable=False),
    Column("digest_id", Id),  # the digest that carried a digested message
    Column("due_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    UniqueConstraint("key"),
    one_of("status", NOTIFICATION_STATUSES),
    Index(None, "status", "due_at"),
    Index(None, "person_id", "sent_at"),
)

checkins = Table(
    "checkins",
    metadata,
    Column("id", Id, primary_key=True),
    Column("award_id", Id, nullable=False),
    Column("manager_id", Text, nullable=False),
    Column("person_id", Text, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("done_at", UtcDateTime),
    Column("done_by", Text),
    Column("note", Text),
    Column("reminders", Integer, nullable=False, server_default="0"),
    UniqueConstraint("award_id", "manager_id"),
    Index(None, "done_at", "due_at"),
)

optouts = Table(
    "optouts",
    metadata,
    Column("person_id", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("person_id", "kind"),
)

# Local accounts of the web UI: the person (a manifest id), an Argon2 hash, an admin flag.
users = Table(
    "users",
    metadata,
    Column("person_id", Text, primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("is_admin", Boolean, nullable=False, server_default=false()),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Who did what, when and from where: the web UI's sign-ins and actions, the users command.
audit = Table(
    "audit",
    metadata,
    Column("id", Id, primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("person_id", Text),
    Column("action", String(64), nullable=False),
    Column("target", Text),
    Column("detail", JSON),
    Column("remote_addr", Text),
    Index(None, "at"),
    Index(None, "person_id"),
)
