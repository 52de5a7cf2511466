"""Indexes for the web UI's dashboard, ledger and sprint pages.

`awards (reward_id, ticket_done_at)` grows a column, `state`, so it counts a reward's budget
use in a period without reading the awards. New: `awards (sprint_id, state, reward_id,
person_id)`, a sprint's awards by state or reward and the people with one, from the index
alone; `awards (ticket_done_at)`, the ledger's period filter; `inbox (kind, received_at)`,
a sprint's learning events, read from the ones received since it began.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BUDGET = ["reward_id", "ticket_done_at"]
NEW = (
    (
        "ix_awards_sprint_id_state_reward_id_person_id",
        "awards",
        ["sprint_id", "state", "reward_id", "person_id"],
    ),
    ("ix_awards_ticket_done_at", "awards", ["ticket_done_at"]),
    ("ix_inbox_kind_received_at", "inbox", ["kind", "received_at"]),
)


def upgrade() -> None:
    op.create_index("ix_awards_reward_id_ticket_done_at_state", "awards", [*BUDGET, "state"])
    op.drop_index("ix_awards_reward_id_ticket_done_at", "awards")
    for name, table, columns in NEW:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(NEW):
        op.drop_index(name, table)
    op.create_index("ix_awards_reward_id_ticket_done_at", "awards", BUDGET)
    op.drop_index("ix_awards_reward_id_ticket_done_at_state", "awards")
