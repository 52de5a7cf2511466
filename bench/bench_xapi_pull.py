"""Pulling statements from a real Ralph LRS: our xAPI connector against Ralph's own LRS client.

A fresh Ralph (ralph-malph, filesystem backend, `connectors.local_lrs.start_ralph`) is loaded
with Logstore-shaped module completions (varied learners, modules and results, deterministic
ids) through `LrsClient.send_statements` in batches of 1,000. Then, against that same server:

- ours, `XapiSource(LrsClient(...), modules).pull({}, now)` consumed fully (every activity is
  mapped, so every statement becomes a Completion);
- ours, the raw `LrsClient.statements()` pages alone (HTTP, JSON, statement Structs);
- Ralph's `ralph.backends.data.lrs.LRSDataBackend.read()`, in Ralph's own venv (it pins its
  own pydantic), driven by `bench/ralph_client_reader.py`: one long-lived process, so its
  interpreter start-up and imports are measured once, apart from the reads.

Each side is warmed up once, then measured `repeats` times, interleaved; times are medians.
Every run builds its client afresh and must read each statement exactly once. Client CPU is
process CPU time: ours is the bench's own process (the server runs in another one), theirs
the reader's. The server's CPU time is read from /proc around each run when available.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import requests

if not __package__:  # run as `python bench/bench_xapi_pull.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.local_lrs import RalphServer, start_ralph
from connectors.xapi import (
    VERB_COMPLETED,
    VERB_UNCOMPLETED,
    LrsClient,
    Statement,
    XapiSource,
    statement_id,
)
from connectors.xapi_models import read_statement, read_statement_json

FULL_SCALE = 20_000
LOAD_BATCH = 1_000
PAGE_CAP = 100  # Ralph's RUNSERVER_MAX_SEARCH_HITS_COUNT: no page is longer, whatever `limit`
READER = Path(__file__).resolve().parent / "ralph_client_reader.py"
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
FIRST = datetime(2024, 1, 8, 8, 0, tzinfo=UTC)
HOME = "https://moodle.example.org"
LEARNERS, COURSES, MODULES_PER_COURSE = 1_500, 40, 5
MOD_TYPES = ("page", "quiz", "assign", "lesson", "h5pactivity")
LOGSTORE_INFO = {
    "http://moodle.org": "4.3.2+ (Build: 20240104)",
    "https://github.com/xAPI-vle/moodle-logstore_xapi": "5.0.1",
    "event_name": "\\core\\event\\course_module_completion_updated",
    "event_function": "\\src\\transformer\\events\\core\\course_module_completion_updated",
}

OURS_PULL, OURS_RAW, THEIRS = "ours_pull", "ours_raw", "ralph_client"
LABELS = {
    OURS_PULL: "skillrelay `XapiSource.pull` (statements → Completions)",
    OURS_RAW: "skillrelay `LrsClient.statements()` (pages only)",
    THEIRS: "Ralph `LRSDataBackend.read()` (dicts)",
}


# --- the statements -------------------------------------------------------------------------


def activity(module: int) -> str:
    kind = MOD_TYPES[module % len(MOD_TYPES)]
    return f"{HOME}/mod/{kind}/view.php?id={1000 + module}"


def module_map() -> dict[str, str]:
    """Every activity the statements use, mapped to a module id."""
    return {activity(m): f"cm-{1000 + m}" for m in range(COURSES * MODULES_PER_COURSE)}


def logstore_statement(i: int) -> dict[str, Any]:
    """Statement `i`, as Moodle's Logstore xAPI plugin emits a module completion update.

    Results vary as completion states do: 0 (uncompleted), 1 (completed), 2 (completed,
    passed: success true), 3 (completed, failed: success false).
    """
    learner = 2 + (i * 7919) % LEARNERS
    module = (i * 31) % (COURSES * MODULES_PER_COURSE)
    course = module // MODULES_PER_COURSE
    state = (1, 1, 1, 1, 1, 2, 2, 3, 0, 1)[i % 10]
    statement: dict[str, Any] = {
        "id": statement_id(f"bench:logstore:completion:{i}"),
        "actor": {
            "objectType": "Agent",
            "name": f"Learner {learner}",
            "account": {"homePage": HOME, "name": str(learner)},
        },
        "verb": (
            {"id": VERB_UNCOMPLETED, "display": {"en": "Uncompleted"}}
            if state == 0
            else {"id": VERB_COMPLETED, "display": {"en": "completed"}}
        ),
        "object": {
            "id": activity(module),
            "objectType": "Activity",
            "definition": {
                "type": "http://id.tincanapi.com/activitytype/lms/module",
                "name": {"en": f"Module {1000 + module}"},
            },
        },
        "timestamp": (FIRST + timedelta(seconds=37 * i)).isoformat(),
        "context": {
            "platform": "Moodle",
            "language": "en",
            "extensions": {"http://lrs.learninglocker.net/define/extensions/info": LOGSTORE_INFO},
            "contextActivities": {
                "parent": [
                    {
                        "id": f"{HOME}/course/view.php?id={100 + course}",
                        "objectType": "Activity",
                        "definition": {
                            "type": "https://w3id.org/xapi/cmi5/activitytype/course",
                            "name": {"en": f"Course {100 + course}"},
                        },
                    }
                ],
                "category": [
                    {
                        "id": HOME,
                        "objectType": "Activity",
                        "definition": {
                            "type": "http://id.tincanapi.com/activitytype/lms",
                            "name": {"en": "Example Moodle"},
                        },
                    }
                ],
            },
        },
    }
    if state:
        statement["result"] = {"completion": True}
        if state > 1:
            statement["result"]["success"] = state == 2
    return statement


def digest(ids: Iterable[str]) -> str:
    """The same digest as the reader's: sha256 of the sorted ids, one a line."""
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


# --- measuring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One read of the whole store by one client."""

    statements: int  # items received (ours: `fetched`, before the duplicate check)
    distinct: int
    duplicates: int
    requests: int
    digest: str
    wall: float
    cpu: float  # the client process's CPU time
    server_cpu: float | None
    completions: int | None = None  # the pull only
    errors: int = 0


@dataclass
class Figures:
    """A side's counts (checked equal on every run) and median times."""

    statements: int
    distinct: int
    duplicates: int
    requests: int
    completions: int | None
    wall: float
    cpu: float
    server_cpu: float | None
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)  # per repeat, in the order run

    @property
    def rate(self) -> float:
        return self.statements / self.wall if self.wall else 0.0

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.statements * 1e6 if self.statements else 0.0


@dataclass
class Measurement:
    n: int
    repeats: int
    load_wall: float
    load_requests: int
    reader_startup: dict[str, Any]  # the reference process: spawn to ready, imports, backend
    ralph_version: str
    runs: dict[str, Figures]
    parse_us: dict[str, float] = field(default_factory=dict)  # offline, µs per statement

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def counted_session() -> tuple[requests.Session, list[int]]:
    """A session that records the status of every response (so every request) it gets."""
    session, statuses = requests.Session(), []

    def record(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        statuses.append(response.status_code)

    session.hooks["response"].append(record)
    return session, statuses


def server_cpu(server: RalphServer) -> float | None:
    """CPU seconds the Ralph process has used so far (Linux /proc), None elsewhere."""
    if server.process is None:
        return None
    try:
        stat = Path(f"/proc/{server.process.pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(server: RalphServer, read: Callable[[], Sample]) -> Sample:
    before = server_cpu(server)
    sample = read()
    after = server_cpu(server)
    spent = after - before if before is not None and after is not None else None
    return replace(sample, server_cpu=spent)


def pull_ours(server: RalphServer, modules: dict[str, str]) -> Sample:
    wall, cpu = time.perf_counter(), time.process_time()
    session, statuses = counted_session()
    source = XapiSource(LrsClient(server.endpoint, auth=server.auth, session=session), modules)
    ids: list[str] = []
    fetched = errors = 0
    for batch in source.pull({}, NOW):
        fetched += batch.fetched
        errors += len(batch.errors)
        ids.extend(event.natural_key for event in batch.events)
    session.close()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return Sample(
        statements=fetched,
        distinct=len(set(ids)),
        duplicates=source.counts["duplicates"],
        requests=len(statuses),
        digest=digest(ids),
        wall=wall,
        cpu=cpu,
        server_cpu=None,
        completions=len(ids),
        errors=errors,
    )


def read_ours(server: RalphServer) -> Sample:
    wall, cpu = time.perf_counter(), time.process_time()
    session, statuses = counted_session()
    client = LrsClient(server.endpoint, auth=server.auth, session=session)
    ids: list[str] = []
    fetched = duplicates = errors = 0
    for page in client.statements():
        fetched += page.fetched
        duplicates += page.duplicates
        errors += len(page.errors)
        ids.extend(statement.id for statement in page.statements)
    session.close()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return Sample(
        statements=fetched,
        distinct=len(set(ids)),
        duplicates=duplicates,
        requests=len(statuses),
        digest=digest(ids),
        wall=wall,
        cpu=cpu,
        server_cpu=None,
        errors=errors,
    )


class RalphReader:
    """The reference client, in Ralph's venv, one read per `read()` (see ralph_client_reader)."""

    def __init__(self, server: RalphServer, log: Path) -> None:
        self._log = log.open("wb")
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [str(server.venv / "bin" / "python"), str(READER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("RALPH_")},
        )
        config = {
            "base_url": server.root,
            "username": server.username,
            "password": server.password,
            "chunk_size": PAGE_CAP,
        }
        self.startup = self._ask(json.dumps(config))
        self.startup["spawn_to_ready_wall"] = time.perf_counter() - started

    def _ask(self, line: str) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            self.close()
            raise RuntimeError(f"Ralph's client process failed (log: {self._log.name})")
        result: dict[str, Any] = json.loads(answer)
        return result

    def read(self) -> Sample:
        got = self._ask("read")
        return Sample(
            statements=got["statements"],
            distinct=got["distinct"],
            duplicates=got["statements"] - got["distinct"],
            requests=got["requests"],
            digest=got["digest"],
            wall=got["wall"],
            cpu=got["cpu"],
            server_cpu=None,
        )

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()


class _Page(msgspec.Struct):
    statements: list[msgspec.Raw]


def parse_costs(stored: Path, repeats: int) -> dict[str, float]:
    """CPU µs per statement, offline, of the two steps of our reading, and of the steps they
    replaced: a page decoded (`msgspec`, each statement left as its text, as `LrsClient`
    does; before: to dicts with msgspec, and before that `json.loads`), then each statement
    read (`read_statement_json`; before: `read_statement`, and `Statement.model_validate`).

    Reads the statements as Ralph stored them (its JSON-lines file), joined into pages of
    PAGE_CAP as served, a page at a time (as a read holds them), keeping nothing. Medians of
    `repeats` passes.
    """
    lines = stored.read_bytes().splitlines()
    pages = [
        b'{"statements":[' + b",".join(lines[start : start + PAGE_CAP]) + b"]}"
        for start in range(0, len(lines), PAGE_CAP)
    ]
    decoder, texts = msgspec.json.Decoder(), msgspec.json.Decoder(_Page)
    steps: dict[str, tuple[Callable[[bytes], Any], Callable[[Any], Any]]] = {
        "ours": (lambda page: texts.decode(page).statements, read_statement_json),
        "dicts": (lambda page: decoder.decode(page)["statements"], read_statement),
        "before": (lambda page: json.loads(page)["statements"], Statement.model_validate),
    }
    spent: dict[str, list[float]] = {}
    for _ in range(max(1, repeats)):
        for name, (decode, read) in steps.items():
            decode_cpu = read_cpu = 0.0
            for page in pages:
                cpu = time.process_time()
                items = decode(page)
                decode_cpu += time.process_time() - cpu
                cpu = time.process_time()
                for item in items:
                    read(item)
                read_cpu += time.process_time() - cpu
            spent.setdefault(f"{name}_decode", []).append(decode_cpu)
            spent.setdefault(f"{name}_read", []).append(read_cpu)
    count = max(1, len(lines))
    return {key: statistics.median(cpus) / count * 1e6 for key, cpus in spent.items()}


def check(name: str, sample: Sample, n: int, expected: str) -> None:
    """Every statement exactly once, none unreadable (and, for the pull, all Completions)."""
    problems = []
    if (sample.statements, sample.distinct, sample.duplicates) != (n, n, 0):
        problems.append(
            f"read {sample.statements} ({sample.distinct} distinct, "
            f"{sample.duplicates} duplicates) of {n}"
        )
    if sample.digest != expected:
        problems.append("not the statements loaded")
    if sample.errors:
        problems.append(f"{sample.errors} unreadable")
    if sample.completions is not None and sample.completions != n:
        problems.append(f"{sample.completions} completions")
    if problems:
        raise RuntimeError(f"{name}: {'; '.join(problems)}")


def summarise(samples: list[Sample]) -> Figures:
    first = samples[0]
    counts = {(s.statements, s.distinct, s.duplicates, s.requests) for s in samples}
    if len(counts) != 1:
        raise RuntimeError(f"counts differ between repeats: {sorted(counts)}")
    servers = [s.server_cpu for s in samples if s.server_cpu is not None]
    return Figures(
        statements=first.statements,
        distinct=first.distinct,
        duplicates=first.duplicates,
        requests=first.requests,
        completions=first.completions,
        wall=statistics.median(s.wall for s in samples),
        cpu=statistics.median(s.cpu for s in samples),
        server_cpu=statistics.median(servers) if len(servers) == len(samples) else None,
        walls=[s.wall for s in samples],
        cpus=[s.cpu for s in samples],
    )


@contextmanager
def ralph_server(server: RalphServer | None) -> Iterator[tuple[RalphServer, Path]]:
    """The given server (emptied), or a fresh one in a temporary directory, stopped after."""
    with tempfile.TemporaryDirectory(prefix="bench-xapi-") as tmp:
        if server is not None:
            server.clear()
            if not server.running:
                server.start()
            yield server, Path(tmp)
            return
        fresh = start_ralph(Path(tmp) / "ralph")
        try:
            yield fresh, Path(tmp)
        finally:
            fresh.stop()


def measure(
    n: int, *, repeats: int = 3, warmup: bool = True, server: RalphServer | None = None
) -> Measurement:
    """Load `n` statements into Ralph, then read them all with each side (see module doc).

    `server`: an already running Ralph to use (it is emptied first); default: a fresh one.
    """
    statements = [logstore_statement(i) for i in range(n)]
    expected = digest(s["id"] for s in statements)
    modules = module_map()
    with ralph_server(server) as (lrs, tmp):
        session, statuses = counted_session()
        loader = LrsClient(lrs.endpoint, auth=lrs.auth, session=session, batch_size=LOAD_BATCH)
        started = time.perf_counter()
        loader.send_statements(statements)
        load_wall = time.perf_counter() - started
        session.close()
        del statements
        reader = RalphReader(lrs, tmp / "ralph-client.log")
        try:
            sides: dict[str, Callable[[], Sample]] = {
                OURS_PULL: lambda: pull_ours(lrs, modules),
                THEIRS: reader.read,
                OURS_RAW: lambda: read_ours(lrs),
            }
            samples: dict[str, list[Sample]] = {name: [] for name in sides}
            for round_ in range(repeats + (1 if warmup else 0)):
                for name, read in sides.items():
                    sample = timed(lrs, read)
                    check(name, sample, n, expected)
                    if round_ or not warmup:
                        samples[name].append(sample)
        finally:
            reader.close()
        parse_us = parse_costs(lrs.statements_file, repeats)
        return Measurement(
            n=n,
            repeats=repeats,
            load_wall=load_wall,
            load_requests=len(statuses),
            reader_startup=reader.startup,
            ralph_version=str(reader.startup.get("ralph", "unknown")),
            runs={name: summarise(runs) for name, runs in samples.items()},
            parse_us=parse_us,
        )


# --- the report -----------------------------------------------------------------------------


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}×" if theirs else "n/a"


def table(m: Measurement) -> str:
    head = (
        "| Side | Statements | Requests | Wall s | Statements/s | CPU µs/statement | "
        "Server CPU s |\n|---|---:|---:|---:|---:|---:|---:|\n"
    )
    rows = []
    for name, f in m.runs.items():
        server = f"{f.server_cpu:.2f}" if f.server_cpu is not None else "–"
        rows.append(
            f"| {LABELS[name]} | {f.statements:,} | {f.requests:,} | {f.wall:.2f} | "
            f"{f.rate:,.0f} | {f.cpu_us:,.0f} | {server} |"
        )
    return head + "\n".join(rows) + "\n"


def report(m: Measurement) -> str:
    pull, raw, theirs = m.runs[OURS_PULL], m.runs[OURS_RAW], m.runs[THEIRS]
    up = m.reader_startup
    load_rate = m.n / m.load_wall if m.load_wall else 0.0
    runs = f"{m.repeats} run{'s' if m.repeats != 1 else ''}"
    server = ""
    if theirs.server_cpu is not None and all(f.server_cpu is not None for f in m.runs.values()):
        server = (
            "Ralph's server CPU per read: "
            + ", ".join(f"{f.server_cpu or 0:.2f} s ({name})" for name, f in m.runs.items())
            + f"; for Ralph's client that is {theirs.server_cpu / theirs.wall:.0%} of its "
            "wall time."
        )
    pages = m.n // PAGE_CAP
    if m.n % PAGE_CAP:
        paging = f"{pages:,} full pages and a last one of {m.n % PAGE_CAP}"
    else:
        paging = (
            f"{pages:,} full pages, then an empty one: Ralph offers a `more` link after any "
            "full page, and both clients follow it"
        )
    lines = [
        f"Reading all {m.n:,} statements back from a real Ralph LRS (ralph-malph "
        f"{m.ralph_version}, filesystem backend, on 127.0.0.1) that was just loaded with "
        f"them: Logstore-xAPI-shaped module completions ({LEARNERS:,} learners, "
        f"{COURSES * MODULES_PER_COURSE} modules in {COURSES} courses, completion states "
        "0–3). Ours runs in this process; the reference is Ralph's own LRS client "
        f"(`LRSDataBackend.read(chunk_size={PAGE_CAP})`, httpx) in Ralph's venv, a process of "
        "its own reporting its own times. Every run builds its client afresh and must read "
        "each statement exactly once (checked by count, distinct ids and a digest of the ids). "
        f"Times are medians of {runs} per side after one warm-up each, interleaved "
        "(pull, Ralph's client, raw pages, ...). CPU is the client process's CPU time "
        "(`time.process_time`); Ralph's server is a third process.\n\n",
        table(m),
        "\n",
        "**Ratio (ours / Ralph's client), wall time:** "
        f"pull {ratio(pull.wall, theirs.wall)}, raw pages {ratio(raw.wall, theirs.wall)}. "
        f"**CPU per statement:** pull {ratio(pull.cpu_us, theirs.cpu_us)}, raw pages "
        f"{ratio(raw.cpu_us, theirs.cpu_us)} "
        f"({pull.cpu_us:,.0f} and {raw.cpu_us:,.0f} µs against {theirs.cpu_us:,.0f} µs). "
        f"{server}\n\n",
        f"Load (side figure): {m.n:,} statements in {m.load_requests:,} POST(s) of up to "
        f"{LOAD_BATCH:,} (`LrsClient.send_statements`) took {m.load_wall:.1f} s, "
        f"{load_rate:,.0f} statements/s.\n\n",
        "Notes:\n\n",
        "- Ralph's fs backend reads its JSON-lines file from the start on every request, up "
        "to the end of the page asked for (`search_after` is a scan), and caps pages at "
        f"{PAGE_CAP}: a full read costs the server time quadratic in the store size. That "
        "cost is identical for both clients (same server, same statements, same page size), "
        "so the wall-time ratio is meaningful; but the server's share pulls it towards 1. The "
        "client CPU per statement is the figure that tells the clients apart.\n",
        f"- Requests: {pull.requests:,} (pull), {raw.requests:,} (raw), {theirs.requests:,} "
        f"(Ralph's client) for {m.n:,} statements: {paging}. Duplicates: {pull.duplicates} "
        f"(pull), {raw.duplicates} (raw), {theirs.duplicates} (Ralph's client); statements "
        f"read: {pull.statements:,}, {raw.statements:,}, {theirs.statements:,}; Completions "
        f"from the pull: {pull.completions or 0:,}.\n",
        "- Not the same work per statement: ours checks every statement into typed msgspec "
        "Structs (pydantic only for one msgspec refuses), tracks ids to drop duplicates, and "
        "the pull maps each to a "
        "Completion (person, module, state) and sorts each page by time; Ralph's client checks "
        "only the page envelope (`statements` a list of dicts) and yields the dicts. Ours asks "
        "`ascending=true` (Ralph then reverses each page; the scan is the same); Ralph's "
        "client sends no order. Ours uses `requests`, theirs `httpx`, both keep-alive.\n",
        parse_note(m),
        "- Reference start-up, excluded from its row: spawn to ready "
        f"{up['spawn_to_ready_wall']:.2f} s wall (interpreter, imports "
        f"{up['import_wall']:.2f} s wall / {up['import_cpu']:.2f} s CPU, one backend built in "
        f"{up['construct_wall'] * 1000:.0f} ms). Each read still builds its backend, as each of "
        "ours builds its client.\n",
        "- Wall times of the repeats: "
        + "; ".join(
            f"{name} " + ", ".join(f"{w:.2f}" for w in f.walls) for name, f in m.runs.items()
        )
        + " s. The machine is shared; the ratios are what to compare across runs.\n",
        "- Per repeat (the sides interleaved, so repeat i of each ran side by side): "
        + "; ".join(
            f"{name} / Ralph's client CPU {_spread(m.runs[name].cpus, theirs.cpus)}, "
            f"wall {_spread(m.runs[name].walls, theirs.walls)}"
            for name in (OURS_PULL, OURS_RAW)
        )
        + ".\n",
    ]
    return "".join(lines)


def _spread(ours: list[float], theirs: list[float]) -> str:
    """The ratio of each repeat: median (min–max)."""
    ratios = [a / b for a, b in zip(ours, theirs, strict=True) if b]
    if not ratios:
        return "–"
    return f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f})"


def parse_note(m: Measurement) -> str:
    if not m.parse_us:
        return ""
    us = m.parse_us
    raw, pull = m.runs[OURS_RAW], m.runs[OURS_PULL]
    return (
        "- Where our CPU goes, measured offline on the statements as Ralph stored them, in "
        f"pages of {PAGE_CAP}, keeping nothing: cutting a page into statement texts with "
        f"msgspec {us['ours_decode']:,.1f} µs and `read_statement_json` {us['ours_read']:,.1f} "
        f"µs per statement (before: a page to dicts {us['dicts_decode']:,.1f} µs and "
        f"`read_statement` {us['dicts_read']:,.1f} µs; first of all `json.loads` "
        f"{us['before_decode']:,.1f} µs and `Statement.model_validate` "
        f"{us['before_read']:,.1f} µs). Offline, nothing stays alive long enough for the "
        "garbage collector to matter; in a pull it does: dicts are tracked, Structs "
        "(`gc=False`) and texts are not. The rest of the raw pages' "
        f"{raw.cpu_us:,.0f} µs is HTTP (`requests`) and paging, and the pull's extra "
        f"{pull.cpu_us - raw.cpu_us:,.0f} µs is mapping to Completions (one pydantic "
        "`Completion` each).\n"
    )


def run(scale: float) -> str:
    n = max(1, round(FULL_SCALE * scale))
    return report(measure(n))


if __name__ == "__main__":
    print(run(1.0))
