"""The decided watermark: which deciding transaction decided each inbox event.

Every transaction that decides events (under the decider lock) takes the next number of
`decider.seq` and stamps the events it marks processed with it, so a worker can ask
"which events did others decide since my last transaction?" with one indexed query, and
catch up on any its engine has not read before it reconciles the ledger.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("decided_seq", ID))
        batch.create_index("ix_inbox_decided_seq", ["decided_seq"])
    op.create_table(
        "decider",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", ID, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_decider"),
    )


def downgrade() -> None:
    op.drop_table("decider")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_index("ix_inbox_decided_seq")
        batch.drop_column("decided_seq")
