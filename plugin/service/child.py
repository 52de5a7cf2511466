"""`serve --worker-processes N`: the deciding and delivering run in `skillrelay worker`
processes that `serve` starts, watches and stops, so one `serve` uses more than one core.

One interpreter lock is the ceiling of a `serve` that receives and decides in threads
(BENCHMARKS.md, ingest). A worker process wakes on the inbox's notifications on PostgreSQL
(plugin/service/listen.py) and on its watcher's look at the file on SQLite (watch.py), so
deciding in a child costs little latency; the default is one, none for a SQLite database
in memory (no other process can open it).

Each child:
- is `python -m plugin worker` with this process's settings, its own id (`<id>-w<n>`) and
  the database URL in its environment (a password in argv would show in `ps`);
- runs in a session of its own: Ctrl-C in a terminal reaches `serve` alone, which then
  stops each child with one SIGTERM (a second signal would make a child exit at once);
- stops by itself when `serve` is gone, even killed (`worker --parent PID`);
- is started again when it exits while `serve` runs, after 1 s, doubling up to a minute
  while it keeps failing at start.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from plugin.service.loop import Loop
from plugin.settings import DATABASE_ENV

if TYPE_CHECKING:
    from plugin.service.compose import Settings

log = logging.getLogger("skillrelay.service")
CHECK = 0.5  # seconds between looks at the children
FIRST_WAIT, LONGEST_WAIT = 1.0, 60.0  # before a start again, doubling while it fails
STEADY = 30.0  # a child that ran this long failed "later": the wait starts again at 1 s


def worker_argv(settings: Settings, number: int, parent: int, log_level: str) -> list[str]:
    """The command line of child `number`: everything but the database URL."""
    argv = [sys.executable, "-m", "plugin", "--log-level", log_level, "worker"]
    argv += ["--manifest", str(settings.manifest_file), "--id", f"{settings.worker_id}-w{number}"]
    argv += ["--poll", f"{settings.poll:g}", "--batch", str(settings.batch)]
    argv += ["--lease", f"{settings.lease:g}", "--retry-base", f"{settings.retry_base:g}"]
    argv += ["--retry-budget", f"{settings.retry_budget:g}"]
    # A second less than ours to stop in, so it ends before `serve` gives up waiting.
    grace = max(1.0, settings.grace - 1.0)
    argv += ["--notify-every", f"{settings.notify_every:g}", "--grace", f"{grace:g}"]
    argv += ["--jira-dry-run"] if settings.jira_dry_run else []
    return [*argv, "--parent", str(parent)]


class Child:
    """One worker process, started again whenever it is found gone."""

    def __init__(self, number: int, argv: list[str], env: Mapping[str, str]) -> None:
        self.number = number
        self.argv = argv
        self.env = dict(env)
        self.process: subprocess.Popen[bytes] | None = None
        self.pid = 0
        self.started = 0.0
        self.failures = 0  # exits in a row, each within STEADY seconds of its start
        self.not_before = 0.0

    def check(self) -> None:
        """Start the child if it is not running and its wait is over."""
        now = time.monotonic()
        if self.process is not None:
            code = self.process.poll()
            if code is None:
                return
            self.process = None
            ran = now - self.started
            self.failures = 1 if ran >= STEADY else self.failures + 1
            wait = min(FIRST_WAIT * 2 ** (self.failures - 1), LONGEST_WAIT)
            self.not_before = now + wait
            log.error(
                "workers: process %d (pid %d) exited with %s after %.1f s; starting it again "
                "in %g s",
                self.number,
                self.pid,
                code,
                ran,
                wait,
            )
        if now < self.not_before:
            return
        self.process = subprocess.Popen(self.argv, env=self.env, start_new_session=True)
        self.started = now
        self.pid = self.process.pid
        log.info("workers: process %d started (pid %d)", self.number, self.pid)

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def join(self, timeout: float) -> None:
        """Wait for the child to exit; killed if it has not after `timeout`."""
        if self.process is None:
            return
        try:
            code = self.process.wait(max(0.0, timeout))
        except subprocess.TimeoutExpired:
            log.warning("workers: process %d (pid %d) still running: killed", self.number, self.pid)
            self.process.kill()
            self.process.wait()
            return
        log.info("workers: process %d (pid %d) exited with %s", self.number, self.pid, code)


class Children:
    """The worker processes of one `serve`, checked by a loop of their own."""

    def __init__(self, settings: Settings, count: int, env: Mapping[str, str] | None = None):
        found = dict(os.environ if env is None else env)
        found[DATABASE_ENV] = settings.database
        level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
        parent = os.getpid()
        self.grace = settings.grace
        self.children = [
            Child(n, worker_argv(settings, n, parent, level), found) for n in range(1, count + 1)
        ]

    def step(self) -> bool:
        for child in self.children:
            child.check()
        return False

    def stop(self) -> None:
        """SIGTERM to each, then wait for all within the grace period (the loop's end)."""
        for child in self.children:
            child.terminate()
        deadline = time.monotonic() + self.grace
        for child in self.children:
            child.join(deadline - time.monotonic())

    def loop(self, stop: threading.Event) -> Loop:
        return Loop("workers", self.step, interval=CHECK, stop=stop, end=self.stop)


def parent_watch(parent: int, stop: threading.Event) -> Callable[[], bool]:
    """A step for a worker started by `serve`: stop when that process is gone."""

    def step() -> bool:
        if os.getppid() != parent:
            log.warning("workers: the serve process (pid %d) is gone; stopping", parent)
            stop.set()
        return False

    return step
