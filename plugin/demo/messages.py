"""The demo's messages: a local SMTP sink catches the e-mails the service sends, and the
demo shows what each person got, in their language, and what waited or was dropped."""

from __future__ import annotations

import email
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from typing import Any

from aiosmtpd.controller import Controller

from plugin.store import Store


@dataclass
class Caught:
    to: str
    subject: str
    language: str


@dataclass
class _Handler:
    caught: list[Caught] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content)
        subject = str(make_header(decode_header(message.get("Subject", ""))))
        with self.lock:
            self.caught.append(
                Caught(", ".join(envelope.rcpt_tos), subject, message.get("Content-Language", ""))
            )
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpSink:
    """An SMTP server on 127.0.0.1 that keeps what it is sent (the demo's mailbox)."""

    def __init__(self) -> None:
        self.handler = _Handler()
        self.port = _free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    @property
    def caught(self) -> list[Caught]:
        with self.handler.lock:
            return list(self.handler.caught)


def summary(store: Store, sink: SmtpSink) -> str:
    notices = store.notices.list(limit=10_000)
    fates = Counter((n.kind, n.status) for n in notices)
    lines = [f"{len(notices)} messages planned within the budget:"]
    for (kind, status), n in sorted(fates.items()):
        lines.append(f"  {kind:<18} {status:<9} {n}")
    caught = sorted(sink.caught, key=lambda c: (c.to, c.subject))
    lines.append(f"{len(caught)} e-mails caught by the local SMTP sink:")
    lines += [f"  [{c.language or '?'}] {c.to}: {c.subject}" for c in caught]
    lines.append("(skillrelay notifications --person P says what each person got, and why)")
    return "\n".join(lines)
