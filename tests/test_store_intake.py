"""The webhooks' inbox writer: the driver-level path stores what the inbox itself would."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from plugin.store import InboxEvent, Store, migrate

T0 = datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC)


def event(key: str, source: str = "jira", **changes: object) -> InboxEvent:
    values: dict[str, object] = {
        "source": source,
        "kind": "ticket",
        "natural_key": key,
        "payload": {"key": key, "labels": ["skill-sql"], "ü": 1.5},
        "received_at": T0,
        "raw": {"id": key, "fields": {"summary": "Fix the report"}},
    }
    values.update(changes)
    return InboxEvent(**values)  # type: ignore[arg-type]


def keys(store: Store) -> list[str]:
    """The natural keys, newest first."""
    return [item.natural_key for item in store.inbox.list()]


def stored_text(store: Store, source: str) -> list[tuple[str, ...]]:
    """The rows as the database holds them, as text: what other readers compare and sort."""
    query = text(
        "SELECT natural_key, kind, CAST(payload AS TEXT), CAST(raw AS TEXT), "
        "CAST(received_at AS TEXT), status FROM inbox WHERE source = :source ORDER BY id"
    )
    with store.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query, {"source": source})]


def test_rows_are_stored_exactly_as_the_inbox_stores_them(store: Store) -> None:
    # Another zone and no raw: both must come out as the inbox's own write has them.
    berlin = timezone(timedelta(hours=1))
    events = [event("a"), event("b", raw=None, received_at=T0.astimezone(berlin))]
    store.inbox.add_many(events)
    copies = [event(e.natural_key, "hook", raw=e.raw, received_at=e.received_at) for e in events]
    assert store.inbox_writer.add_new(copies) == {("hook", "a"), ("hook", "b")}

    assert stored_text(store, "hook") == stored_text(store, "jira")
    by_source = {item.source: item for item in store.inbox.list() if item.natural_key == "b"}
    assert by_source["hook"].received_at == T0 == by_source["jira"].received_at
    assert by_source["hook"].raw is None
    assert by_source["hook"].payload == events[1].payload


def test_only_new_keys_come_back_and_a_key_twice_in_one_write_is_stored_once(
    store: Store,
) -> None:
    store.inbox.add_many([event("seen")])
    added = store.inbox_writer.add_new([event("seen"), event("new"), event("new")])
    assert added == {("jira", "new")}
    assert keys(store) == ["new", "seen"]
    assert store.inbox_writer.add_new([]) == set()


def test_a_refused_write_stores_nothing_and_the_next_one_goes_through(store: Store) -> None:
    refused = [event("fine"), event("no-kind", kind=None)]  # NOT NULL: the database refuses
    with pytest.raises(DBAPIError):
        store.inbox_writer.add_new(refused)
    assert store.inbox.list() == []  # the group is one transaction: nothing half-stored

    assert store.inbox_writer.add_new([event("fine")]) == {("jira", "fine")}
    assert keys(store) == ["fine"]


def drop_other_connections(admin: str, database: str) -> int:
    """End every session on `database` but the caller's, as a server restart would."""
    with psycopg.connect(admin, autocommit=True) as conn:
        return len(
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchall()
        )


@pytest.mark.postgres
def test_a_connection_the_server_dropped_is_replaced_without_failing_the_group(
    postgres_store_url: str,
) -> None:
    with Store.open(postgres_store_url) as store:
        with store.engine.begin() as conn:
            conn.execute(text("DELETE FROM inbox"))
        store.inbox_writer.add_new([event("before")])
        admin = postgres_store_url.replace("postgresql+psycopg://", "postgresql://")
        name = admin.rsplit("/", 1)[1]
        assert drop_other_connections(admin, name) >= 1  # the writer's connection went away

        assert store.inbox_writer.add_new([event("after")]) == {("jira", "after")}
        assert keys(store) == ["after", "before"]


@pytest.mark.postgres
def test_a_database_that_stays_away_is_a_store_error(postgres_db_url: str) -> None:
    migrate.upgrade(postgres_db_url)
    name = postgres_db_url.rsplit("/", 1)[1]
    admin = postgres_db_url.replace("postgresql+psycopg://", "postgresql://")
    admin = admin.rsplit("/", 1)[0] + "/postgres"
    with Store.open(postgres_db_url) as store:
        store.inbox_writer.add_new([event("before")])
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(
                sql.Identifier(name)))  # fmt: skip
        try:
            drop_other_connections(admin, name)
            # The retry cannot connect either: SQLAlchemy's error, which webhooks answer 503.
            with pytest.raises(DBAPIError):
                store.inbox_writer.add_new([event("lost")])
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(
                    sql.Identifier(name)))  # fmt: skip
        assert keys(store) == ["before"]


def test_it_waits_for_this_process_s_other_writers_instead_of_failing(store: Store) -> None:
    """On SQLite a transaction holds the one write lock; the writer queues behind it."""
    started = threading.Event()

    def hold() -> None:
        with store.transaction() as conn:
            store.inbox.add_many([event("held")], conn=conn)
            started.set()
            time.sleep(0.3)

    holder = threading.Thread(target=hold)
    holder.start()
    started.wait(5)
    assert store.inbox_writer.add_new([event("queued")]) == {("jira", "queued")}
    holder.join(5)
    assert keys(store) == ["queued", "held"]


def test_close_gives_its_connection_back(store: Store) -> None:
    store.inbox_writer.add_new([event("a")])
    assert store.engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    store.inbox_writer.close()
    assert store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert store.inbox_writer.add_new([event("b")]) == {("jira", "b")}  # opens a new one


@pytest.mark.parametrize(("query", "level"), [("", 1), ("?synchronous=full", 2)])
def test_sqlite_waits_for_the_disk_on_every_commit_when_asked(
    tmp_path: object, query: str, level: int
) -> None:
    """NORMAL (with WAL) survives a crash of the process; FULL also survives power loss."""
    url = f"sqlite:///{tmp_path}/store.db{query}"
    migrate.upgrade(url)
    with Store.open(url) as store:
        # Both the pool's connections and the webhooks' own writer connection.
        store.inbox_writer.write([store.inbox_writer.encode(event("PAY-1"))])
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == level
        assert keys(store) == ["PAY-1"]


def test_an_unknown_synchronous_level_is_a_config_error(tmp_path: object) -> None:
    from plugin.errors import ConfigError

    with pytest.raises(ConfigError, match=r"synchronous='fast'.*normal, full, extra"):
        Store.open(f"sqlite:///{tmp_path}/store.db?synchronous=fast")
