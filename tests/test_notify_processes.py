"""Three real `skillrelay worker` processes on one PostgreSQL plan and send the messages of
the same awards: each message is planned once, queued once and received once by a real SMTP
server, and nobody gets more than the budget."""

from __future__ import annotations

import email
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from plugin.service.http import free_port
from plugin.store import Store, migrate
from tests.peers.ralph import RalphServer
from tests.test_pipeline_support import northwind
from tests.test_service_support import child_env, launched, manifest_file

pytestmark = [pytest.mark.postgres, pytest.mark.ralph]


class Inbox:
    def __init__(self) -> None:
        self.received: list[email.message.Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def with_email(path: Path, port: int) -> None:
    text = path.read_text()
    channel = (
        "    - type: email\n"
        f"      smtp: {{host: 127.0.0.1, port: {port}, security: none, from: relay@nw.example}}\n"
    )
    text = text.replace("  channels:\n", "  channels:\n" + channel, 1)
    text = text.replace(
        "    per_person_per_week: 3\n", "    per_person_per_week: 3\n    per_person_per_day: 1\n"
    )
    # Whatever the hour the suite runs at: no quiet hours here (tested on their own).
    text = text.replace('    quiet_hours: {start: "19:00", end: "08:00"}\n', "")
    path.write_text(text)


def test_three_worker_processes_send_each_message_once(
    tmp_path: Path, postgres_db_url: str, ralph_lrs: RalphServer
) -> None:
    postgres_store_url = postgres_db_url  # a database of its own: no other test's rows
    migrate.upgrade(postgres_store_url)
    with Store.open(postgres_store_url) as store:
        northwind(store)
    inbox = Inbox()
    port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    manifest = manifest_file(tmp_path, jira="https://jira.invalid", lrs=ralph_lrs.endpoint)
    with_email(manifest, port)
    user, password = ralph_lrs.auth
    env = child_env(postgres_store_url, manifest, LRS_USERNAME=user, LRS_PASSWORD=password)
    args = ["worker", "--poll", "0.2", "--notify-every", "0.2", "--jira-dry-run"]
    try:
        with (
            launched([*args, "--id", "w1"], env, tmp_path / "w1.log") as one,
            launched([*args, "--id", "w2"], env, tmp_path / "w2.log") as two,
            launched([*args, "--id", "w3"], env, tmp_path / "w3.log") as three,
        ):
            for child in (one, two, three):
                child.wait_for(r"notify: planning every 0\.2 s")
            deadline = time.monotonic() + 60
            with Store.open(postgres_store_url) as store:
                while time.monotonic() < deadline:
                    notices = store.notices.list(limit=1000)
                    by_mail = [n for n in notices if n.status == "sent" and n.channel == "email"]
                    if notices and by_mail and len(inbox.received) >= len(by_mail):
                        time.sleep(1.0)  # a second more: anything sent twice would show
                        break
                    time.sleep(0.2)
                notices = store.notices.list(limit=1000)
                effects = [
                    i
                    for i in store.outbox.list(limit=1000)
                    if i.idempotency_key.startswith("notify:")
                ]
    finally:
        smtp.stop()
    sent = [n for n in notices if n.status == "sent"]
    by_mail = [n for n in sent if n.channel == "email"]
    assert by_mail, [(n.person_id, n.kind, n.status, n.reason) for n in notices]
    assert Counter(n.key for n in notices).most_common(1)[0][1] == 1
    assert len({e.idempotency_key for e in effects}) == len(effects) == len(sent)
    ids = Counter(m["Message-ID"] for m in inbox.received)
    assert len(inbox.received) == len(by_mail) and max(ids.values()) == 1
    for person in {n.person_id for n in sent}:
        times = sorted(n.sent_at for n in sent if n.person_id == person and n.sent_at)
        for at in times:
            mine = [(n.kind, n.channel, n.sent_at) for n in sent if n.person_id == person]
            assert sum(1 for t in times if at - timedelta(days=1) < t <= at) <= 1, mine
