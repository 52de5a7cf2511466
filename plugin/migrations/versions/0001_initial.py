"""The initial schema: inbox, decisions, awards ledger, award events, outbox, cursors, identities.

Revision ID: 0001
Revises:
Create Date: 2026-05-09

Migrations are frozen history: they spell out their columns instead of importing the
current tables from plugin.store.schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


def one_of(table: str, column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({quoted})", name=op.f(f"ck_{table}_{column}"))


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", Id, primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("natural_key", sa.Text, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("raw", sa.JSON),
        sa.Column("received_at", Time, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="new"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("processed_at", Time),
        sa.Column("error", sa.Text),
        sa.Column("claimed_by", sa.Text),
        sa.Column("claimed_until", Time),
        sa.UniqueConstraint("source", "natural_key", name="uq_inbox_source_natural_key"),
        one_of("inbox", "status", ("new", "processed", "failed", "deferred")),
    )
    op.create_index("ix_inbox_status_id", "inbox", ["status", "id"])

    op.create_table(
        "decisions",
        sa.Column("id", Id, primary_key=True),
        sa.Column("inbox_id", Id, sa.ForeignKey("inbox.id", name="fk_decisions_inbox_id_inbox")),
        sa.Column("person_id", sa.Text),
        sa.Column("skill_id", sa.Text),
        sa.Column("ticket_key", sa.Text),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON),
        sa.Column("decided_at", Time, nullable=False),
    )
    op.create_index("ix_decisions_ticket_key", "decisions", ["ticket_key"])

    op.create_table(
        "awards",
        sa.Column("id", Id, primary_key=True),
        sa.Column("person_id", sa.Text, nullable=False),
        sa.Column("skill_id", sa.Text, nullable=False),
        sa.Column("ticket_key", sa.Text, nullable=False),
        sa.Column("reward_id", sa.Text, nullable=False),
        sa.Column("sprint_id", sa.Text),
        sa.Column("points", sa.Integer, nullable=False, server_default="0"),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("completion_key", sa.Text),
        sa.Column("ticket_done_at", Time, nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.Column("evidence", sa.JSON),
        sa.UniqueConstraint(
            "person_id", "skill_id", "ticket_key", name="uq_awards_person_id_skill_id_ticket_key"
        ),
        one_of(
            "awards",
            "state",
            (
                "pending_approval",
                "approved",
                "fulfilled",
                "rejected",
                "revoked",
                "revocation_flagged",
            ),
        ),
    )
    op.create_index("ix_awards_reward_id_ticket_done_at", "awards", ["reward_id", "ticket_done_at"])
    op.create_index("ix_awards_person_id_sprint_id", "awards", ["person_id", "sprint_id"])
    op.create_index("ix_awards_state", "awards", ["state"])

    op.create_table(
        "award_events",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "award_id",
            Id,
            sa.ForeignKey("awards.id", name="fk_award_events_award_id_awards"),
            nullable=False,
        ),
        sa.Column("from_state", sa.String(32)),
        sa.Column("to_state", sa.String(32), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("at", Time, nullable=False),
    )
    op.create_index("ix_award_events_award_id", "award_events", ["award_id"])

    op.create_table(
        "outbox",
        sa.Column("id", Id, primary_key=True),
        sa.Column("idempotency_key", sa.Text, nullable=False),
        sa.Column("target", sa.String(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", Time, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.Column("claimed_by", sa.Text),
        sa.Column("claimed_until", Time),
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
        one_of("outbox", "status", ("pending", "in_flight", "done", "dead")),
    )
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])

    op.create_table(
        "cursors",
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("stream", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("order_key", sa.Text, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("source", "stream", name="pk_cursors"),
    )

    op.create_table(
        "identities",
        sa.Column("system", sa.String(32), nullable=False),
        sa.Column("external_id", sa.Text, nullable=False),
        sa.Column("person_id", sa.Text),
        sa.Column("email", sa.Text),
        sa.Column("display_name", sa.Text),
        sa.Column("first_seen", Time, nullable=False),
        sa.Column("last_seen", Time, nullable=False),
        sa.PrimaryKeyConstraint("system", "external_id", name="pk_identities"),
    )
    op.create_index("ix_identities_person_id", "identities", ["person_id"])


def downgrade() -> None:
    for table in ("identities", "cursors", "outbox", "award_events", "awards", "decisions"):
        op.drop_table(table)
    op.drop_table("inbox")
