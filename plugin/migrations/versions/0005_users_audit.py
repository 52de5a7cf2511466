"""Web UI accounts and the audit trail.

`users`: one local account per manifest person who may sign in to the web UI, with an
Argon2 password hash and an admin flag. `audit`: every sign-in, sign-out and action taken
in the web UI (and accounts added or changed with `skillrelay users`): who, what, when and
from which address.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("person_id", name="pk_users"),
    )
    op.create_table(
        "audit",
        sa.Column("id", ID, nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("person_id", sa.Text()),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.Text()),
        sa.Column("detail", sa.JSON()),
        sa.Column("remote_addr", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
    )
    op.create_index("ix_audit_at", "audit", ["at"])
    op.create_index("ix_audit_person_id", "audit", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_person_id", "audit")
    op.drop_index("ix_audit_at", "audit")
    op.drop_table("audit")
    op.drop_table("users")
