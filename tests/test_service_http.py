"""The parts of a service in one process: waitress draining requests, the loops' wake-ups,
a shutdown that ends at its deadline."""

from __future__ import annotations

import gc
import http.client
import logging
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from plugin.ports import Batch
from plugin.service.http import HttpServer
from plugin.service.loop import Loop
from plugin.service.parts import Stoppable
from plugin.service.run import Service
from plugin.store import Store

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def slow_app(started: threading.Event, delay: float) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/slow":
            started.set()
            time.sleep(delay)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    return app


def test_a_request_in_flight_finishes_and_new_connections_are_refused() -> None:
    started = threading.Event()
    server = HttpServer(slow_app(started, 0.5), host="127.0.0.1", port=0, threads=2)
    server.start()
    answers: list[requests.Response] = []
    client = threading.Thread(
        target=lambda: answers.append(requests.get(server.address + "/slow", timeout=5))
    )
    try:
        assert requests.get(server.address + "/fast", timeout=5).text == "done"
        client.start()
        assert started.wait(5)
        server.stop_accepting()
        assert server.busy() == 1
        port = int(server.address.rsplit(":", 1)[1])
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
        assert server.drain(time.monotonic() + 5) == 0
        client.join(5)
        assert [a.status_code for a in answers] == [200] and answers[0].text == "done"
    finally:
        assert server.close(5)
    assert not server.running


def test_close_survives_the_loop_closing_before_it_is_woken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The loop may wake for an answer just sent and run the queued close before the write
    # that was to wake it: that write then meets a closed pipe, and close must still succeed.
    server = HttpServer(slow_app(threading.Event(), 0), host="127.0.0.1", port=0, threads=1)
    server.start()
    assert requests.get(server.address + "/fast", timeout=5).text == "done"
    trigger = server.server.trigger
    wake = trigger._physical_pull

    def loop_wins() -> None:
        with trigger.lock:  # the loop takes the queued thunks and runs them first
            thunks, trigger.thunks = trigger.thunks, []
        for thunk in thunks:
            thunk()
        wake()

    monkeypatch.setattr(trigger, "_physical_pull", loop_wins)
    assert server.close(5)
    assert not server.running


def test_drain_gives_up_at_the_deadline() -> None:
    started = threading.Event()
    server = HttpServer(slow_app(started, 1.5), host="127.0.0.1", port=0, threads=1)
    server.start()
    outcome: list[str] = []

    def call() -> None:
        try:
            outcome.append(requests.get(server.address + "/slow", timeout=5).text)
        except requests.ConnectionError:
            outcome.append("dropped")

    client = threading.Thread(target=call, daemon=True)
    client.start()
    try:
        assert started.wait(5)
        server.stop_accepting()
        begun = time.monotonic()
        assert server.drain(begun + 0.2) == 1
        assert time.monotonic() - begun < 1.0
    finally:
        server.close(3)
        client.join(5)
    assert outcome == ["dropped"]  # closed at the deadline, not answered


def test_a_loop_runs_at_once_when_woken_and_stops_on_request() -> None:
    stop = threading.Event()
    runs: list[float] = []

    def step() -> bool:
        runs.append(time.monotonic())
        return False  # nothing more: wait for the interval or a wake-up

    loop = Loop("test", step, interval=60, stop=stop)
    loop.start()
    deadline = time.monotonic() + 5
    while not runs and time.monotonic() < deadline:
        time.sleep(0.01)
    loop.wake()
    while len(runs) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(runs) == 2  # woken long before the 60 s interval
    stop.set()
    assert loop.join(2)


def test_a_spaced_loop_gathers_wake_ups_but_runs_at_once_after_a_quiet_spell() -> None:
    stop = threading.Event()
    runs: list[float] = []
    ran = threading.Semaphore(0)

    def step() -> bool:
        runs.append(time.monotonic())
        ran.release()
        return False

    loop = Loop("test", step, interval=60, stop=stop, spacing=0.3)
    loop.start()
    assert ran.acquire(timeout=5)
    for _ in range(20):  # a burst of webhooks, each waking the loop
        loop.wake()
        time.sleep(0.005)
    assert ran.acquire(timeout=5)
    assert runs[1] - runs[0] >= 0.3  # the burst was taken in one later step

    time.sleep(0.4)  # quiet for longer than the spacing
    woken = time.monotonic()
    loop.wake()
    assert ran.acquire(timeout=5)
    assert runs[2] - woken < 0.2  # no spacing wait after a quiet spell
    assert len(runs) == 3

    loop.wake()
    stop.set()  # a stop during the spacing wait ends the loop without another step
    assert loop.join(2)
    assert len(runs) == 3


def test_a_loop_survives_a_failing_step_and_runs_again_when_more_is_waiting() -> None:
    stop = threading.Event()
    calls: list[str] = []

    def step() -> bool:
        calls.append("x")
        if len(calls) == 1:
            raise RuntimeError("the store is away")
        if len(calls) >= 4:
            stop.set()
        return True  # more work: no waiting between runs

    loop = Loop("test", step, interval=0.05, stop=stop)
    loop.start()
    assert loop.join(5)
    assert len(calls) == 4


class Pages:
    name = "pages"

    def __init__(self) -> None:
        self.closed = False

    def pull(self, cursors: Any, now: Any) -> Any:
        try:
            for n in range(5):
                yield Batch(stream="s", events=[], cursor=None, fetched=n)
        finally:
            self.closed = True


def test_a_stoppable_source_ends_after_the_page_in_hand() -> None:
    stop = threading.Event()
    source = Pages()
    seen = []
    for batch in Stoppable(source, stop).pull({}, datetime.now(UTC)):
        seen.append(batch.fetched)
        stop.set()
    assert seen == [0] and source.closed


def test_a_shutdown_gives_up_after_the_grace_period(
    tmp_path: Path, sqlite_template: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.copyfile(sqlite_template, tmp_path / "grace.db")
    stop = threading.Event()
    entered = threading.Event()
    release = threading.Event()

    def stuck() -> bool:  # a delivery to a target that does not answer
        entered.set()
        release.wait(5)
        return False

    loop = Loop("outbox", stuck, interval=60, stop=stop)
    service = Service(
        Store.open(f"sqlite:///{tmp_path / 'grace.db'}"), [loop], grace=0.3, stop=stop
    )
    loop.start()
    try:
        assert entered.wait(5)
        begun = time.monotonic()
        with caplog.at_level(logging.INFO, logger="skillrelay.service"):
            assert service.shutdown() is False
        assert time.monotonic() - begun < 1.5
        assert "outbox: still busy at the deadline" in caplog.text
        assert "shutdown: gave up waiting" in caplog.text
    finally:
        release.set()
        loop.join(5)


def test_requests_waiting_for_a_thread_are_counted_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """waitress warns "Task queue depth is N" for every request that waits: under load that
    was thousands of log lines a second. The depth is kept for the metrics instead."""
    started = threading.Event()
    server = HttpServer(slow_app(started, 0.3), host="127.0.0.1", port=0, threads=1)
    server.start()
    caplog.set_level(logging.DEBUG)
    try:
        clients = [
            threading.Thread(target=lambda: requests.get(server.address + "/slow", timeout=10))
            for _ in range(3)
        ]
        for client in clients:
            client.start()
        assert started.wait(5)
        deadline = time.monotonic() + 5
        while server.queued() < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.queued() == 2  # one runs on the only thread, two wait
        for client in clients:
            client.join(10)
        assert server.queued() == 0
        assert server.depth.peak == 2 and server.depth.times >= 2
    finally:
        assert server.close(5)
    assert not [r for r in caplog.records if "queue depth" in r.getMessage()]


def test_the_io_loop_turns_about_once_a_request_under_load() -> None:
    """A request's task holds waitress's output lock while it writes its answer; the I/O
    loop, asked to send, cannot take the lock and was woken again at once, over and over:
    under load about 80 turns of the loop a request, most of the server's CPU (#11)."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        sum(i * i for i in range(3000))  # some work under the interpreter lock
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        return [b"done"]

    server = HttpServer(app, host="127.0.0.1", port=0, threads=4)
    turns = [0]
    readable = server.server.readable

    def counted() -> bool:  # called once a turn of the loop
        turns[0] += 1
        return bool(readable())

    server.server.readable = counted
    server.start()
    port = int(server.address.rsplit(":", 1)[1])
    each, clients = 100, 8
    answers: list[int] = []

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(each):
            connection.request("GET", "/")
            response = connection.getresponse()
            response.read()
            answers.append(response.status)
        connection.close()

    try:
        threads = [threading.Thread(target=client) for _ in range(clients)]
        before = turns[0]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        per_request = (turns[0] - before) / (each * clients)
        assert answers == [200] * (each * clients)
        assert per_request < 2.5, f"{per_request:.1f} turns of the I/O loop a request"
    finally:
        assert server.close(5)


# waitress spools output past 1 MiB to a temporary file, which it leaves to the garbage
# collector to close; collected here, so its warning is not charged to another test.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_large_answer_to_a_slow_reader_arrives_whole_while_the_loop_rests() -> None:
    """Past waitress's high watermark (16 MiB buffered) the task waits for the loop to send;
    the loop must still be asked to send then, or the answer would stall."""
    chunk, count = b"x" * (1024 * 1024), 40

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        size = str(len(chunk) * count)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", size)])
        for _ in range(count):
            yield chunk

    server = HttpServer(app, host="127.0.0.1", port=0, threads=2)
    server.start()
    try:
        started = time.monotonic()
        with requests.get(server.address + "/", stream=True, timeout=10) as response:
            received = 0
            for part in response.iter_content(256 * 1024):
                received += len(part)
                if received < 4 * len(chunk):
                    time.sleep(0.05)  # a slow start: the server's buffer fills
        assert received == len(chunk) * count
        assert time.monotonic() - started < 10
    finally:
        assert server.close(5)
        gc.collect()
