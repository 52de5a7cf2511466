"""Issue #16 at full size: the ledger of a crashed multi-process cluster against one worker.

Two `skillrelay serve --no-worker` receivers and three `skillrelay worker` processes on one
real PostgreSQL 15 database (its own server, started here), the real Ralph LRS and a recording
Jira on 127.0.0.1. The story (tests/ledger_story.py, seeded) is about 5,000 deliveries at
scale 1: 30% repeats, out of order, completions withdrawn and voided, tickets reopened once or
twice, resolved "Won't Do" then "Done", re-assigned, sent at 100 a second. Half-way, a worker
holding claimed inbox events and in-flight effects is killed with SIGKILL while Jira answers
a comment; another worker starts in its place. Once the cluster is quiet, one `worker --once`
decides the same deliveries in a second database, and the two ledgers, the engine's verdicts
on the whole inbox, the comments Jira recorded and the statements Ralph holds are compared
(tests/test_ledger_processes.py does the same with a few hundred). Mismatches: 0 expected.

    python -m bench ledger [--scale 0.1]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

if not __package__:  # run as `python bench/bench_ledger.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.local_lrs import start_ralph
from plugin.store import migrate
from tests.ledger_story import Outcome, Story, make_story, run_story
from tests.peers.postgres import Server, create_database, find_bindir
from tests.test_service_support import FakeJira

SEED = 16
PEOPLE = 120  # at scale 1
TICKETS = 900  # at scale 1: about 5,000 deliveries with the completions and the repeats
RECEIVERS, WORKERS = 2, 3
RATE = 100.0  # deliveries a second


def measure(scale: float) -> tuple[Story, Outcome]:
    story = make_story(
        seed=SEED, people=max(8, round(PEOPLE * scale)), tickets=max(20, round(TICKETS * scale))
    )
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found: run `make peers`")
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        folder = Path(tmp)
        server = Server(bindir)
        try:
            server.start()
            ralph = start_ralph(folder / "ralph")
            try:
                cluster = create_database(server.url, "ledger_cluster")
                one = create_database(server.url, "ledger_one_worker")
                for url in (cluster, one):
                    migrate.upgrade(url)
                with FakeJira() as jira:
                    outcome = run_story(
                        story,
                        database=cluster,
                        one_worker_database=one,
                        folder=folder,
                        jira=jira,
                        ralph=ralph,
                        receivers=RECEIVERS,
                        workers=WORKERS,
                        rate=RATE,
                        quiet_timeout=1_800,
                        one_worker_timeout=1_800,
                    )
            finally:
                ralph.stop()
        finally:
            server.stop()
    return story, outcome


def report(story: Story, outcome: Outcome) -> str:
    f, s, k = outcome.findings.figures, outcome.seconds, outcome.killed
    made = story.made
    rows = [
        ("deliveries sent (repeats included)", f"{len(story.deliveries):,}, {RATE:g} a second"),
        ("repeats", f"{story.duplicates:,} ({story.duplicates / len(story.deliveries):.0%})"),
        ("distinct deliveries", f"{story.distinct:,}"),
        (
            "of which",
            f"{made['completion']:,} completions, {made['uncompleted']:,} withdrawn, "
            f"{made['voided']:,} voided; {made['tickets']:,} tickets: {made['done']:,} done, "
            f"{made['reopened']:,} reopened ({made['left_reopened']:,} left so), "
            f"{made['excluded_first']:,} first resolved Won't Do / Duplicate, "
            f"{made['assignee']:,} re-assigned",
        ),
        ("people", f"{len(story.people):,}"),
        ("inbox rows", f"{f['inbox_rows']:,}"),
        (
            "awards (ledger rows)",
            f"{f['awards']:,}: {f['live_awards']:,} live ({f['granted_awards']:,} granted), "
            f"{f['revoked_awards']:,} revoked, {f['restored_awards']:,} came back after a "
            f"revocation; {f['award_changes']:,} changes",
        ),
        (
            "awards, one worker / engine",
            f"{f['one_worker_awards']:,} rows / {f['engine_awards']:,} granted",
        ),
        ("effects (outbox)", f"{f['effects']:,}"),
        ("Jira comments posted", f"{f['comments_posted']:,}"),
        (
            "statements in Ralph",
            f"{f['statements_in_ralph']:,} ({f['earned_sent']:,} earned, "
            f"{f['voiding_in_ralph']:,} voided)",
        ),
        (
            "killed (SIGKILL)",
            f"{k.worker}, holding {k.in_flight} in-flight effect(s) and {k.inbox_claims} inbox "
            "claim(s); another worker started in its place",
        ),
        ("**mismatches**", f"**{outcome.findings.mismatches}** {outcome.findings.counts()}"),
        (
            "wall time",
            f"{s['total']:.1f} s: start {s['start']:.1f} s, send {s['send']:.1f} s, quiet "
            f"{outcome.quiet.seconds:.1f} s after the last delivery, one worker (feed and "
            f"decide) {s['one_worker']:.1f} s",
        ),
    ]
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    found = outcome.findings.report(5) if outcome.findings.mismatches else ""
    return (
        f"A crashed cluster ({RECEIVERS} `serve --no-worker` + {WORKERS} `worker`, one killed "
        "with SIGKILL half-way and replaced) against one `worker --once` on the same "
        "deliveries: the live ledger, the engine's verdicts on the whole inbox, each Jira "
        "comment once, each statement once in Ralph and voided where the ledger says. Real "
        "PostgreSQL 15 and Ralph, a recording Jira, all on 127.0.0.1.\n\n"
        f"| | |\n|---|---|\n{table}\n" + (f"\n```\n{found}\n```\n" if found else "")
    )


def run(scale: float) -> str:
    story, outcome = measure(scale)
    return report(story, outcome)


if __name__ == "__main__":
    print(run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0))
