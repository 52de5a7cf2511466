"""On PostgreSQL, a notification whenever rows enter the inbox (channel `skillrelay_inbox`)
or the outbox (`skillrelay_outbox`).

A `worker` process (or another `serve`) listens and decides or delivers at once, instead of
at its next poll: receiving and deciding in separate processes is how a PostgreSQL
deployment scales, and no process can wake another's threads. Triggers, not the writers,
send them, so every writer is covered (webhooks, the sync, the xAPI pull, imports, the
pipeline's effects). Once a statement, whatever it inserted: PostgreSQL folds the
notifications of one transaction into one, and a listener woken for nothing finds nothing
to claim. SQLite has no listeners: nothing to do there.

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

# table: channel (plugin.service.listen listens on them)
CHANNELS = {"inbox": "skillrelay_inbox", "outbox": "skillrelay_outbox"}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION skillrelay_notify() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN PERFORM pg_notify(TG_ARGV[0], ''); RETURN NULL; END $$"
    )
    for table, channel in CHANNELS.items():
        op.execute(
            f"CREATE TRIGGER {table}_notify AFTER INSERT ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION skillrelay_notify('{channel}')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in CHANNELS:
        op.execute(f"DROP TRIGGER {table}_notify ON {table}")
    op.execute("DROP FUNCTION skillrelay_notify()")
