"""Session fixture: a real PostgreSQL server on 127.0.0.1, started once, stopped at the end.

Store tests run on both databases through fixtures parametrized with ids sqlite/postgresql:
- `db_url`: an empty database (a SQLite file, or CREATE DATABASE on the server);
- `store_url`: a migrated database with no rows; `store`: a Store opened on it.
CREATE DATABASE costs ~0.4 s, so `store_url` reuses one migrated PostgreSQL database and
empties its tables before each test instead.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from plugin.service.http import free_port
from plugin.store import Store, migrate
from plugin.store.schema import metadata

SERVER_FLAGS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
START_TIMEOUT = 30.0
_database_numbers = itertools.count(1)


def find_bindir() -> Path | None:
    """The newest server install in /usr/lib/postgresql/<version>/bin, else PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version, reverse=True)
    if found:
        return Path(found[0]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def _version(pg_ctl: str) -> float:
    try:
        return float(Path(pg_ctl).parent.parent.name)
    except ValueError:
        return 0.0


class Server:
    """initdb + pg_ctl on a private directory; as root, everything runs as `postgres`."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="skillrelay-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.as_user: str | None = None
        if os.geteuid() == 0:  # the server refuses to run as root
            self.as_user = "postgres"
            user = pwd.getpwnam(self.as_user)
            os.chown(self.root, user.pw_uid, user.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed: {done.stdout}{done.stderr}{log}")

    def start(self) -> None:
        setup = ["-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        self.run("initdb", *setup, "--no-sync", "--no-instructions")
        for attempt in range(3):  # the free port may be taken before the server binds it
            options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} {SERVER_FLAGS}"
            wait = ["-w", "-t", str(int(START_TIMEOUT))]
            where = ["-D", str(self.data), "-l", str(self.log)]
            try:
                self.run("pg_ctl", "start", *wait, *where, "-o", options)
                break
            except RuntimeError:
                if attempt == 2:
                    raise
                self.port = free_port()
        self.wait_ready()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.run("pg_ctl", "stop", "-m", "fast", "-w", "-D", str(self.data))
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (`make test` installs them)")
    server = Server(bindir)
    try:
        server.start()
        yield server.url
    finally:
        server.stop()


def create_database(server_url: str, name: str) -> str:
    admin = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def postgres_db_url(postgres_url: str) -> str:
    """A new, empty database on the session server, so tests never see each other's rows."""
    return create_database(postgres_url, f"test_{next(_database_numbers)}")


@pytest.fixture(scope="session")
def postgres_store_url(postgres_url: str) -> str:
    """One migrated database shared by the store tests (emptied before each)."""
    url = create_database(postgres_url, "store_tests")
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file to copy: cheaper than migrating for every test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "store.db"
    migrate.upgrade(f"sqlite:///{path}")  # the last connection closing folds the WAL back in
    return path


BOTH = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BOTH)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_db_url")
    return url


@pytest.fixture(params=BOTH)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database at the latest schema, with no rows."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, tmp_path / "store.db")
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_store_url")
    # DELETE beats TRUNCATE on tables this small; ids keep counting up, which tests allow.
    admin = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin) as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table.name)))
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as opened:
        yield opened
