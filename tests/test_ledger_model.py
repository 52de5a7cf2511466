"""The ledger is a function of the events: a stateful property test over several workers.

1 to 4 workers, each with its own engine, share one store (SQLite and the real PostgreSQL).
Hypothesis interleaves arrivals (completions and withdrawals; tickets started, done with
changing resolutions and assignees, reopened, done again; duplicates; any order), runs of
any worker, workers killed after a claim or in the middle of a transaction, workers left
behind for a while, managers' actions, and faults fixed with the events they set aside
given back. Whenever everything stored has been decided:

- the ledger equals the pure evaluation of all the events (one engine reading the whole
  inbox at once) plus what managers did;
- the outbox holds exactly the effects of the award history, each cycle's once;
- an LRS that took every queued statement (voiding included) shows each award's "earned"
  statement live exactly when the award is granted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from connectors.xapi_models import VERB_VOIDED
from connectors.xapi_statements import VERB_EARNED
from plugin.domain import Completion, CompletionState, PersonRef, TicketTransition
from plugin.effects import AwardChange, ChangeEvent, effects_for
from plugin.engine import Engine
from plugin.errors import ConfigError
from plugin.pipeline import Pipeline
from plugin.pipeline.reconcile import ENGINE_ACTOR
from plugin.replay import EVENT, engine_from_inbox
from plugin.store import Award, AwardEvent, InvalidTransition, Store
from plugin.store.identities import Identities
from tests.test_pipeline_support import (
    FLAGS,
    JIRA,
    NOW,
    SQL,
    T0,
    completion,
    manifest_with,
    move,
    ticket,
)

MANIFEST = manifest_with(per_sprint=1)  # the paid hour: one a sprint, approval needed
PEOPLE = ["ben.carter", "chloe.nguyen", "diego.ramirez"]
TICKETS = {"PAY-1": SQL, "PAY-2": SQL, "PAY-3": SQL, "PAY-4": FLAGS}
RESOLUTIONS = ["Done", "Done", "Won't Do"]
DAY = T0 + timedelta(days=1)
LIVE = ("pending_approval", "approved", "fulfilled", "revocation_flagged")
GRANTED = ("approved", "fulfilled", "revocation_flagged")
Event = Completion | TicketTransition


class Killed(BaseException):
    """A process killed mid-transaction: not an error of any event, never set aside."""


POISON_KEY = "BAD-"
POISON_ID = "acc-poison-"
POISON_STATUS = "Poison "
FIXED: set[str] = set()  # poison keys and assignee ids whose fault was fixed: taken now


def poisoned_key(key: str) -> bool:
    return key.startswith(POISON_KEY) and key not in FIXED


def poisoned_id(external_id: str) -> bool:
    return external_id.startswith(POISON_ID) and external_id not in FIXED


def poisoned_status(status: str | None) -> bool:
    return bool(status and status.startswith(POISON_STATUS) and status not in FIXED)


def is_poison(event: Event) -> bool:
    if not isinstance(event, TicketTransition):
        return False
    assignee = event.ticket.assignee
    return (
        poisoned_key(event.ticket.key)
        or poisoned_status(event.to_status)
        or bool(assignee and poisoned_id(assignee.id))
    )


@pytest.fixture
def poisons(monkeypatch: pytest.MonkeyPatch) -> None:
    """Engines refuse BAD- tickets and moves to a poison status; the identities store
    refuses the poison assignees; until the fault is FIXED."""
    add, record = Engine.add, Identities.record

    def engine_add(self: Engine, event: Event) -> Any:
        if isinstance(event, TicketTransition) and (
            poisoned_key(event.ticket.key) or poisoned_status(event.to_status)
        ):
            raise ValueError(f"no engine takes {event.ticket.key} to {event.to_status}")
        return add(self, event)

    def identities_record(self: Identities, sightings: Any, **kw: Any) -> None:
        sightings = list(sightings)
        if any(poisoned_id(s.external_id) for s in sightings):
            raise ValueError("an assignee no store takes")
        record(self, sightings, **kw)

    monkeypatch.setattr(Engine, "add", engine_add)
    monkeypatch.setattr(Identities, "record", identities_record)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class LedgerMachine(RuleBasedStateMachine):
    url: str = ""

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.feeder = Store.open(self.url, clock=self.clock)
        self.stores: list[Store] = []
        self.workers: list[Pipeline] = []
        self.sent: list[Event] = []
        self.waiting: list[Event] = []  # made, not delivered yet
        self.dirty = False  # something arrived or changed since the last check
        self.cursor: dict[str, datetime] = {}  # ticket -> when its next step happens
        self.poisoned = 0
        FIXED.clear()

    @initialize(count=st.integers(1, 4))
    def start(self, count: int) -> None:
        for i in range(count):
            store = Store.open(self.url, clock=self.clock)
            self.stores.append(store)
            self.workers.append(self._worker(store, i))

    def _worker(self, store: Store, i: int) -> Pipeline:
        return Pipeline(store, MANIFEST, worker_id=f"w{i}", jira_base_url=JIRA, clock=self.clock)

    def teardown(self) -> None:
        for store in [self.feeder, *self.stores]:
            store.close()

    # Arrivals: events are made in the order things happen and delivered in any order.
    def _put(self, event: Event) -> None:
        self.sent.append(event)
        self.dirty = True
        self.feeder.inbox.add(
            event.source, event.kind, event.natural_key, event.model_dump(mode="json")
        )

    @rule(
        person=st.sampled_from(PEOPLE),
        module=st.sampled_from([SQL, FLAGS]),
        hours=st.integers(-24, 30),
        withdrawn=st.sampled_from([False, False, False, True]),
    )
    def learn(self, person: str, module: str, hours: int, withdrawn: bool) -> None:
        state = CompletionState.INCOMPLETE if withdrawn else CompletionState.COMPLETE
        self.waiting.append(completion(person, module, T0 + timedelta(hours=hours), state))

    @rule(key=st.sampled_from(sorted(TICKETS)), person=st.sampled_from(PEOPLE))
    def learn_for(self, key: str, person: str) -> None:
        """The person completes the module the ticket needs, before any ticket is done."""
        self.waiting.append(completion(person, TICKETS[key], T0))

    @rule(
        key=st.sampled_from(sorted(TICKETS)),
        person=st.sampled_from(PEOPLE),
        resolution=st.sampled_from(RESOLUTIONS),
        minutes=st.sampled_from([10, 60, 90]),
    )
    def work(self, key: str, person: str, resolution: str, minutes: int) -> None:
        """The ticket is started (again) and done `minutes` later."""
        t = ticket(key, person, TICKETS[key]).model_copy(update={"resolution": resolution})
        at = self._next(key)
        self.waiting.append(move(t, "new", "indeterminate", at))
        self.waiting.append(move(t, "indeterminate", "done", at + timedelta(minutes=minutes)))

    @rule(key=st.sampled_from(sorted(TICKETS)), person=st.sampled_from(PEOPLE))
    def reopen(self, key: str, person: str) -> None:
        t = ticket(key, person, TICKETS[key])
        self.waiting.append(move(t, "done", "indeterminate", self._next(key)))

    def _next(self, key: str) -> datetime:
        """When the ticket's next step happens: tickets start 20 minutes apart."""
        at = self.cursor.get(key, DAY + timedelta(minutes=20 * int(key[-1])))
        self.cursor[key] = at + timedelta(hours=2)
        return at

    @rule(
        key=st.sampled_from(sorted(TICKETS)),
        person=st.sampled_from(PEOPLE),
        resolution=st.sampled_from(RESOLUTIONS),
    )
    def story(self, key: str, person: str, resolution: str) -> None:
        """The person learns what the ticket needs, then works it to done."""
        self.learn_for(key, person)
        self.work(key, person, resolution, minutes=60)

    @rule(person=st.sampled_from(PEOPLE), where=st.sampled_from(["engine", "identities"]))
    def poison(self, person: str, where: str) -> None:
        """A ticket event that fails when it is decided: in the engine (the failure names
        it), or when its assignee is recorded (a failure of the batch: found by halving)."""
        self.poisoned += 1
        ref = PersonRef(system="jira", id=f"{POISON_ID}{self.poisoned}", display_name="Eve")
        who = ref if where == "identities" else person
        t = ticket(f"{POISON_KEY}{100 + self.poisoned}", who, SQL)
        self.waiting.append(move(t, "indeterminate", "done", DAY))

    @rule(key=st.sampled_from(sorted(TICKETS)), person=st.sampled_from(PEOPLE))
    def poison_work(self, key: str, person: str) -> None:
        """A real ticket is started and done, and the engine fails on its done event (a
        status no engine takes) until the fault is fixed."""
        self.poisoned += 1
        t = ticket(key, person, TICKETS[key])
        at = self._next(key)
        done = move(t, "indeterminate", "done", at + timedelta(minutes=60))
        self.waiting.append(move(t, "new", "indeterminate", at))
        self.waiting.append(
            done.model_copy(update={"to_status": f"{POISON_STATUS}{self.poisoned}"})
        )

    @precondition(lambda self: self.feeder.inbox.count_by_status()["failed"] > 0)
    @rule(data=st.data())
    def fix(self, data: st.DataObject) -> None:
        """The fault one event set aside met is fixed; an admin gives back every event set
        aside that would not fail now (`skillrelay events retry`)."""
        failed = self.feeder.inbox.list(status="failed", limit=100_000)
        payload = data.draw(st.sampled_from(failed)).payload
        assignee = payload["ticket"].get("assignee") or {}
        FIXED.update((payload["ticket"]["key"], assignee.get("id", ""), payload["to_status"] or ""))
        back = [i.id for i in failed if not is_poison(EVENT.validate_python(i.payload))]
        assert self.feeder.inbox.retry_failed(back) == sorted(back)
        self.dirty = True

    @precondition(lambda self: bool(self.waiting))
    @rule(data=st.data(), count=st.integers(1, 12))
    def deliver(self, data: st.DataObject, count: int) -> None:
        for _ in range(min(count, len(self.waiting))):
            i = data.draw(st.integers(0, len(self.waiting) - 1))
            self._put(self.waiting.pop(i))

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def redeliver(self, data: st.DataObject) -> None:
        self._put(data.draw(st.sampled_from(self.sent)))

    # Workers.
    @precondition(lambda self: bool(self.workers))
    @rule(data=st.data(), limit=st.integers(1, 6))
    def run(self, data: st.DataObject, limit: int) -> None:
        i = data.draw(st.integers(0, len(self.workers) - 1))
        self.workers[i].run_once(limit)

    @precondition(lambda self: bool(self.workers))
    @rule(data=st.data(), after_claim=st.booleans())
    def crash(self, data: st.DataObject, after_claim: bool) -> None:
        """Kill a worker after it claimed (its claim waits for the lease), or in the middle
        of its transaction (rolled back); it starts again with a new engine."""
        i = data.draw(st.integers(0, len(self.workers) - 1))
        store = self.stores[i]
        if after_claim:
            store.inbox.claim(3, f"w{i}")
        else:
            record = store.decisions.record_many

            def fail(*args: Any, **kwargs: Any) -> None:
                raise Killed("killed mid-transaction")

            store.decisions.record_many = fail  # type: ignore[method-assign]
            try:
                self.workers[i].run_once(3)
            except Killed:
                pass
            finally:
                store.decisions.record_many = record  # type: ignore[method-assign]
        self.workers[i] = self._worker(store, i)

    # Managers.
    @rule(data=st.data(), verb=st.sampled_from(["approve", "reject", "fulfil", "revoke"]))
    def manage(self, data: st.DataObject, verb: str) -> None:
        awards = self.feeder.awards.list()
        if not awards or not self.workers:
            return
        award = data.draw(st.sampled_from(awards))
        by = MANIFEST.managers_of(award.person_id)[0]
        act = getattr(self.workers[0], verb)
        try:
            act(award.id, by)
            self.dirty = True
        except InvalidTransition:
            pass  # not a move from this state: refused, nothing changed
        except ConfigError as exc:  # pragma: no cover - every example person has a manager
            raise AssertionError(exc) from exc

    # Checks once everything stored is decided.
    @precondition(lambda self: self.dirty)
    @rule()
    def quiesce(self) -> None:
        self.dirty = False
        self.clock.now += timedelta(hours=1)  # leases of killed workers run out
        if not self.workers:
            return
        for _ in range(200):
            if sum(w.run_once(50).claimed for w in self.workers) == 0:
                break
        counts = self.feeder.inbox.count_by_status()
        assert counts["new"] == 0, counts
        self.check_set_aside()
        self.check_workers()
        self.check_ledger()
        self.check_effects()
        self.check_lrs()

    def check_set_aside(self) -> None:
        """Exactly the poisoned events are set aside, each with its reason."""
        failed = {i.natural_key: i.error or "" for i in self.feeder.inbox.list(status="failed")}
        poisoned = {e.natural_key for e in self.sent if is_poison(e)}
        assert set(failed) == poisoned, (sorted(failed), sorted(poisoned))
        assert all(reason.startswith("could not be decided") for reason in failed.values())

    def check_workers(self) -> None:
        """Every worker, once it has caught up (as it does before it writes), holds the
        verdicts of one engine reading the whole inbox: none lacks an event given back."""
        engine, _ = engine_from_inbox(self.feeder, MANIFEST)
        expected = verdicts(engine)
        for i, worker in enumerate(self.workers):
            worker.relearn()
            assert verdicts(worker.engine) == expected, f"worker {i}"

    def check_ledger(self) -> None:
        engine, _ = engine_from_inbox(self.feeder, MANIFEST)
        verdicts = {d.key: d for d in engine.decisions() if d.person and d.skill and d.reward}
        ledger = {(a.person_id, a.skill_id, a.ticket_key): a for a in self.feeder.awards.list()}
        wrong = []
        for key in sorted(set(verdicts) | set(ledger)):
            d, award = verdicts.get(key), ledger.get(key)
            history = self.feeder.awards.events(award.id) if award else []
            expected = expect(d is not None and d.awarded, d, award, history)
            if award is None and expected is None:
                continue
            if award is None or expected is None or award.state not in expected:
                got = award.state if award else None
                wrong.append((key, d.reason if d else None, got, expected, steps(history)))
        assert not wrong, "\n".join(map(str, wrong[:10]))

    def check_effects(self) -> None:
        expected: set[str] = set()
        for award in self.feeder.awards.list():
            for change in changes(award, self.feeder.awards.events(award.id)):
                found = effects_for(change, MANIFEST, jira_base_url=JIRA, deployment="cloud")
                expected.update(e.idempotency_key for e in found)
        queued = [item.idempotency_key for item in self.feeder.outbox.list(limit=100_000)]
        assert len(queued) == len(set(queued))
        missing, extra = sorted(expected - set(queued)), sorted(set(queued) - expected)
        assert not missing and not extra, f"missing {missing[:8]}, extra {extra[:8]}"

    def check_lrs(self) -> None:
        stored: dict[str, int] = {}  # statement id -> award id, of "earned" statements
        voided: set[str] = set()
        for item in self.feeder.outbox.list(limit=100_000):
            if item.target != "lrs":
                continue
            statement = item.payload["statement"]
            verb = statement["verb"]["id"]
            if verb == VERB_VOIDED:
                voided.add(statement["object"]["id"])
            elif verb == VERB_EARNED:
                stored[statement["id"]] = int(item.idempotency_key.split(":")[0])
        live: dict[int, int] = defaultdict(int)
        for sid, award_id in stored.items():
            if sid not in voided:
                live[award_id] += 1
        wrong = [
            (a.id, a.state, live[a.id])
            for a in self.feeder.awards.list()
            if live[a.id] != (1 if a.state in GRANTED else 0)
        ]
        assert not wrong, f"(award, state, live earned statements): {wrong[:10]}"


def verdicts(engine: Engine) -> dict[Any, tuple[str, bool]]:
    return {d.key: (d.reason, d.awarded) for d in engine.decisions()}


def expect(
    awarded: bool, d: Any, award: Award | None, history: list[AwardEvent]
) -> tuple[str, ...] | None:
    """The states the ledger may hold for a key; None: no award at all."""
    manual = [e for e in history if e.actor != ENGINE_ACTOR]
    final = [e for e in manual if e.to_state in ("rejected", "revoked")]
    if final:
        return (final[-1].to_state,)
    kept = any(e.from_state == "revocation_flagged" and e.to_state == "fulfilled" for e in manual)
    handed_out = any(e.to_state == "fulfilled" for e in history)
    if awarded:
        if handed_out:
            return ("fulfilled",)
        if any(e.to_state in ("approved",) for e in manual):
            return ("approved", "pending_approval")  # approved in an earlier cycle or this
        return ("pending_approval",) if d.approval else ("approved",)
    if award is None:
        return None
    if kept:
        return ("fulfilled",)
    if handed_out:
        return ("revocation_flagged",)
    return ("revoked",)


def steps(history: list[AwardEvent]) -> list[tuple[str, str, str | None]]:
    return [(e.to_state, e.actor, e.note) for e in history]


EVENT_OF: dict[str, ChangeEvent] = {
    "approved": "approved",
    "rejected": "rejected",
    "fulfilled": "fulfilled",
    "revoked": "revoked",
    "revocation_flagged": "revocation_flagged",
}


def changes(award: Award, history: list[AwardEvent]) -> list[AwardChange]:
    """The award changes its history records, each in its cycle."""
    out, cycle = [], 0
    for e in history:
        event: ChangeEvent
        if e.from_state is None:
            event = "awarded"
        elif e.from_state == "revoked":
            cycle += 1
            event = "awarded"
        else:
            event = EVENT_OF[e.to_state]
        state = replace(award, state=e.to_state)
        at = e.at
        out.append(AwardChange(state, event, e.actor, e.note, at, e.from_state, cycle))
    return out


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
@pytest.mark.usefixtures("poisons")
def test_the_ledger_is_a_function_of_the_events(
    db: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    examples = 100 if db == "sqlite" else 40
    number = iter(range(1_000_000))

    class Machine(LedgerMachine):
        def __init__(self) -> None:
            type(self).url = fresh(db, tmp_path, request, next(number))
            super().__init__()

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def fresh(db: str, tmp_path: Path, request: pytest.FixtureRequest, n: int) -> str:
    """An empty store at the latest schema for one example."""
    from plugin.store import migrate

    if db == "sqlite":
        url = f"sqlite:///{tmp_path / f'ledger-{n}.db'}"
        migrate.upgrade(url)
        return url
    from tests.peers.postgres import create_database

    server: str = request.getfixturevalue("postgres_url")
    url = create_database(server, f"ledger_{id(tmp_path) % 10_000}_{n}")
    migrate.upgrade(url)
    return url
