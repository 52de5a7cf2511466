"""Schema management: `db upgrade` / `db current`, on SQLite and PostgreSQL, and URL handling."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from plugin.cli import main
from plugin.errors import ConfigError, StoreError
from plugin.store import Store, migrate
from plugin.store.engine import make_engine, parse_url, safe_url
from plugin.store.schema import metadata

EXAMPLE_MANIFEST = Path(__file__).resolve().parent.parent / "manifest" / "example.yaml"
TABLES = {"inbox", "decisions", "awards", "award_events", "outbox", "cursors", "identities"}


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_all_tables_and_is_idempotent(db_url: str) -> None:
    assert migrate.current(db_url) is None
    first = migrate.upgrade(db_url)
    assert (first.before, first.after) == (None, migrate.head())
    assert table_names(db_url) >= TABLES
    second = migrate.upgrade(db_url)
    assert (second.before, second.after) == (migrate.head(), migrate.head())
    assert migrate.current(db_url) == migrate.head()


def test_migrated_schema_matches_the_tables_the_code_uses(db_url: str) -> None:
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_open_before_upgrade_says_what_to_run(db_url: str) -> None:
    with pytest.raises(StoreError, match="run `skillrelay db upgrade`"):
        Store.open(db_url)


@pytest.mark.parametrize(
    "command",
    [["serve", "--port", "0", "--no-sync", "--jira-dry-run"], ["worker"], ["worker", "--once"]],
    ids=["serve", "worker", "worker-once"],
)
def test_services_on_a_missing_database_exit_2_and_create_no_file(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "never-upgraded.db"
    options = ["--manifest", str(EXAMPLE_MANIFEST), "--database", f"sqlite:///{database}"]

    assert main([*command, *options]) == 2

    err = capsys.readouterr().err
    assert f"database sqlite:///{database} does not exist" in err
    assert "run `skillrelay db upgrade`" in err
    assert not database.exists()


def test_services_on_an_empty_database_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "empty.db"
    sqlite3.connect(database).close()  # a file with no schema, e.g. made by another tool
    options = ["--manifest", str(EXAMPLE_MANIFEST), "--database", f"sqlite:///{database}"]

    assert main(["worker", "--once", *options]) == 2

    assert "run `skillrelay db upgrade` (found no schema" in capsys.readouterr().err


def test_db_current_on_a_missing_database_creates_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "never-upgraded.db"
    assert main(["db", "current", "--url", f"sqlite:///{database}"]) == 0
    assert "has no schema; run `skillrelay db upgrade`" in capsys.readouterr().out
    assert not database.exists()


def test_cli_upgrade_then_current(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "current", "--url", db_url]) == 0
    assert "has no schema" in capsys.readouterr().out
    assert main(["db", "upgrade", "--url", db_url]) == 0
    head = migrate.head()
    assert f"upgraded from an empty schema to revision {head} (head)" in capsys.readouterr().out
    assert main(["db", "upgrade", "--url", db_url]) == 0
    assert f"already at revision {head} (head)" in capsys.readouterr().out
    assert main(["db", "current", "--url", db_url]) == 0
    assert capsys.readouterr().out == f"database {safe_url(db_url)} at revision {head} (head)\n"
    with Store.open(db_url) as store:
        assert store.inbox.count_by_status()["new"] == 0


def test_cli_reads_the_url_from_the_environment(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SKILLRELAY_DATABASE_URL", db_url)
    assert main(["db", "upgrade"]) == 0
    assert safe_url(db_url) in capsys.readouterr().out


def test_sqlite_is_in_wal_mode_with_foreign_keys(tmp_path: pytest.TempPathFactory) -> None:
    url = f"sqlite:///{tmp_path}/wal.db"
    migrate.upgrade(url)
    with Store.open(url) as store, store.transaction() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:pw@db:5432/sr", "postgresql+psycopg://u:***@db:5432/sr"),
        ("postgresql://u:pw@db/sr", "postgresql+psycopg://u:***@db/sr"),
        ("postgresql+psycopg://u@db/sr", "postgresql+psycopg://u@db/sr"),
        ("sqlite:///skillrelay.db", "sqlite:///skillrelay.db"),
        ("sqlite:////var/lib/sr.db", "sqlite:////var/lib/sr.db"),
    ],
    ids=["postgres", "postgresql", "psycopg", "sqlite-relative", "sqlite-absolute"],
)
def test_urls_are_normalised_and_printed_without_password(given: str, expected: str) -> None:
    assert safe_url(given) == expected
    assert parse_url(given).password == ("pw" if "pw" in given else None)


@pytest.mark.parametrize(
    "url",
    ["not a url", "postgresql://u:secret@db:notaport/sr", "mysql://u:secret@db/sr", ""],
    ids=["garbage", "bad-port", "unsupported", "empty"],
)
def test_bad_urls_are_config_errors_naming_the_setting(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match="SKILLRELAY_DATABASE_URL") as caught:
        parse_url(url)
    assert "secret" not in str(caught.value)
    assert main(["db", "upgrade", "--url", url or "::"]) == 2
    err = capsys.readouterr().err
    assert "SKILLRELAY_DATABASE_URL" in err
    assert "secret" not in err


def test_unreachable_database_is_a_store_error_without_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "postgresql://u:secret@127.0.0.1:1/sr"
    with pytest.raises(StoreError, match="cannot reach database"):
        migrate.current(url)
    assert main(["db", "current", "--url", url]) == 1
    err = capsys.readouterr().err
    assert "cannot reach database postgresql+psycopg://u:***@127.0.0.1:1/sr" in err
    assert "secret" not in err


@pytest.mark.postgres
def test_concurrent_upgrades_on_postgres_take_turns(postgres_db_url: str) -> None:
    results: list[migrate.Upgrade] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate.upgrade(postgres_db_url))
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    # Without the lock the upgrades block each other for good: time out instead of hanging.
    threads = [threading.Thread(target=run, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "upgrades did not finish"
    assert errors == []
    assert sorted(r.before or "" for r in results) == ["", migrate.head(), migrate.head()]


def test_upgrade_from_the_first_revision_keeps_identities(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            command.upgrade(migrate.alembic_config(conn), "0001")
            conn.exec_driver_sql(
                "INSERT INTO identities (system, external_id, person_id, first_seen, last_seen) "
                "VALUES ('jira', 'acc-1', 'ana', '2026-01-01 00:00:00', '2026-01-02 00:00:00')"
            )
    finally:
        engine.dispose()
    assert migrate.upgrade(db_url).before == "0001"
    with Store.open(db_url) as store:
        found = store.identities.get("jira", "acc-1")
        assert found is not None and found.person_id == "ana" and found.mapped_at is None
        assert store.identities.last_mapped() is None
        store.identities.map("jira", "acc-1", "ben")
        assert store.identities.last_mapped() is not None
