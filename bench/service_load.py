"""Reference apps for the webhook benchmarks (bench/bench_ingest.py), and the deliveries they take.

    python -m bench.service_load bare|signed|floor --threads 4 [--folder DIR | --database URL]
        A reference app under the same waitress server class as `skillrelay serve`
        (plugin.service.http), with the same thread count: bare (POST /webhooks/jira reads
        the body and answers 200), signed (+ checks the HMAC and decodes the JSON), floor
        (+ stores the body durably in SQLite in DIR, or in the PostgreSQL database at URL;
        `--wsgi`: the same steps as a bare WSGI app, without Flask; `--server granian`: the
        same steps as an RSGI app on granian, as skillrelay's webhook routes run there).
        Prints `listening on <url>`, runs until SIGTERM.

The secret comes from the environment (BENCH_WEBHOOK_SECRET), never the command line.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

SECRET_ENV = "BENCH_WEBHOOK_SECRET"
REFERENCES = ("bare", "signed", "floor")  # the reference apps, least work first
PATH = "/webhooks/jira"
# Placeholders in the delivery template (a Jira Cloud "issue updated to Done" webhook).
TOKENS = ("__KEY__", "__ISSUE_ID__", "__CHANGELOG_ID__", "__ACCOUNT__", "__NAME__", "__EMAIL__")
TIMESTAMP = '"__TIMESTAMP__"'


class Deliveries:
    """Distinct, signed deliveries made from one template: number i is the same every time."""

    def __init__(self, template: str, secret: str, *, project: str, first: int, run: str) -> None:
        self.template = template
        self.secret = secret.encode()
        self.project = project
        self.first = first
        self.run = run

    def body(
        self, i: int, *, account: str, name: str, email: str, at_ms: int | None = None
    ) -> bytes:
        n = self.first + i
        values = (f"{self.project}-{n}", str(n), str(n), account, name, email)
        text = self.template
        for token, value in zip(TOKENS, values, strict=True):
            text = text.replace(token, value)
        stamp = int(time.time() * 1000) if at_ms is None else at_ms
        return text.replace(TIMESTAMP, str(stamp)).encode()

    def key(self, i: int) -> str:
        return f"{self.project}-{self.first + i}"

    def headers(self, i: int, body: bytes) -> dict[str, str]:
        digest = hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        return {
            "Content-Type": "application/json",
            "X-Hub-Signature": f"sha256={digest}",
            "X-Atlassian-Webhook-Identifier": f"{self.run}-{i}",
        }

    def request(self, i: int, **who: Any) -> tuple[bytes, dict[str, str]]:
        body = self.body(i, **who)
        return body, self.headers(i, body)


ANONYMOUS = {
    "account": "5b10ac8d82e05b22cc7d4ef5",
    "name": "Ada Lovelace",
    "email": "ada.lovelace@unknown.example",
}


def bare_app() -> Any:
    from flask import Flask, request

    app = Flask("bare")

    @app.post(PATH)
    def receive() -> tuple[str, int]:
        request.get_data()
        return "", 200

    return app


def signed_app(secret: bytes, keep: Callable[[bytes, str], None] | None = None) -> Any:
    """The bare view plus what every authenticated JSON receiver does first: check the
    HMAC and decode the JSON. Then `keep(body, delivery id)` if given; nothing else."""
    from flask import Flask, abort, request

    app = Flask("signed" if keep is None else "floor")

    @app.post(PATH)
    def receive() -> tuple[str, int]:
        body = request.get_data()
        digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(f"sha256={digest}", request.headers.get("X-Hub-Signature", "")):
            abort(401)
        json.loads(body)
        if keep is not None:
            keep(body, request.headers.get("X-Atlassian-Webhook-Identifier", ""))
        return "", 200

    return app


def signed_wsgi(secret: bytes, keep: Callable[[bytes, str], None]) -> Any:
    """The floor's steps as a bare WSGI app, no Flask: what skillrelay's two webhook routes
    are served as (webhooks.direct). Compared with, not a target."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            start_response("404 Not Found", [("Content-Length", "0")])
            return [b""]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
        given = environ.get("HTTP_X_HUB_SIGNATURE", "")
        if not hmac.compare_digest(f"sha256={digest}", given):
            start_response("401 Unauthorized", [("Content-Length", "0")])
            return [b""]
        json.loads(body)
        keep(body, environ.get("HTTP_X_ATLASSIAN_WEBHOOK_IDENTIFIER", ""))
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]

    return app


def floor_app(folder: Path, secret: bytes, *, wsgi: bool = False) -> Any:
    """The least a durable, authenticated receiver must do, done the cheapest way we know:
    the signed view, then the body stored under its delivery id in SQLite (WAL), committed
    together with the requests arriving at the same time (plugin's GroupCommit), before
    the 200. No parsing, no metrics, no answer body."""
    from datetime import UTC, datetime

    from plugin.store.group_commit import GroupCommit
    from plugin.store.models import InboxEvent

    write = floor_write(folder)
    group = GroupCommit(write)

    def keep(body: bytes, key: str) -> None:
        group.add_new([InboxEvent("floor", "delivery", key, body.decode(), datetime.now(UTC))])

    return signed_wsgi(secret, keep) if wsgi else signed_app(secret, keep)


def floor_write(folder: Path) -> Callable[[Sequence[Any]], set[tuple[str, str]]]:
    """What the floor's group commit writes with: its rows into SQLite in `folder` (WAL,
    synchronous=NORMAL, as skillrelay's inbox), one multi-row INSERT a group."""
    import sqlite3

    conn = sqlite3.connect(folder / "floor.db", isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS inbox (key TEXT PRIMARY KEY, body TEXT)")

    def write(rows: Sequence[Any]) -> set[tuple[str, str]]:
        values = ", ".join(["(?, ?)"] * len(rows))
        conn.execute("BEGIN IMMEDIATE")
        cursor = conn.execute(
            f"INSERT INTO inbox (key, body) VALUES {values} "  # noqa: S608 (placeholders)
            "ON CONFLICT DO NOTHING RETURNING key",
            [v for row in rows for v in (row.natural_key, row.payload)],
        )
        new = {("floor", key) for (key,) in cursor.fetchall()}
        conn.execute("COMMIT")
        return new

    return write


def floor_rsgi(folder: Path, secret: bytes) -> Any:
    """The floor on granian, as skillrelay's webhook routes run there (webhooks.rsgi): the
    body read on the event loop, the HMAC and the JSON decode there too, the body stored by
    a group commit in a thread of its own (AsyncGroupCommit) before the 200."""
    from datetime import UTC, datetime

    from plugin.store.group_commit import AsyncGroupCommit
    from plugin.store.models import InboxEvent

    group: AsyncGroupCommit[InboxEvent] = AsyncGroupCommit(floor_write(folder))

    async def app(scope: Any, proto: Any) -> None:
        if scope.proto != "http":
            return
        body = await proto()
        if scope.path != PATH or scope.method != "POST":
            proto.response_bytes(404, [], b"")
            return
        digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
        given = scope.headers.get("x-hub-signature", "")
        if not hmac.compare_digest(f"sha256={digest}", given):
            proto.response_bytes(401, [], b"")
            return
        json.loads(body)
        key = scope.headers.get("x-atlassian-webhook-identifier", "")
        row = InboxEvent("floor", "delivery", key, body.decode(), datetime.now(UTC))
        await group.add_new([row])
        proto.response_bytes(200, [], b"")

    return app


def serve_granian(app: Any) -> NoReturn:
    """Serve an RSGI app on granian (HTTP/1.1, as `serve --server granian`) until SIGTERM."""
    import asyncio

    from granian.constants import HTTPModes, Interfaces
    from granian.server.embed import Server

    from plugin.service.http import free_port

    port = free_port("127.0.0.1")
    server = Server(
        app,
        address="127.0.0.1",
        port=port,
        interface=Interfaces.RSGI,
        http=HTTPModes.http1,
        websockets=False,
        log_enabled=False,
    )

    def announce() -> None:  # once the port takes connections
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                time.sleep(0.05)
                continue
            print(f"listening on http://127.0.0.1:{port}", flush=True)
            return

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, server.stop)
        threading.Thread(target=announce, daemon=True).start()
        await server.serve()

    asyncio.run(run())
    # Every 200 was sent after its commit. Exit without finalizing the interpreter: granian's
    # threads, still ending, panicked now and then under finalization (exit -6, "panic in a
    # function that cannot unwind"), failing a run that had stored all it acknowledged.
    sys.stdout.flush()
    os._exit(0)


def floor_postgres_app(url: str, secret: bytes) -> Any:
    """The floor on PostgreSQL: the same view and group commit, each group one multi-row
    INSERT on one driver connection (as plugin/store/intake.py writes the inbox), committed
    with the server's own durability settings, before the 200."""
    from datetime import UTC, datetime

    import psycopg

    from plugin.store.group_commit import GroupCommit
    from plugin.store.models import InboxEvent

    # A SQLAlchemy URL (postgresql+psycopg://...) as libpq takes it.
    conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1))
    conn.execute("CREATE TABLE IF NOT EXISTS floor_inbox (key TEXT PRIMARY KEY, body TEXT)")
    conn.commit()

    def write(rows: Sequence[InboxEvent]) -> set[tuple[str, str]]:
        values = ", ".join(["(%s, %s)"] * len(rows))
        with conn.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO floor_inbox (key, body) VALUES {values} "  # noqa: S608 (placeholders)
                "ON CONFLICT DO NOTHING RETURNING key",
                [v for row in rows for v in (row.natural_key, row.payload)],
            )
            new = {("floor", key) for (key,) in cursor.fetchall()}
        conn.commit()
        return new

    group = GroupCommit(write)

    def keep(body: bytes, key: str) -> None:
        group.add_new([InboxEvent("floor", "delivery", key, body.decode(), datetime.now(UTC))])

    return signed_app(secret, keep)


def reference(
    mode: str,
    threads: int,
    folder: Path | None = None,
    database: str | None = None,
    *,
    wsgi: bool = False,
    server_name: str = "waitress",
) -> int:
    from plugin.service.http import HttpServer

    secret = os.environ[SECRET_ENV].encode()
    if server_name == "granian":
        if mode != "floor" or folder is None or database:
            raise SystemExit("--server granian: the floor on SQLite only (--folder)")
        return serve_granian(floor_rsgi(folder, secret))
    if mode == "floor" and database:
        app = floor_postgres_app(database, secret)
    elif mode == "floor":
        assert folder is not None
        app = floor_app(folder, secret, wsgi=wsgi)
    elif mode == "signed":
        app = signed_app(secret)
    else:
        app = bare_app()
    server = HttpServer(app, host="127.0.0.1", port=0, threads=threads)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    print(f"listening on {server.address}", flush=True)
    stop.wait()
    server.stop_accepting()
    server.close(2.0)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.service_load")
    sub = parser.add_subparsers(dest="mode", required=True)
    for mode in REFERENCES:
        serve = sub.add_parser(mode)
        serve.add_argument("--threads", type=int, default=4)
        serve.add_argument("--folder", type=Path, help="floor: where its SQLite file goes")
        serve.add_argument("--database", help="floor: a PostgreSQL URL to store in instead")
        serve.add_argument("--wsgi", action="store_true", help="floor: as a bare WSGI app")
        serve.add_argument(
            "--server", choices=("waitress", "granian"), default="waitress",
            help="floor: on granian, as an RSGI app (as `serve --server granian`)",
        )  # fmt: skip
    args = parser.parse_args(argv)
    return reference(
        args.mode, args.threads, args.folder, args.database, wsgi=args.wsgi,
        server_name=args.server,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
