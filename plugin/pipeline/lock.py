"""One decider at a time: the transaction-scoped advisory lock on PostgreSQL.

Budgets, caps and cooldowns depend on every other award, so two workers must never decide
at once (both could spend the last unit of a budget). On PostgreSQL each decide-and-write
transaction takes `pg_advisory_xact_lock`, released when it commits or rolls back. SQLite
has one writer anyway: the store begins every transaction with BEGIN IMMEDIATE.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

# Any constant works as long as every worker uses the same one: "skillrelay" in short.
LOCK_KEY = 0x736B696C6C72


def hold_decider_lock(conn: Connection) -> None:
    """Wait for, then hold until this transaction ends, the one decider lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
