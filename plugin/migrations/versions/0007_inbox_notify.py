"""On PostgreSQL, a notification on channel `skillrelay_inbox` whenever rows enter the inbox.

A `worker` process (or another `serve`) listens and decides at once, instead of at its next
poll: receiving and deciding in separate processes is how a PostgreSQL deployment scales,
and the receivers cannot wake a thread of another process. A trigger, not the writers,
sends it, so every writer (webhooks, the sync, the xAPI pull, imports) is covered. Once a
statement, whatever it inserted: PostgreSQL folds the notifications of one transaction into
one, and a listener that wakes for nothing finds nothing to claim. SQLite has no listeners:
nothing to do there.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CHANNEL = "skillrelay_inbox"  # plugin.service.listen listens on it


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION skillrelay_inbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN PERFORM pg_notify('{CHANNEL}', ''); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER inbox_notify AFTER INSERT ON inbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION skillrelay_inbox_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER inbox_notify ON inbox")
    op.execute("DROP FUNCTION skillrelay_inbox_notify()")
