"""Notifications, check-ins and opt-outs.

`notifications`: every message skillrelay plans, keyed by a natural key so a trigger seen
twice is planned once, with its fate (pending, sent, digested into a digest, dropped) and
the reason. `checkins`: a manager's check-in after an award, due, reminded and recorded.
`optouts`: kinds a person unsubscribed from with the link in a message.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, Time, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", ID, nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("channel", sa.String(32)),
        sa.Column("reason", sa.Text()),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("digest_id", ID),
        _when("due_at"),
        _when("created_at"),
        _when("updated_at"),
        _when("sent_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("key", name="uq_notifications_key"),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'digested', 'dropped')", name="ck_notifications_status"
        ),
    )
    op.create_index("ix_notifications_status_due_at", "notifications", ["status", "due_at"])
    op.create_index("ix_notifications_person_id_sent_at", "notifications", ["person_id", "sent_at"])
    op.create_table(
        "checkins",
        sa.Column("id", ID, nullable=False),
        sa.Column("award_id", ID, nullable=False),
        sa.Column("manager_id", sa.Text(), nullable=False),
        sa.Column("person_id", sa.Text(), nullable=False),
        _when("due_at"),
        _when("created_at"),
        _when("done_at", nullable=True),
        sa.Column("done_by", sa.Text()),
        sa.Column("note", sa.Text()),
        sa.Column("reminders", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_checkins"),
        sa.UniqueConstraint("award_id", "manager_id", name="uq_checkins_award_id_manager_id"),
    )
    op.create_index("ix_checkins_done_at_due_at", "checkins", ["done_at", "due_at"])
    op.create_table(
        "optouts",
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        _when("at"),
        sa.PrimaryKeyConstraint("person_id", "kind", name="pk_optouts"),
    )


def downgrade() -> None:
    op.drop_table("optouts")
    op.drop_table("checkins")
    op.drop_index("ix_notifications_person_id_sent_at", "notifications")
    op.drop_index("ix_notifications_status_due_at", "notifications")
    op.drop_table("notifications")
