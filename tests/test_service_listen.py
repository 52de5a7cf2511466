"""Receiving, deciding and delivering in separate processes on PostgreSQL: inserts into the
inbox notify channel `skillrelay_inbox`, into the outbox `skillrelay_outbox` (migration
0007), and a worker's listener wakes its pipeline or its outbox, so what another process
stored is decided or delivered at once, not at the next poll."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from alembic import command

from plugin.service.listen import APPLICATION, INBOX, OUTBOX, Listener
from plugin.service.loop import Loop
from plugin.store import Store, migrate
from plugin.store.models import InboxEvent
from tests.test_service_support import (
    FORWARD_SECRET,
    JIRA_SECRETS,
    child_env,
    launched,
    manifest_file,
    receiver_then_worker_decide,
    wait_until,
)

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def admin(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def event(key: str) -> InboxEvent:
    return InboxEvent("test", "ticket_transition", key, {"n": key}, NOW)


def notified(conn: psycopg.Connection[tuple[object, ...]], seconds: float) -> list[str]:
    return [n.channel for n in conn.notifies(timeout=seconds, stop_after=1)]


def test_rows_entering_the_inbox_or_the_outbox_notify_listeners_until_the_downgrade(
    postgres_db_url: str,
) -> None:
    migrate.upgrade(postgres_db_url)
    with (
        psycopg.connect(admin(postgres_db_url), autocommit=True) as listening,
        Store.open(postgres_db_url) as store,
    ):
        listening.execute(f"LISTEN {INBOX}")
        listening.execute(f"LISTEN {OUTBOX}")
        store.inbox.add_many([event("a"), event("b")])
        assert notified(listening, 5) == [INBOX]
        store.inbox_writer.add_new([event("c")])  # the webhooks' writer
        assert notified(listening, 5) == [INBOX]
        store.outbox.enqueue("label:PAY-1", "jira", "label", {"issue": "PAY-1", "label": "x"})
        assert notified(listening, 5) == [OUTBOX]
        with migrate.connected(postgres_db_url) as conn:
            command.downgrade(migrate.alembic_config(conn), "0006")
            conn.commit()
        store.inbox.add_many([event("d")])
        store.outbox.enqueue("label:PAY-2", "jira", "label", {"issue": "PAY-2", "label": "x"})
        assert notified(listening, 0.5) == []


def test_the_listener_wakes_on_an_insert_comes_back_after_losing_its_connection_and_stops(
    postgres_db_url: str,
) -> None:
    migrate.upgrade(postgres_db_url)
    woken = threading.Event()
    stop = threading.Event()
    with Store.open(postgres_db_url) as store:
        listener = Listener(store.engine.url, {INBOX: woken.set}, stop)
        loop = Loop("listen", listener.step, interval=0.2, stop=stop, end=listener.close)
        loop.start()
        try:
            wait_until(woken.is_set, 10)  # a new connection wakes once, for what it missed
            woken.clear()
            store.inbox.add_many([event("first")])
            assert wait_until(woken.is_set, 5) < 1.0
            with psycopg.connect(admin(postgres_db_url), autocommit=True) as conn:
                killed = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s AND datname = current_database()",
                    (APPLICATION,),
                ).fetchall()
            assert killed == [(True,)]
            woken.clear()
            wait_until(woken.is_set, 10)  # connected again
            woken.clear()
            store.inbox.add_many([event("second")])
            assert wait_until(woken.is_set, 5) < 1.0
        finally:
            stop.set()
            assert loop.join(3.0)
        with psycopg.connect(admin(postgres_db_url), autocommit=True) as conn:
            left = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                "AND datname = current_database()",  # other tests' listeners run meanwhile
                (APPLICATION,),
            ).fetchone()
        assert left == (0,)  # the loop's end closed the connection


def test_a_worker_process_decides_what_a_receiving_process_stored_before_its_next_poll(
    tmp_path: Path, postgres_db_url: str
) -> None:
    """`serve --no-worker` receives, `worker --poll 60` decides: without the notification
    the delivery would wait a minute for the worker's next look at the inbox."""
    migrate.upgrade(postgres_db_url)
    receiver_then_worker_decide(
        tmp_path, postgres_db_url, r"listen: woken by notifications on skillrelay_inbox", NOW
    )


def test_an_outbox_only_worker_delivers_what_another_process_queued_before_its_next_poll(
    tmp_path: Path, postgres_db_url: str
) -> None:
    migrate.upgrade(postgres_db_url)
    manifest = manifest_file(tmp_path, jira="http://127.0.0.1:9", lrs="http://127.0.0.1:9/xAPI")
    env = child_env(postgres_db_url, manifest, **JIRA_SECRETS, LRS_FORWARD_SECRET=FORWARD_SECRET)
    env.update(LRS_USERNAME="u", LRS_PASSWORD="p")  # an LRS sender is built, never used here
    args = ["worker", "--poll", "60", "--outbox-only", "--id", "sender", "--jira-dry-run"]
    with (
        launched(args, env, tmp_path / "worker.log") as worker,
        Store.open(postgres_db_url) as store,
    ):
        worker.wait_for(r"listen: woken by notifications on skillrelay_outbox")
        worker.wait_for(r"outbox: worker sender delivering")
        time.sleep(0.5)  # its first look at the outbox is over: it waits a minute
        store.outbox.enqueue("label:PAY-9", "jira", "label", {"issue": "PAY-9", "label": "x"})

        def delivered() -> bool:
            return [i.status for i in store.outbox.list()] == ["done"]

        assert wait_until(delivered, 10) < 5.0, worker.log
        assert "jira dry run, not written: label PAY-9 +x" in worker.log
        assert worker.terminate()[0] == 0
