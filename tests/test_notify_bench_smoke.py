"""The notification benchmark still runs (at a tiny scale, so it cannot rot unnoticed)."""

from __future__ import annotations

import re

from bench.bench_notify import measure

ROWS = (
    "**plan a day**: `Scheduler.tick()` until nothing is due",
    "longest tick (one write transaction)",
    "what the ticks decided",
    "plan, per planned message",
    "plan, per sent message",
    "plan, peak RSS",
    "**deliver**: `OutboxWorker.run_once` until empty",
    "deliver, per message",
    "deliver, peak RSS",
    "reference: read every inbox payload",
    "reference: `enqueue_many`",
    "**ratio plan / (read + enqueue)**",
    "**ratio deliver / enqueue**",
)


def test_the_notify_bench_runs_at_a_tiny_scale() -> None:
    section = measure(0.0002, rounds=2)  # the bench itself runs 3 or more
    lines = {line.split(" | ")[0].removeprefix("| "): line for line in section.splitlines()}
    for row in ROWS:
        [line] = [text for name, text in lines.items() if name.startswith(row)]
        assert re.search(r"\| \**\d[\d,.]*", line), line  # a figure in the result column
    assert "2 interleaved rounds" in section
    decided = lines["what the ticks decided"]
    planned = int(re.search(r"\| ([\d,]+) planned", decided)[1].replace(",", ""))  # type: ignore[index]
    sent = int(re.search(r"([\d,]+) sent", decided)[1].replace(",", ""))  # type: ignore[index]
    assert planned > 0 and 0 < sent <= planned
    assert "counts differed" not in decided and "not done" not in section
    assert f"{sent:,} delivered" in section  # everything the tick queued went out
    assert "Profile (cProfile, one tick" in section and "Top own time" in section
