"""Alembic migrations, driven from code by plugin.store.migrate (no alembic.ini needed)."""
