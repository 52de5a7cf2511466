"""PostgreSQL for the ingest benchmark (bench_ingest.py): one server for the whole run, at
the SQLite sides' durability, a fresh migrated database per side-run, what was stored in
it, and the server's own CPU, measured apart from ours."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from bench.bench_service import process_cpu
from plugin.store import migrate
from tests.peers import postgres as peers

# The durability of the SQLite sides (WAL, synchronous=NORMAL): a commit does not wait for
# its WAL to reach the disk, so an acknowledged delivery survives a crash of our process but
# not a power loss, and the database stays consistent (fsync and full-page writes on, which
# the tests' server turns off). PostgreSQL's default, synchronous_commit=on, waits for the
# flush like SQLite's synchronous=FULL: on this machine's disk that bounds both PostgreSQL
# sides, and our process then spends more CPU per request, waiting.
PG_SETTINGS = {"fsync": "on", "synchronous_commit": "off", "full_page_writes": "on"}
PG_TEMPLATE = "bench_template"
# Added to a side's URL: PostgreSQL's own default, a commit waits for its WAL to be flushed.
POSTGRES_DEFAULT = "?options=-c%20synchronous_commit%3Don"


class _Server(peers.Server):
    """The tests' server with the bench's durability (PG_SETTINGS) instead of theirs."""

    def run(self, tool: str, *args: str) -> None:
        if tool == "pg_ctl" and args[:1] == ("start",):
            flags = " ".join(f"-c {name}={value}" for name, value in PG_SETTINGS.items())
            args = tuple(a.replace(peers.SERVER_FLAGS, flags) for a in args)
        super().run(tool, *args)


class Postgres:
    """The run's PostgreSQL server: a migrated template, a fresh database per side-run, what
    was stored in it, and the server's own CPU."""

    def __init__(self, server: peers.Server) -> None:
        self.server = server
        self.made = 0
        with self._admin() as conn:
            for name, value in PG_SETTINGS.items():
                found = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
                if found is None or found[0] != value:
                    raise RuntimeError(f"PostgreSQL started with {name}={found}, not {value}")
        migrate.upgrade(peers.create_database(server.url, PG_TEMPLATE))

    def _admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.server.dsn("postgres"), autocommit=True)

    def fresh(self) -> str:
        """A new migrated database, after a checkpoint (no earlier run's writes pending)."""
        self.made += 1
        name = f"bench_{self.made}"
        with self._admin() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(PG_TEMPLATE)
                )
            )
            conn.execute("CHECKPOINT")
        return self.server.url.rsplit("/", 1)[0] + f"/{name}"

    def inbox_counts(self, url: str) -> dict[str, int]:
        """As bench_service.inbox_counts: Jira events (not delivery markers), by status."""
        with psycopg.connect(self.server.dsn(url.rsplit("/", 1)[1])) as conn:
            rows = conn.execute(
                "SELECT status, count(*) FROM inbox WHERE source = 'jira' AND kind != 'delivery' "
                "GROUP BY status"
            ).fetchall()
        return {status: n for status, n in rows}

    def floor_rows(self, url: str) -> int:
        """The bodies the PostgreSQL floor stored (bench/service_load.py)."""
        with psycopg.connect(self.server.dsn(url.rsplit("/", 1)[1])) as conn:
            found = conn.execute("SELECT count(*) FROM floor_inbox").fetchone()
        return int(found[0]) if found else 0

    def drop(self, url: str) -> None:
        with self._admin() as conn:
            name = sql.Identifier(url.rsplit("/", 1)[1])
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(name))

    def cpu(self) -> float:
        """CPU seconds of the postmaster and its children, exited ones included: the
        database server's share of the machine."""
        return process_cpu(int((self.server.data / "postmaster.pid").read_text().split()[0]))


@contextmanager
def postgres(needed: bool) -> Iterator[Postgres | None]:
    """A PostgreSQL server for the whole run, if any side needs one."""
    if not needed:
        yield None
        return
    bindir = peers.find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found: run `make peers`")
    server = _Server(bindir)
    try:
        server.start()
        yield Postgres(server)
    finally:
        server.stop()


def durability() -> str:
    settings = ", ".join(f"`{name}={value}`" for name, value in PG_SETTINGS.items())
    if PG_SETTINGS.get("synchronous_commit") == "off":
        return (
            f"{settings} (the SQLite sides' durability: an acknowledged delivery survives a "
            "crash of our process, not a power loss)"
        )
    return f"{settings} (an acknowledged delivery survives power loss)"


def version() -> str:
    bindir = peers.find_bindir()
    return bindir.parent.name if bindir is not None else ""
