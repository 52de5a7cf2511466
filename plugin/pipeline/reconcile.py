"""Verdicts into the store: the decisions log, the awards ledger and the outbox.

Level-triggered: `apply` logs every verdict it is given (the decisions log is the history
of each step), but the ledger is settled once per transaction, at `flush`, from the
engine's CURRENT verdict on each (person, skill, ticket) the transaction touched. A worker
that reads old events late therefore never replays their intermediate verdicts: only where
the events end up counts. The ledger is a function of (the events, the manifest, managers'
actions); which states are final:

- `rejected`, and `revoked` by a manager: final (a person decided).
- `revoked` by the engine (reopened, excluded resolution, budget or cap taken by an earlier
  ticket, completion withdrawn, ...): not final. When the events make the award qualify
  again, the same award comes back (`pending_approval` or `approved`) -> "awarded"
  effects under a new cycle of keys. There is one award per (person, skill, ticket).
- `fulfilled`: the reward was handed out, so it is never taken back silently: a verdict
  other than `awarded` flags it (`revocation_flagged`) for a manager, and `awarded` again
  clears the flag (`fulfilled`). A flag a manager resolved by keeping the reward is final.
- `pending_approval` / `approved` and a verdict other than `awarded`: `revoked` by the
  engine, the reason code as the note -> "revoked" effects.
- `awarded` and no award yet: insert it, `pending_approval` when the reward needs a
  manager's approval, else `approved` -> "awarded" effects.

The decisions log gets a row whenever a (person, skill, ticket)'s outcome differs from the
last one logged for it, so a verdict several workers see is logged once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection

from plugin.effects import AwardChange, ChangeEvent
from plugin.engine import Decision, Engine
from plugin.engine.facts import from_us
from plugin.manifest import Manifest
from plugin.pipeline.effects import EffectRow, EffectSettings, effect_rows
from plugin.store import Award, AwardState, NewAward, Store
from plugin.store import Decision as StoredDecision
from plugin.store.decisions import decision_row

log = logging.getLogger("skillrelay.pipeline")

ENGINE_ACTOR = "engine"
REVOCABLE: tuple[AwardState, ...] = ("pending_approval", "approved")
HANDED_OUT: AwardState = "fulfilled"
FLAGGED: AwardState = "revocation_flagged"
LIVE = (*REVOCABLE, HANDED_OUT)
EVENT_OF: dict[AwardState, ChangeEvent] = {
    "revoked": "revoked",
    "revocation_flagged": "revocation_flagged",
    "fulfilled": "fulfilled",
}
Who = tuple[str, str]  # (person id or the unclaimed "system:id", skill id)
Key = tuple[str, str, str]  # Decision.key: (person or ref, skill, ticket)


@dataclass
class Tally:
    decisions: int = 0  # rows added to the decisions log
    awarded: int = 0
    revoked: int = 0
    flagged: int = 0
    restored: int = 0  # revocation_flagged -> fulfilled: the ticket qualifies again
    effects: int = 0  # new outbox rows


def award_evidence(d: Decision, manifest: Manifest, jira_base_url: str) -> dict[str, Any]:
    """The engine's evidence plus what comments and statements name: module, ticket link,
    skill and reward."""
    evidence = dict(d.evidence)
    if jira_base_url:
        evidence["ticket_url"] = f"{jira_base_url}/browse/{quote(d.ticket, safe='')}"
    module, done = d.module, d.completion
    if module is not None and done is not None:
        evidence["module"] = {"key": done.module, "id": module.id, "title": module.title}
    if d.skill_info is not None:
        evidence["skill_name"] = d.skill_info.name
        evidence["reward_name"] = d.skill_info.reward_name
        reward = manifest.rewards_by_id.get(d.skill_info.reward)
        evidence["reward_kind"] = reward.kind if reward else None
    return evidence


class Reconciler:
    """Applies verdicts inside the caller's transaction. Call `begin` at the start of each
    transaction: it forgets what it read in the last one."""

    def __init__(
        self,
        store: Store,
        manifest: Manifest,
        settings: EffectSettings,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.manifest = manifest
        self.settings = settings
        self.clock = clock
        self._logged: dict[str, dict[Who, str]] = {}  # ticket -> last outcome per who
        self._awards: dict[str, list[Award]] = {}  # person -> their awards
        self._created: set[int] = set()  # awards inserted in this transaction
        self._touched: dict[Key, tuple[Decision, int | None]] = {}  # settled at `flush`
        self._decisions: list[dict[str, Any]] = []  # decision rows to write at `flush`
        self._effects: list[EffectRow] = []  # outbox rows to write at `flush`

    def begin(self) -> None:
        self._logged.clear()
        self._awards.clear()
        self._created.clear()
        self._touched.clear()
        self._decisions, self._effects = [], []

    def apply(
        self, decisions: Iterable[Decision], conn: Connection, tally: Tally, inbox_id: int | None
    ) -> None:
        """Log each verdict and remember its key; the ledger follows at `flush`."""
        for d in decisions:
            self._log(d, conn, tally, inbox_id)
            self._touched[d.key] = (d, inbox_id)

    def flush(self, engine: Engine, conn: Connection, tally: Tally) -> None:
        """Settle every key touched since `begin` from `engine`'s current verdict, then write
        the decisions and effects, one statement each (call before the transaction commits)."""
        now: list[Decision] = []
        for d, inbox_id in self._touched.values():
            current = engine.current(d) or d  # None: the key is gone; `d` is its last word
            if current is not d:
                self._log(current, conn, tally, inbox_id)
            now.append(current)
        self._touched.clear()
        # Revocations first: a budget place an award frees is then free when one is spent.
        for d in sorted(now, key=lambda d: d.awarded):
            change = self._settle(d, conn, tally)
            if change is not None:
                new_award = change.award.id in self._created
                self._effects += effect_rows(
                    self.store, self.manifest, self.settings, change, conn, new_award=new_award
                )
        self.store.decisions.record_many(self._decisions, conn=conn)
        tally.effects += self.store.outbox.enqueue_many(self._effects, conn=conn)
        self._decisions, self._effects = [], []

    def full(self, engine: Engine, conn: Connection, tally: Tally) -> None:
        """Bring the whole ledger in line with the engine (at start, and after a failed
        write): awards the engine grants that the ledger lacks, and live awards whose verdict
        changed. A live award the engine has no verdict on at all (its skill left the
        manifest, say) is left alone and logged: never taken back on a guess."""
        ledger = {(a.person_id, a.skill_id, a.ticket_key): a for a in self._all(conn)}
        todo: list[Decision] = []
        granted: set[tuple[str, str, str]] = set()
        for d in engine.awards():
            key = (d.person or "", d.skill or "", d.ticket)
            granted.add(key)
            found = ledger.get(key)
            if found is None or found.state in (FLAGGED, "revoked"):
                todo.append(d)
        stale = {k for k, a in ledger.items() if k not in granted and a.state in LIVE}
        if stale:
            for d in engine.decisions():
                key = (d.person or "", d.skill or "", d.ticket)
                if key in stale:
                    todo.append(d)
                    stale.discard(key)
        for person, skill, ticket in sorted(stale):
            log.warning("award %s/%s/%s has no verdict now; left as it is", person, skill, ticket)
        self.apply(todo, conn, tally, None)

    # The decisions log.
    def prefetch(self, tickets: Iterable[str], conn: Connection) -> None:
        """Read the logged outcomes of these tickets with one query, before `apply` needs
        them (else it reads each ticket's when it first meets it)."""
        wanted = [t for t in tickets if t not in self._logged]
        for ticket, rows in self.store.decisions.for_tickets(wanted, conn=conn).items():
            self._logged[ticket] = _outcomes(rows)

    def _log(self, d: Decision, conn: Connection, tally: Tally, inbox_id: int | None) -> None:
        who: Who = (d.person or d.person_ref or "", d.skill or "")
        if d.ticket not in self._logged:
            self.prefetch([d.ticket], conn)
        logged = self._logged[d.ticket]
        if logged.get(who) == d.reason:
            return
        self._decisions.append(
            decision_row(d.reason, d.skill, d.ticket, d.person, inbox_id, d.evidence, self.clock())
        )
        logged[who] = d.reason
        tally.decisions += 1

    # The ledger.
    def _settle(self, d: Decision, conn: Connection, tally: Tally) -> AwardChange | None:
        if d.person is None or d.skill is None or d.reward is None:
            return None  # nobody an award could belong to
        if d.awarded:
            return self._grant(d, d.person, d.skill, d.reward, conn, tally)
        found = self._find(d.person, d.skill, d.ticket, conn)
        if found is None or found.state not in LIVE:
            return None
        if found.state == HANDED_OUT:
            if self._kept(found, conn):
                return None
            tally.flagged += 1
            return self._move(found, FLAGGED, d.reason, when(d), conn)
        tally.revoked += 1
        return self._move(found, "revoked", d.reason, when(d), conn)

    def _grant(
        self, d: Decision, person: str, skill: str, reward: str, conn: Connection, tally: Tally
    ) -> AwardChange | None:
        start: AwardState = "pending_approval" if d.approval else "approved"
        new = NewAward(
            person_id=person,
            skill_id=skill,
            ticket_key=d.ticket,
            reward_id=reward,
            points=d.points,
            state=start,
            ticket_done_at=d.t2,
            sprint_id=d.sprint,
            completion_key=d.completion_key,
            evidence=award_evidence(d, self.manifest, self.settings.jira_base_url),
        )
        award, created = self.store.awards.insert(new, actor=ENGINE_ACTOR, conn=conn)
        self._awards.pop(person, None)
        if created:
            self._created.add(award.id)
            tally.awarded += 1
            return AwardChange(award, "awarded", ENGINE_ACTOR, None, when(d))
        note = "qualifies again"
        if award.state == FLAGGED and self._last_actor(award, conn) == ENGINE_ACTOR:
            tally.restored += 1
            return self._move(award, HANDED_OUT, note, when(d), conn)
        if award.state == "revoked" and self._last_actor(award, conn) == ENGINE_ACTOR:
            # Revoked by the engine, not by a person: the events say it stands again.
            tally.restored += 1
            return self._move(award, start, note, when(d), conn, event="awarded")
        if award.state in ("revoked", "rejected"):
            log.info(
                "award %d (%s/%s/%s) qualifies but stays %s: a manager decided so",
                award.id,
                person,
                skill,
                d.ticket,
                award.state,
            )
        return None

    def _last_actor(self, award: Award, conn: Connection) -> str:
        return self.store.awards.events(award.id, conn=conn)[-1].actor

    def _kept(self, award: Award, conn: Connection) -> bool:
        """A manager resolved a flag on this award by keeping the reward."""
        return any(
            e.from_state == FLAGGED and e.to_state == HANDED_OUT and e.actor != ENGINE_ACTOR
            for e in self.store.awards.events(award.id, conn=conn)
        )

    def _move(
        self,
        award: Award,
        to: AwardState,
        note: str,
        at: datetime,
        conn: Connection,
        event: ChangeEvent | None = None,
    ) -> AwardChange:
        moved = self.store.awards.transition(
            award.id, to, ENGINE_ACTOR, note, self.clock(), conn=conn
        )
        self._awards.pop(award.person_id, None)
        self._created.discard(award.id)  # its history is read for the cycle
        change_event = event or EVENT_OF[to]
        return AwardChange(moved, change_event, ENGINE_ACTOR, note, at, previous=award.state)

    def _find(self, person: str, skill: str, ticket: str, conn: Connection) -> Award | None:
        awards = self._awards.get(person)
        if awards is None:
            awards = self._awards[person] = self.store.awards.list(person=person, conn=conn)
        return next((a for a in awards if a.skill_id == skill and a.ticket_key == ticket), None)

    def _all(self, conn: Connection) -> list[Award]:
        return self.store.awards.list(conn=conn)


def when(d: Decision) -> datetime:
    """When the events behind a verdict happened: the latest of its facts' times. Statement
    bodies use it, so a change planned again from the same events is byte-identical."""
    times = [d.done.at]
    if d.reopen is not None:
        times.append(d.reopen.at)
    if d.completion is not None:
        times.append(d.completion.at)
    return from_us(max(times))


def _outcomes(rows: Iterable[StoredDecision]) -> dict[Who, str]:
    """The latest outcome logged for each (person, skill) of a ticket."""
    logged: dict[Who, str] = {}
    for row in rows:
        detail = row.detail or {}
        person = row.person_id or detail.get("assignee") or ""
        logged[(str(person), row.skill_id or "")] = row.outcome
    return logged
