"""The ledger under load: a seeded story of completions and ticket changes, delivered out of
order and partly twice to `skillrelay serve --no-worker` receivers and `skillrelay worker`
processes sharing one PostgreSQL database, one worker killed with SIGKILL on the way; then
what the cluster ended with, compared with one worker deciding the same deliveries.

Shared by tests/test_ledger_processes.py (a few hundred deliveries) and bench/bench_ledger.py
(thousands). No tests here.

The story (`make_story`, seeded: the same arguments give the same deliveries):
- people matched by email complete modules of some skills (xAPI statements forwarded to
  POST /webhooks/xapi); some completions are withdrawn later (`uncompleted`), some voided
  (the voiding statement forwarded with the statement it voids, as an LRS forwards a page),
  and some of those completed again;
- tickets labelled with one skill (signed Jira Cloud webhooks to POST /webhooks/jira) go to
  In Progress and Done; many are reopened once or twice (Done -> Reopened -> Done), some
  resolved "Won't Do" or "Duplicate" and then "Done" (or the other way round), some assigned
  to someone else while open, some left reopened;
- about 30% of the deliveries are repeats (a Jira retry under the same delivery identifier,
  the same change under another identifier, a statement forwarded again), and the order is
  shuffled: mostly a little late, some very late.

The deliveries are paced, so that workers decide while the story unfolds. Half-way, a worker
is killed with SIGKILL while it holds claimed inbox events and in-flight effects, and another
starts in its place. The cluster is quiet once every inbox event is processed (those the
killed worker had claimed included) and no effect is pending or in flight.

What is compared (`compare`), all read back from the peers themselves:
1. the ledger's live awards (person, skill, ticket) -> state, against a single `worker
   --once` that decided the same deliveries in another database, and against the engine's
   verdicts on the cluster's whole inbox (`engine_from_inbox`). A `revoked` row is history
   (an award given and taken back, with its comments) and depends on when events arrived,
   so it counts as "no live award"; what must not depend on timing is which awards stand
   and in which state;
2. every comment posted to the recording Jira once (no `skillrelay ref` line twice), each
   one an outbox comment, and one comment for every change in each award's history;
3. every statement id the outbox sent stored once in Ralph, and Ralph's voiding statements
   matching the ledger: the current "earned" statement of a granted award not voided, every
   other "earned" statement of every award voided.
"""

from __future__ import annotations

import copy
import http.client
import itertools
import json
import random
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import psycopg
import requests

from connectors.local_lrs import RalphServer
from connectors.xapi_models import VERB_VOIDED
from connectors.xapi_statements import statement_id, voiding_statement
from plugin.demo.statements import COMPLETED, MODULE_TYPE, UNCOMPLETED
from plugin.effects.model import COMMENT, EARNED
from plugin.manifest import load_manifest
from plugin.replay import engine_from_inbox
from plugin.store import Store
from tests.test_service_support import (
    EXAMPLE,
    JIRA_SECRETS,
    WEBHOOKS,
    Child,
    FakeJira,
    child_env,
    launched,
    manifest_file,
    run_once,
)
from webhooks import create_app
from webhooks.signature import sign

Key = tuple[str, str, str]  # (person, skill, ticket key)

FORWARD_SECRET = "ledger-forward-secret"
JIRA_PATH, XAPI_PATH = "/webhooks/jira", "/webhooks/xapi"
DELIVERY_HEADER = "X-Atlassian-Webhook-Identifier"
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # sprint 2026-11-a starts that day
# (skill, the label a ticket shows it with, weight). Rewards from the example manifest.
SKILLS = (
    ("feature-flags", "skill-feature-flags", 3),  # points-50: granted at once
    ("secrets-handling", "skill-secrets", 3),  # skill-badge: granted at once
    ("sql-indexing", "skill-sql-indexing", 2),  # paid hour: approval, 6 a sprint
    ("api-contract-testing", "skill-api-contracts", 1),  # approval, 3 a sprint (PAY, RISK)
    ("accessible-ui", "skill-a11y", 1),  # masterclass seat: approval, 4 a quarter
)
ACTIVITIES = {
    skill.id: [m.xapi_activity for m in skill.modules if m.xapi_activity]
    for skill in EXAMPLE.skills
}
# Jira Cloud statuses: (id, name, category key, category id).
STATUS = {
    "open": ("1", "To Do", "new", 2),
    "progress": ("3", "In Progress", "indeterminate", 4),
    "done": ("10002", "Done", "done", 3),
    "reopened": ("4", "Reopened", "new", 2),
}
RESOLUTION_IDS = {"Done": "10000", "Won't Do": "10001", "Duplicate": "10002"}
EXCLUDED = ("Won't Do", "Duplicate")
LIVE = ("pending_approval", "approved", "fulfilled", "revocation_flagged")
GRANTED = ("approved", "fulfilled", "revocation_flagged")  # the "earned" statement was sent


# --- the story ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    email: str

    @property
    def account(self) -> str:
        return f"acct-{self.id}"

    @property
    def agent(self) -> dict[str, str]:
        return {"objectType": "Agent", "name": self.name, "mbox": f"mailto:{self.email}"}


@dataclass(frozen=True)
class Delivery:
    path: str
    body: bytes
    headers: dict[str, str]
    at: datetime  # when it happened (the order it would arrive in, were nothing late)
    what: str  # completion | uncompleted | voided | progress | done | reopened | assignee


@dataclass
class Story:
    people: list[Person]
    deliveries: list[Delivery]  # in sending order, repeats included
    distinct: int
    made: Counter[str]  # distinct deliveries by `what`, and tickets by fate

    @property
    def duplicates(self) -> int:
        return len(self.deliveries) - self.distinct


@dataclass
class TicketState:
    key: str
    id: str
    project: str
    label: str
    assignee: Person
    status: str = "open"
    resolution: str | None = None


JIRA_TEMPLATE: dict[str, Any] = json.loads(
    (WEBHOOKS / "cloud_issue_updated_status_done.json").read_text()
)


def jira_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def jira_body(t: TicketState, change_id: int, at: datetime, items: list[dict[str, Any]]) -> bytes:
    """A Jira Cloud `jira:issue_updated` webhook: the issue as it is after the change."""
    body = copy.deepcopy(JIRA_TEMPLATE)
    issue = body["issue"]
    fields = issue["fields"]
    status_id, status_name, category, category_id = STATUS[t.status]
    fields["status"].update(id=status_id, name=status_name)
    fields["status"]["statusCategory"].update(id=category_id, key=category, name=category)
    if t.resolution is None:
        fields["resolution"] = None
        fields["resolutiondate"] = None
    else:
        fields["resolution"] = {"id": RESOLUTION_IDS[t.resolution], "name": t.resolution}
        fields["resolutiondate"] = jira_time(at)
    for user in (body["user"], fields["assignee"], fields["reporter"]):
        user.update(
            accountId=t.assignee.account,
            displayName=t.assignee.name,
            emailAddress=t.assignee.email,
        )
    issue.update(key=t.key, id=t.id)
    fields["project"].update(key=t.project, name=t.project)
    fields.update(
        summary=f"Work on {t.key}",
        labels=[t.label],
        components=[],
        customfield_10050=None,
        updated=jira_time(at),
        statuscategorychangedate=jira_time(at),
    )
    body["timestamp"] = int(at.timestamp() * 1000)
    body["changelog"] = {"id": str(change_id), "items": items}
    return json.dumps(body).encode()


def jira_delivery(body: bytes, identifier: str, at: datetime, what: str) -> Delivery:
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature": sign(JIRA_SECRETS["JIRA_WEBHOOK_SECRET"], body),
        DELIVERY_HEADER: identifier,
    }
    return Delivery(JIRA_PATH, body, headers, at, what)


def xapi_delivery(data: Any, at: datetime, what: str) -> Delivery:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {FORWARD_SECRET}"}
    return Delivery(XAPI_PATH, json.dumps(data).encode(), headers, at, what)


def statement(person: Person, activity: str, verb: str, at: datetime) -> dict[str, Any]:
    """A module completion (or `uncompleted`) as an LRS forwards it, naming the learner by
    email."""
    found: dict[str, Any] = {
        "id": statement_id(f"ledger:{person.id}:{activity}:{verb}:{at.isoformat()}"),
        "actor": person.agent,
        "verb": {"id": verb, "display": {"en": verb.rsplit("/", 1)[-1]}},
        "object": {
            "id": activity,
            "objectType": "Activity",
            "definition": {"type": MODULE_TYPE},
        },
        "timestamp": at.isoformat(),
    }
    if verb == COMPLETED:
        found["result"] = {"completion": True}
    return found


def minutes(rng: random.Random, low: int, high: int) -> timedelta:
    return timedelta(minutes=rng.randrange(low, high))


def make_people(n: int) -> list[Person]:
    return [
        Person(f"lp-{i:03d}", f"Ledger Person {i}", f"lp-{i:03d}@ledger.example") for i in range(n)
    ]


def completions(rng: random.Random, people: list[Person], made: Counter[str]) -> list[Delivery]:
    found: list[Delivery] = []
    for person in people:
        for skill, _, _ in SKILLS:
            if rng.random() < 0.15:
                continue
            activity = rng.choice(ACTIVITIES[skill])
            at = START + minutes(rng, -7 * 24 * 60, 18 * 24 * 60)
            done = statement(person, activity, COMPLETED, at)
            found.append(xapi_delivery(done, at, "completion"))
            fate = rng.random()
            if fate < 0.12:  # withdrawn by the LMS later
                at += minutes(rng, 60, 5 * 24 * 60)
                found.append(
                    xapi_delivery(statement(person, activity, UNCOMPLETED, at), at, "uncompleted")
                )
            elif fate < 0.22:  # voided: the LRS forwards the voiding with what it voids
                at += minutes(rng, 60, 5 * 24 * 60)
                void = voiding_statement(
                    person.agent,
                    target_id=done["id"],
                    at=at,
                    natural_key=f"ledger:void:{done['id']}",
                )
                found.append(xapi_delivery([done, void], at, "voided"))
            else:
                continue
            if rng.random() < 0.5:  # and completed again
                at += minutes(rng, 60, 3 * 24 * 60)
                found.append(
                    xapi_delivery(statement(person, activity, COMPLETED, at), at, "completion")
                )
                made["completed_again"] += 1
    return found


class TicketWriter:
    """The Jira deliveries of one ticket's life, each carrying the issue as it is after the
    change (as Jira sends them)."""

    def __init__(self, rng: random.Random, people: list[Person], made: Counter[str]) -> None:
        self.rng, self.people, self.made = rng, people, made
        self.change_ids = itertools.count(700_001)
        self.found: list[Delivery] = []

    def change(
        self, t: TicketState, at: datetime, what: str, status: str | None = None,
        resolution: str | None = None, assignee: Person | None = None,
    ) -> None:  # fmt: skip
        items: list[dict[str, Any]] = []
        if status is not None and status != t.status:
            (old, old_name, _, _), (new, new_name, _, _) = STATUS[t.status], STATUS[status]
            if resolution != t.resolution:
                items.append(item("resolution", t.resolution, resolution))
                t.resolution = resolution
            items.append(item("status", old, new, old_name, new_name))
            t.status = status
        if assignee is not None:
            old_person = t.assignee
            items.append(
                item(
                    "assignee", old_person.account, assignee.account, old_person.name, assignee.name
                )
            )
            t.assignee = assignee
        change_id = next(self.change_ids)
        body = jira_body(t, change_id, at, items)
        self.found.append(jira_delivery(body, f"ledger-{change_id}", at, what))

    def reassign(self, t: TicketState, at: datetime) -> None:
        other = self.rng.choice([p for p in self.people if p != t.assignee])
        self.change(t, at, "assignee", assignee=other)

    def ticket(self, n: int) -> None:
        rng, made = self.rng, self.made
        _, labels, weights = zip(*SKILLS, strict=True)
        project = rng.choices(("PAY", "RISK", "WEB"), (6, 3, 1))[0]
        label = rng.choices(labels, weights)[0]
        t = TicketState(
            f"{project}-{1000 + n}", str(900_000 + n), project, label, rng.choice(self.people)
        )
        at = START + timedelta(days=1) + minutes(rng, 0, 25 * 24 * 60)
        if rng.random() < 0.95:
            self.change(t, at, "progress", "progress")
        if rng.random() < 0.1:
            at += minutes(rng, 10, 600)
            self.reassign(t, at)
        at += minutes(rng, 5, 25) if rng.random() < 0.05 else minutes(rng, 45, 3 * 24 * 60)
        first = rng.choices(("Done", "Won't Do", "Duplicate"), (75, 15, 10))[0]
        self.change(t, at, "done", "done", first)
        made["excluded_first"] += first in EXCLUDED
        cycles = rng.choices((0, 1, 2), (25, 55, 20) if first in EXCLUDED else (60, 28, 12))[0]
        for _ in range(cycles):
            at += minutes(rng, 60, 2 * 24 * 60)
            self.change(t, at, "reopened", "reopened", None)
            made["reopen_cycles"] += 1
            if rng.random() < 0.3:
                at += minutes(rng, 10, 600)
                self.reassign(t, at)
            if rng.random() < 0.12:
                made["left_reopened"] += 1
                break
            at += minutes(rng, 60, 2 * 24 * 60)
            self.change(t, at, "done", "done", "Done" if rng.random() < 0.8 else "Won't Do")
        made["tickets"] += 1


def ticket_deliveries(
    rng: random.Random, people: list[Person], n: int, made: Counter[str]
) -> list[Delivery]:
    writer = TicketWriter(rng, people, made)
    for i in range(n):
        writer.ticket(i)
    return writer.found


def item(
    name: str, old: str | None, new: str | None, old_text: str | None = None,
    new_text: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "field": name,
        "fieldtype": "jira",
        "fieldId": name,
        "from": old,
        "fromString": old_text if old_text is not None else old,
        "to": new,
        "toString": new_text if new_text is not None else new,
    }


def make_story(*, seed: int, people: int, tickets: int, duplicates: float = 0.3) -> Story:
    rng = random.Random(seed)
    persons = make_people(people)
    made: Counter[str] = Counter()
    originals = completions(rng, persons, made) + ticket_deliveries(rng, persons, tickets, made)
    for d in originals:
        made[d.what] += 1
    # Repeats: a Jira retry keeps its delivery identifier; the same change sent again by
    # another webhook gets a new one; a statement is forwarded again as it was.
    extra = round(len(originals) * duplicates / (1 - duplicates))
    repeats: list[Delivery] = []
    for n in range(extra):
        d = rng.choice(originals)
        if d.path == JIRA_PATH and rng.random() < 0.5:
            d = replace(
                d, headers={**d.headers, DELIVERY_HEADER: f"{d.headers[DELIVERY_HEADER]}-again-{n}"}
            )
        repeats.append(d)
    # Out of order: in time order, each one a little late (up to a tenth of the story), one
    # in ten very late, repeats anywhere.
    ordered = sorted(originals, key=lambda d: d.at)
    window = max(20, len(ordered) // 10)
    placed = [
        (rng.uniform(0, len(ordered)) if rng.random() < 0.1 else i + rng.uniform(0, window), d)
        for i, d in enumerate(ordered)
    ]
    placed += [(rng.uniform(0, len(ordered)), d) for d in repeats]
    placed.sort(key=lambda pair: pair[0])
    return Story(persons, [d for _, d in placed], len(originals), made)


# --- the cluster ----------------------------------------------------------------------------------


def write_manifest(folder: Path, *, jira: str, lrs: str, people: Sequence[Person]) -> Path:
    """The example manifest (Jira and the LRS on 127.0.0.1, no Moodle) with `people` added,
    matched by email."""
    path = manifest_file(folder, jira=jira, lrs=lrs)
    text, anchor = path.read_text(), "  people:\n"
    assert anchor in text, "the example manifest changed: no people list"
    added = "".join(
        f"    - id: {p.id}\n      name: {p.name}\n      email: {p.email}\n" for p in people
    )
    path.write_text(text.replace(anchor, anchor + added, 1))
    return path


def service_env(database: str, manifest: Path, ralph: RalphServer) -> dict[str, str]:
    user, password = ralph.auth
    return child_env(
        database,
        manifest,
        JIRA_API_TOKEN="jira-token",
        LRS_USERNAME=user,
        LRS_PASSWORD=password,
        LRS_FORWARD_SECRET=FORWARD_SECRET,
        **JIRA_SECRETS,
    )


def rows(database: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(database.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def send(
    deliveries: Sequence[Delivery], urls: Sequence[str], *, rate: float, clients: int = 4
) -> list[str]:
    """POST delivery i to receiver i % len(urls), `i / rate` seconds from now or as soon as
    one of `clients` threads (a keep-alive connection per receiver each) is free; what was
    not answered 200. Paced, so that workers decide while the story unfolds: awards are given,
    taken back and given again, rather than decided once at the end."""
    began = time.monotonic()
    failures: list[str] = []
    lock = threading.Lock()
    indices = iter(range(len(deliveries)))  # shared: each delivery is taken once
    where = [urlsplit(url) for url in urls]

    def post(
        conns: dict[int, http.client.HTTPConnection], r: int, d: Delivery
    ) -> tuple[int, bytes]:
        for attempt in range(3):  # a keep-alive connection the server closed: once more
            conn = conns.get(r)
            if conn is None:
                conn = conns[r] = http.client.HTTPConnection(
                    where[r].hostname or "127.0.0.1", where[r].port or 80, timeout=60
                )
            try:
                conn.request("POST", d.path, body=d.body, headers=d.headers)
                answer = conn.getresponse()
                return answer.status, answer.read()
            except (OSError, http.client.HTTPException) as exc:
                conns.pop(r).close()
                if attempt == 2:
                    return 0, repr(exc).encode()
        raise AssertionError("unreachable")

    def run() -> None:
        conns: dict[int, http.client.HTTPConnection] = {}
        try:
            for i in indices:
                wait = began + i / rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                d, r = deliveries[i], i % len(urls)
                status, data = post(conns, r, d)
                if status != 200:
                    with lock:
                        failures.append(
                            f"delivery {i} ({d.what}) to {urls[r]}: {status} {data[:300]!r}"
                        )
        finally:
            for conn in conns.values():
                conn.close()

    threads = [threading.Thread(target=run, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
        if thread.is_alive():
            failures.append("a sender thread did not finish in 600 s")
    return failures


@dataclass(frozen=True)
class Killed:
    worker: str
    in_flight: int  # outbox effects it held when killed
    inbox_claims: int  # inbox events it held, leased to nobody else until the lease lapses


WORKER_ARGS = ["worker", "--poll", "0.2", "--lease", "5", "--batch", "25", "--retry-base", "0.2"]


@dataclass
class Cluster:
    env: dict[str, str]
    folder: Path
    stack: ExitStack
    receivers: list[Child] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    workers: dict[str, Child] = field(default_factory=dict)
    killed: list[str] = field(default_factory=list)
    exits: dict[str, int | None] = field(default_factory=dict)

    def start_receiver(self) -> None:
        name = f"r{len(self.receivers) + 1}"
        args = ["serve", "--no-worker", "--no-sync", "--port", "0", "--threads", "4", "--id", name]
        self.receivers.append(self._launch(name, args))

    def start_worker(self) -> str:
        name = f"w{len(self.workers) + 1}"
        self.workers[name] = self._launch(name, [*WORKER_ARGS, "--id", name])
        return name

    def _launch(self, name: str, args: list[str]) -> Child:
        return self.stack.enter_context(launched(args, self.env, self.folder / f"{name}.log"))

    def children(self) -> dict[str, Child]:
        return {**{f"r{i + 1}": c for i, c in enumerate(self.receivers)}, **self.workers}

    def crashed(self) -> list[str]:
        """Children that exited on their own (not the ones killed on purpose)."""
        return [
            f"{name} exited {child.process.returncode} during the run:\n{child.log[-3000:]}"
            for name, child in self.children().items()
            if name not in self.killed and child.process.poll() is not None
        ]

    def kill_one_mid_delivery(self, database: str, jira: FakeJira, timeout: float = 30.0) -> Killed:
        """SIGKILL a worker while it holds both in-flight effects and claimed inbox events,
        with a comment on its way to Jira (Jira answers comments slowly meanwhile). To tell
        what it holds, a candidate is frozen (SIGSTOP) and looked at; one that holds too
        little goes on (SIGCONT). Call it while deliveries are arriving."""
        jira.state.comment_delay = 0.25
        jira.state.posting.clear()
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if jira.state.posting.is_set():
                    for name, _ in holders(database, IN_FLIGHT, self.killed):
                        process = self.workers[name].process
                        process.send_signal(signal.SIGSTOP)
                        held = Killed(name, *holding(database, name))
                        if held.in_flight and held.inbox_claims:
                            return self._kill(name, held)
                        process.send_signal(signal.SIGCONT)
                time.sleep(0.01)
            # Nothing held both for that long: the one with the most effects in flight.
            found = holders(database, IN_FLIGHT, self.killed) or [(self._alive()[0], 0)]
            name = found[0][0]
            self.workers[name].process.send_signal(signal.SIGSTOP)
            return self._kill(name, Killed(name, *holding(database, name)))
        finally:
            jira.state.comment_delay = 0.0

    def _alive(self) -> list[str]:
        return [w for w in self.workers if w not in self.killed]

    def _kill(self, name: str, held: Killed) -> Killed:
        process = self.workers[name].process
        process.kill()
        process.wait(10)
        self.killed.append(name)
        return held

    def stop(self) -> None:
        """SIGTERM every child still running; their exit codes in `exits`."""
        for name, child in self.children().items():
            if child.process.poll() is None:
                try:
                    self.exits[name], _ = child.terminate(20)
                except Exception:  # recorded; `launched` kills it
                    self.exits[name] = None
            elif name not in self.killed:
                self.exits[name] = child.process.returncode

    def logs(self, tail: int = 2000) -> str:
        return "\n".join(
            f"--- {name}\n{child.log[-tail:]}" for name, child in self.children().items()
        )


IN_FLIGHT = "SELECT claimed_by, count(*) FROM outbox WHERE status = 'in_flight' GROUP BY claimed_by"
CLAIMED = "SELECT claimed_by, claimed_until FROM inbox WHERE status = 'new' AND claimed_by = %s"


def holders(database: str, sql: str, killed: Sequence[str]) -> list[tuple[str, int]]:
    """(worker, rows it holds), most first, of the workers not killed."""
    found = [(w, n) for w, n in rows(database, sql) if w and w not in killed]
    return sorted(found, key=lambda pair: -pair[1])


def holding(database: str, worker: str) -> tuple[int, int]:
    """(effects in flight, inbox events claimed and still leased) of `worker`."""
    effects = dict(rows(database, IN_FLIGHT)).get(worker, 0)
    now = datetime.now(UTC)
    claims = sum(1 for _, until in rows(database, CLAIMED, (worker,)) if until and until > now)
    return effects, claims


@contextmanager
def cluster(
    database: str, manifest: Path, ralph: RalphServer, folder: Path, *, receivers: int, workers: int
) -> Iterator[Cluster]:
    """`receivers` x `serve --no-worker` and `workers` x `worker` on `database`; every child
    is killed when the block ends, whatever happened."""
    with ExitStack() as stack:
        found = Cluster(service_env(database, manifest, ralph), folder, stack)
        for _ in range(receivers):
            found.start_receiver()
        for child in found.receivers:
            found.urls.append(
                child.wait_for(r"listening on (http://127\.0\.0\.1:\d+)", 60).group(1)
            )
        for _ in range(workers):
            found.start_worker()
        yield found


@dataclass(frozen=True)
class Quiet:
    reached: bool
    seconds: float  # from the last delivery sent
    left: str = ""  # what was still to do when the wait gave up


def wait_quiet(database: str, killed: Sequence[str], timeout: float) -> Quiet:
    """Until every inbox event is processed and no effect is pending or in flight, twice in a
    row half a second apart. Events the killed worker had claimed count: a lease that keeps
    them from everyone else for long keeps the cluster from being quiet."""
    began = time.monotonic()
    calm = 0
    while True:
        waiting = rows(database, "SELECT claimed_by, status FROM inbox WHERE status <> 'processed'")
        busy = dict(rows(database, "SELECT status, count(*) FROM outbox GROUP BY status"))
        if not waiting and busy.get("pending", 0) + busy.get("in_flight", 0) == 0:
            calm += 1
            if calm == 2:
                return Quiet(True, time.monotonic() - began)
        else:
            calm = 0
        if time.monotonic() - began > timeout:
            held = Counter(
                f"{status}, claimed by {by}{' (killed)' if by in killed else ''}"
                for by, status in waiting
            )
            left = f"inbox events not processed: {dict(held)}; outbox {busy}"
            return Quiet(False, time.monotonic() - began, left)
        time.sleep(0.5)


# --- one worker on the same deliveries ------------------------------------------------------------


def feed(store: Store, manifest: Path, ralph: RalphServer, deliveries: Sequence[Delivery]) -> None:
    """The same deliveries, in the same order, through the webhook app in this process."""
    user, password = ralph.auth
    env = {
        **JIRA_SECRETS,
        "LRS_FORWARD_SECRET": FORWARD_SECRET,
        "LRS_USERNAME": user,
        "LRS_PASSWORD": password,
    }
    app = create_app({"TESTING": True}, store=store, manifest=load_manifest(manifest), env=env)
    client = app.test_client()
    for i, d in enumerate(deliveries):
        answer = client.post(d.path, data=d.body, headers=d.headers)
        assert answer.status_code == 200, f"delivery {i} ({d.what}): {answer.json}"


# --- what the cluster ended with ------------------------------------------------------------------


@dataclass
class Findings:
    ledger: list[str] = field(default_factory=list)  # live awards: cluster vs one worker
    engine: list[str] = field(default_factory=list)  # live awards: cluster vs the engine
    comments: list[str] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)  # sent once, stored once
    voided: list[str] = field(default_factory=list)  # Ralph's voiding vs the ledger
    leftovers: list[str] = field(default_factory=list)  # failed deliveries, dead effects...
    figures: dict[str, int] = field(default_factory=dict)
    verdicts: Counter[str] = field(default_factory=Counter)  # the engine's, by reason

    SECTIONS = (
        ("ledger", "live awards, cluster vs one worker on the same deliveries"),
        ("engine", "live awards, cluster vs the engine's verdicts on the whole inbox"),
        ("comments", "Jira comments"),
        ("statements", "statements sent vs stored in Ralph"),
        ("voided", "voided state in Ralph vs the ledger"),
        ("leftovers", "deliveries refused, effects not done, processes that died"),
    )

    @property
    def mismatches(self) -> int:
        return sum(len(getattr(self, name)) for name, _ in self.SECTIONS)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name, _ in self.SECTIONS}

    def report(self, first: int = 10) -> str:
        lines = [f"{self.mismatches} mismatch(es): {self.counts()}", f"figures: {self.figures}"]
        for name, title in self.SECTIONS:
            found: list[str] = getattr(self, name)
            if found:
                lines.append(f"{title}: {len(found)}, the first {min(first, len(found))}:")
                lines += [f"  {line}" for line in found[:first]]
        return "\n".join(lines)


def who(key: Key) -> str:
    return "/".join(key)


def award_id_of(idempotency_key: str) -> int | None:
    head = idempotency_key.split(":", 1)[0]
    return int(head) if head.isdigit() else None


def ralph_statements(ralph: RalphServer) -> list[dict[str, Any]]:
    """Every statement Ralph holds, voided or not, repeats included (GET /statements and its
    `more` links; no client-side de-duplication)."""
    found: list[dict[str, Any]] = []
    with requests.Session() as session:
        session.auth = ralph.auth
        session.headers["X-Experience-API-Version"] = "1.0.3"
        url: str | None = urljoin(ralph.endpoint, "statements")
        params: dict[str, str] | None = {"limit": "500", "ascending": "true"}
        for _ in range(10_000):
            if url is None:
                return found
            answer = session.get(url, params=params, timeout=120)
            answer.raise_for_status()
            body = answer.json()
            found += body["statements"]
            more = body.get("more")
            url, params = (urljoin(ralph.root, more), None) if more else (None, None)
    raise AssertionError("Ralph's `more` links did not end after 10,000 pages")


def compare(
    store: Store, one: Store, manifest: Path, jira: FakeJira, ralph: RalphServer
) -> Findings:
    found = Findings()
    awards = store.awards.list()
    cluster_all = {(a.person_id, a.skill_id, a.ticket_key): a.state for a in awards}
    one_all = {(a.person_id, a.skill_id, a.ticket_key): a.state for a in one.awards.list()}
    engine, _ = engine_from_inbox(store, load_manifest(manifest))
    reasons = {d.key: d.reason for d in engine.decisions()}
    expected = {
        (d.person or "", d.skill or "", d.ticket): "pending_approval" if d.approval else "approved"
        for d in engine.awards()
    }

    def live(states: dict[Key, str]) -> dict[Key, str]:
        return {k: s for k, s in states.items() if s in LIVE}

    def line(key: Key) -> str:
        return (
            f"{who(key)}: cluster {cluster_all.get(key, 'none')}, one worker "
            f"{one_all.get(key, 'none')}, engine {expected.get(key) or reasons.get(key, 'none')}"
        )

    cluster_live, one_live = live(cluster_all), live(one_all)
    for key in sorted(cluster_live.keys() | one_live.keys()):
        if cluster_live.get(key) != one_live.get(key):
            found.ledger.append(line(key))
    for key in sorted(cluster_live.keys() | expected.keys()):
        if cluster_live.get(key) != expected.get(key):
            found.engine.append(line(key))
    cluster_events = Counter(store.inbox.count_by_status())
    one_events = Counter(one.inbox.count_by_status())
    if sum(cluster_events.values()) != sum(one_events.values()):
        found.leftovers.append(
            f"inbox rows: cluster {dict(cluster_events)}, one worker {dict(one_events)}"
        )
    for status in ("failed", "deferred"):
        if cluster_events[status]:
            found.leftovers.append(f"{cluster_events[status]} inbox event(s) {status}")

    # 2. Jira: each comment posted once, each an outbox comment; a comment per award change.
    items = sorted(store.outbox.list(limit=10_000_000), key=lambda i: i.id)
    for i in items:
        if i.status != "done":
            found.leftovers.append(
                f"outbox {i.idempotency_key}: {i.status} after {i.attempts} attempt(s): "
                f"{i.last_error}"
            )
    refs = jira.state.refs
    queued = {i.idempotency_key: i for i in items if i.action == COMMENT}
    for key, n in sorted(refs.items()):
        if n > 1:
            found.comments.append(f"{key}: posted {n} times")
        if key not in queued:
            found.comments.append(f"{key}: posted, but the outbox has no such comment")
    for key, i in queued.items():
        if key not in refs:
            found.comments.append(f"{key}: never posted (outbox: {i.status})")
    comments_of = Counter(award_id_of(key) for key in queued)
    history = {a.id: store.awards.events(a.id) for a in awards}
    for a in awards:
        changes = history[a.id]
        if comments_of[a.id] != len(changes):
            path = " -> ".join(e.to_state for e in changes)
            found.comments.append(
                f"{who((a.person_id, a.skill_id, a.ticket_key))} (award {a.id}): "
                f"{len(changes)} change(s) ({path}), {comments_of[a.id]} comment(s)"
            )

    # 3. Ralph: what was sent is stored once; voided exactly where the ledger says.
    stored = ralph_statements(ralph)
    ids = Counter(s["id"] for s in stored)
    lrs = [i for i in items if i.target == "lrs"]
    sent = {i.payload["statement"]["id"] for i in lrs if i.status == "done"}
    every = {i.payload["statement"]["id"] for i in lrs}
    for sid in sorted(sent):
        if ids[sid] != 1:
            found.statements.append(f"{sid}: sent, stored {ids[sid]} time(s)")
    for sid in sorted(ids.keys() - every):
        found.statements.append(f"{sid}: in Ralph, but no outbox effect has it")
    voided = {
        s["object"]["id"]
        for s in stored
        if s["verb"]["id"] == VERB_VOIDED and s["object"].get("objectType") == "StatementRef"
    }
    earned: dict[int | None, list[str]] = defaultdict(list)
    for i in lrs:
        sid = i.payload["statement"]["id"]
        if i.action == EARNED and sid not in earned[award_id_of(i.idempotency_key)]:
            earned[award_id_of(i.idempotency_key)].append(sid)
    for a in awards:
        key, mine = (a.person_id, a.skill_id, a.ticket_key), earned.get(a.id, [])
        if a.state in GRANTED:
            if not mine:
                found.voided.append(f"{who(key)} ({a.state}): no earned statement was sent")
                continue
            current, earlier = mine[-1], mine[:-1]
            if current in voided:
                found.voided.append(
                    f"{who(key)} ({a.state}): its earned statement {current} is voided"
                )
        else:
            earlier = mine
        for sid in earlier:
            if sid not in voided:
                found.voided.append(f"{who(key)} ({a.state}): earned statement {sid} is not voided")

    found.verdicts = Counter(reasons.values())
    changes_all = [e for events in history.values() for e in events]
    found.figures = {
        "inbox_rows": sum(cluster_events.values()),
        "awards": len(awards),
        "live_awards": len(cluster_live),
        "granted_awards": sum(1 for a in awards if a.state in GRANTED),
        "revoked_awards": sum(1 for a in awards if a.state == "revoked"),
        "restored_awards": len({e.award_id for e in changes_all if e.from_state == "revoked"}),
        "award_changes": len(changes_all),
        "one_worker_awards": len(one_all),
        "engine_awards": len(expected),
        "comments_posted": sum(refs.values()),
        "effects": len(items),
        "statements_in_ralph": len(stored),
        "earned_sent": sum(len(v) for v in earned.values()),
        "voiding_in_ralph": len(voided),
    }
    return found


# --- the whole run --------------------------------------------------------------------------------


@dataclass
class Outcome:
    findings: Findings
    killed: Killed
    quiet: Quiet
    seconds: dict[str, float]
    logs: str


def run_story(
    story: Story,
    *,
    database: str,
    one_worker_database: str,
    folder: Path,
    jira: FakeJira,
    ralph: RalphServer,
    receivers: int = 2,
    workers: int = 3,
    rate: float = 60.0,
    quiet_timeout: float = 60.0,
    one_worker_timeout: float = 60.0,
) -> Outcome:
    """Deliver `story` to the cluster, `rate` deliveries a second (a worker SIGKILLed
    half-way, another started in its place), wait until it is quiet, let one worker decide
    the same deliveries in `one_worker_database`, and compare. Both databases must be empty
    and migrated."""
    manifest = write_manifest(folder, jira=jira.url, lrs=ralph.endpoint, people=story.people)
    seconds: dict[str, float] = {}
    half = len(story.deliveries) // 2
    began = time.monotonic()
    with cluster(database, manifest, ralph, folder, receivers=receivers, workers=workers) as c:
        seconds["start"] = time.monotonic() - began
        failures = send(story.deliveries[:half], c.urls, rate=rate)
        rest = threading.Thread(
            target=lambda: failures.extend(send(story.deliveries[half:], c.urls, rate=rate)),
            daemon=True,
        )
        rest.start()  # the kill comes while these arrive
        try:
            killed = c.kill_one_mid_delivery(database, jira)
            c.start_worker()  # in its place, under a new name
        finally:
            rest.join(900)
        seconds["send"] = time.monotonic() - began - seconds["start"]
        quiet = wait_quiet(database, c.killed, quiet_timeout)
        if not quiet.reached:
            failures.append(f"not quiet {quiet_timeout:g} s after the last delivery: {quiet.left}")
        failures += c.crashed()
        c.stop()
        failures += [
            f"{name} exited {code} after SIGTERM" for name, code in c.exits.items() if code != 0
        ]
        logs = c.logs()
    mark = time.monotonic()
    with Store.open(database) as store, Store.open(one_worker_database) as one:
        feed(one, manifest, ralph, story.deliveries)
        env = service_env(one_worker_database, manifest, ralph)
        run_once(["worker", "--once", "--pipeline-only", "--id", "one"], env, one_worker_timeout)
        seconds["one_worker"] = time.monotonic() - mark
        findings = compare(store, one, manifest, jira, ralph)
    findings.leftovers = failures + findings.leftovers
    seconds["total"] = time.monotonic() - began
    return Outcome(findings, killed, quiet, seconds, logs)
