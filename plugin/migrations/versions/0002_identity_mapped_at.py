"""Identities: when an admin mapped an id, so workers notice a mapping with one cheap query.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.add_column(sa.Column("mapped_at", sa.DateTime(timezone=True)))
        batch.create_index("ix_identities_mapped_at", ["mapped_at"])


def downgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.drop_index("ix_identities_mapped_at")
        batch.drop_column("mapped_at")
