"""Alembic, driven from code: the migrations ship inside the package, no alembic.ini needed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from plugin.errors import StoreError
from plugin.store.engine import make_engine, parse_url, safe_url, sqlite_file

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
LOCK_KEY = 5_310_001  # any constant: names the advisory lock that serialises upgrades
NOT_AT_HEAD = "database is not at the latest schema; run `skillrelay db upgrade`"


class NotUpgraded(StoreError):
    """The database has no schema, or an older one: a setup step was skipped, so, like a
    configuration error, the command exits 2."""

    exit_code = 2


@dataclass(frozen=True)
class Upgrade:
    before: str | None
    after: str | None


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None, "the package ships no migrations"
    return revision


def revision_of(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def connected(url: str | URL) -> Iterator[Connection]:
    """A connection for schema work; an unreachable database becomes a StoreError."""
    engine = make_engine(url)
    try:
        with reachable(engine) as conn:
            yield conn
    finally:
        engine.dispose()


@contextmanager
def reachable(engine: Engine) -> Iterator[Connection]:
    try:
        conn = engine.connect()
    except DBAPIError as exc:
        raise unreachable(engine.url, exc) from None
    with conn:
        yield conn


def unreachable(url: URL, exc: DBAPIError) -> StoreError:
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
    return StoreError(f"cannot reach database {safe_url(url)}: {reason}")


def upgrade(url: str | URL) -> Upgrade:
    with connected(url) as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            # Several processes may run `db upgrade` as they boot: one migrates at a time.
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
        try:
            before = revision_of(conn)
            conn.commit()
            command.upgrade(alembic_config(conn), "head")
            conn.commit()
            return Upgrade(before=before, after=revision_of(conn))
        finally:
            if postgres:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
                conn.commit()


def current(url: str | URL) -> str | None:
    if missing_file(url):
        return None
    with connected(url) as conn:
        return revision_of(conn)


def check_at_head(engine: Engine) -> None:
    if missing_file(engine.url):
        # Connecting would leave an empty file behind that looks like a database.
        shown = safe_url(engine.url)
        raise NotUpgraded(f"database {shown} does not exist; run `skillrelay db upgrade`")
    with reachable(engine) as conn:
        found = revision_of(conn)
    if found != head():
        raise NotUpgraded(f"{NOT_AT_HEAD} (found {found or 'no schema'}, expected {head()})")


def missing_file(url: str | URL) -> bool:
    """Whether the URL names a SQLite file that does not exist (connecting creates it)."""
    parsed = parse_url(url)
    name = sqlite_file(parsed)
    if name is None or parsed.query:
        return False  # PostgreSQL, in memory, or URI options we do not second-guess
    return not Path(name).exists()
