"""A local Ralph xAPI LRS (ralph-malph 5.1.0, filesystem backend) on 127.0.0.1.

Used by `skillrelay demo` and by the tests: a real LRS, not a mock. Ralph runs from its own
venv (`.venv-ralph`, made by `make peers`). A tiny launcher works around 5.1.0's fs backend,
which refuses every write after the first (its default write operation is "create"): it sets
`FSLRSBackend.default_operation_type` to APPEND, then runs uvicorn in the same process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
# Ralph pins its own FastAPI/pydantic stack, so it lives in a venv of its own.
RALPH_VENV = Path(os.environ.get("SKILLRELAY_RALPH_VENV", REPO / ".venv-ralph"))
HOST = "127.0.0.1"

LAUNCHER = '''\
"""Start Ralph with the fs LRS backend appending (5.1.0 fails every write after the first)."""
import sys

import uvicorn
from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend

FSLRSBackend.default_operation_type = BaseOperationType.APPEND
uvicorn.run("ralph.api:app", host=sys.argv[1], port=int(sys.argv[2]), log_level="warning")
'''


class RalphMissing(RuntimeError):
    """The Ralph venv is not installed."""


# auth.json as `ralph auth` wrote it, per (venv, user, password): the CLI takes ~3 s to start.
_AUTH_FILES: dict[tuple[Path, str, str], bytes] = {}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RalphServer:
    """A Ralph process serving `endpoint` with Basic auth `username` / `password`."""

    directory: Path
    port: int
    username: str
    password: str
    venv: Path = RALPH_VENV
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def root(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"{self.root}/xAPI/"

    @property
    def auth(self) -> tuple[str, str]:
        return (self.username, self.password)

    @property
    def statements_file(self) -> Path:
        return self.directory / "fs_lrs.jsonl"

    @property
    def log_file(self) -> Path:
        return self.directory / "ralph.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RALPH_")}
        env.update(
            RALPH_RUNSERVER_BACKEND="fs",
            RALPH_APP_DIR=str(self.directory),
            RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH=str(self.directory),
        )
        return env

    @property
    def auth_file(self) -> Path:
        return self.directory / "auth.json"

    def usernames(self) -> set[str]:
        if not self.auth_file.exists():
            return set()
        return {user["username"] for user in json.loads(self.auth_file.read_text())}

    def add_user(self, username: str, password: str, *scopes: str) -> None:
        """Write a Basic-auth user to auth.json (`ralph auth`); scopes default to `all`."""
        scope_args = [arg for scope in scopes or ("all",) for arg in ("-s", scope)]
        command = [str(self.venv / "bin" / "ralph"), "auth", "-u", username, "-p", password]
        command += [*scope_args, "-M", f"mailto:{username}@example.org", "-w"]
        done = subprocess.run(command, env=self.env(), capture_output=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"`ralph auth` failed:\n{done.stderr.decode(errors='replace')}")

    def start(self, timeout: float = 30.0) -> None:
        """Start (or restart) the server and wait for `/__heartbeat__`."""
        if self.running:
            return
        launcher = self.directory / "launch_ralph.py"
        launcher.write_text(LAUNCHER)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [str(self.venv / "bin" / "python"), str(launcher), HOST, str(self.port)],
                env=self.env(),
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                raise RuntimeError(f"Ralph exited while starting:\n{self._log_tail()}")
            try:
                if requests.get(f"{self.root}/__heartbeat__", timeout=1).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Ralph did not answer within {timeout:.0f} s:\n{self._log_tail()}")

    def stop(self) -> None:
        """Stop the server (the data stays, for a later `start()`)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def clear(self) -> None:
        """Forget every statement (Ralph reads the file on each request)."""
        self.statements_file.write_bytes(b"")

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def start_ralph(
    directory: Path,
    *,
    username: str = "skillrelay",
    password: str = "skillrelay-local-password",  # noqa: S107 - a throw-away local LRS
    port: int | None = None,
    venv: Path = RALPH_VENV,
) -> RalphServer:
    """Start a Ralph LRS with its data in `directory`; stop it with `.stop()`."""
    python = venv / "bin" / "python"
    if not python.exists() or not (venv / "bin" / "ralph").exists():
        raise RalphMissing(
            f"the Ralph LRS venv is missing ({venv.name} next to pyproject.toml): run `make peers`"
        )
    directory.mkdir(parents=True, exist_ok=True)
    server = RalphServer(directory, port or _free_port(), username, password, venv)
    cached = _AUTH_FILES.get((venv, username, password))
    if cached is not None and not server.auth_file.exists():
        server.auth_file.write_bytes(cached)
    elif username not in server.usernames():
        server.add_user(username, password)
        _AUTH_FILES[(venv, username, password)] = server.auth_file.read_bytes()
    server.clear()
    for attempt in range(3):
        try:
            server.start()
            return server
        except RuntimeError:
            # Another process may have taken the free port first: try another one.
            if port is not None or attempt == 2:
                raise
            server.port = _free_port()
    raise AssertionError("unreachable")


if __name__ == "__main__":  # manual use: python -m connectors.local_lrs <dir>
    server = start_ralph(Path(sys.argv[1] if len(sys.argv) > 1 else "ralph-data").resolve())
    print(f"Ralph at {server.endpoint} user {server.username}; Ctrl-C stops it")
    try:
        while server.running:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
