"""Verdicts into the store: the decisions log, the awards ledger and the outbox.

The ledger follows the engine's verdicts, compared state to state, so applying a verdict
twice (or one another worker applied already) changes nothing:

- `awarded` and no award yet: insert it, `pending_approval` when the reward needs a
  manager's approval, else `approved` -> "awarded" effects.
- `awarded` and the award is `revocation_flagged`: the ticket is done again and still
  qualifies, so it is `fulfilled` again (the flag has no reason left) -> "fulfilled".
- `awarded` and the award was `revoked` because its ticket was reopened: the ticket is
  done again and still qualifies, so the same award comes back (`pending_approval` or
  `approved`) -> "awarded" effects under a new cycle of keys. There is one award per
  person, skill and ticket, never a second one.
- `awarded` and the award is `rejected`, or was revoked for another reason (cap, budget,
  completion withdrawn): it stays so (logged).
- any other verdict and the award is `pending_approval` or `approved`: `revoked`, the
  reason code as the note (reopened, completion_withdrawn, budget or cap taken by an
  earlier ticket that arrived late, ...) -> "revoked".
- any other verdict and the award is `fulfilled`: the reward was handed out, so it is
  never taken back silently: `revocation_flagged` for a manager -> "revocation_flagged".

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
        self._decisions: list[dict[str, Any]] = []  # decision rows to write at `flush`
        self._effects: list[EffectRow] = []  # outbox rows to write at `flush`

    def begin(self) -> None:
        self._logged.clear()
        self._awards.clear()
        self._created.clear()
        self._decisions, self._effects = [], []

    def apply(
        self, decisions: Iterable[Decision], conn: Connection, tally: Tally, inbox_id: int | None
    ) -> None:
        # Revocations first: a budget place an award frees is then free when one is spent.
        ordered = sorted(decisions, key=lambda d: d.awarded)
        for d in ordered:
            self._log(d, conn, tally, inbox_id)
        for d in ordered:
            change = self._settle(d, conn, tally)
            if change is not None:
                new_award = change.award.id in self._created
                self._effects += effect_rows(
                    self.store, self.manifest, self.settings, change, conn, new_award=new_award
                )

    def flush(self, conn: Connection, tally: Tally) -> None:
        """Write the decisions and effects gathered since `begin`, one statement each (call
        before the transaction commits)."""
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
        to: AwardState = FLAGGED if found.state == HANDED_OUT else "revoked"
        change = self._move(found, to, d.reason, conn)
        if to == FLAGGED:
            tally.flagged += 1
        else:
            tally.revoked += 1
        return change

    def _grant(
        self, d: Decision, person: str, skill: str, reward: str, conn: Connection, tally: Tally
    ) -> AwardChange | None:
        new = NewAward(
            person_id=person,
            skill_id=skill,
            ticket_key=d.ticket,
            reward_id=reward,
            points=d.points,
            state="pending_approval" if d.approval else "approved",
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
            return AwardChange(award, "awarded", ENGINE_ACTOR, None, self.clock())
        if award.state == FLAGGED:
            tally.restored += 1
            return self._move(award, HANDED_OUT, "done again and still qualifies", conn)
        if award.state == "revoked" and self._revoked_for_reopen(award, conn):
            # The ticket was reopened and is done again: the same award comes back. (An
            # award revoked for cap or budget stays revoked: a worker whose engine lags
            # behind the ledger could otherwise bring it back while another holds the place.)
            start: AwardState = "pending_approval" if d.approval else "approved"
            tally.restored += 1
            at = self.clock()
            note = "done again and still qualifies"
            moved = self.store.awards.transition(award.id, start, ENGINE_ACTOR, note, at, conn=conn)
            self._awards.pop(award.person_id, None)
            return AwardChange(moved, "awarded", ENGINE_ACTOR, note, at, previous="revoked")
        if award.state in ("revoked", "rejected"):
            log.info(
                "award %d (%s/%s/%s) qualifies again but stays %s: that state is final",
                award.id,
                person,
                skill,
                d.ticket,
                award.state,
            )
        return None

    def _revoked_for_reopen(self, award: Award, conn: Connection) -> bool:
        last = self.store.awards.events(award.id, conn=conn)[-1]
        return last.to_state == "revoked" and last.note == "reopened"

    def _move(self, award: Award, to: AwardState, note: str, conn: Connection) -> AwardChange:
        at = self.clock()
        moved = self.store.awards.transition(award.id, to, ENGINE_ACTOR, note, at, conn=conn)
        self._awards.pop(award.person_id, None)
        return AwardChange(moved, EVENT_OF[to], ENGINE_ACTOR, note, at, previous=award.state)

    def _find(self, person: str, skill: str, ticket: str, conn: Connection) -> Award | None:
        awards = self._awards.get(person)
        if awards is None:
            awards = self._awards[person] = self.store.awards.list(person=person, conn=conn)
        return next((a for a in awards if a.skill_id == skill and a.ticket_key == ticket), None)

    def _all(self, conn: Connection) -> list[Award]:
        return self.store.awards.list(conn=conn)


def _outcomes(rows: Iterable[StoredDecision]) -> dict[Who, str]:
    """The latest outcome logged for each (person, skill) of a ticket."""
    logged: dict[Who, str] = {}
    for row in rows:
        detail = row.detail or {}
        person = row.person_id or detail.get("assignee") or ""
        logged[(str(person), row.skill_id or "")] = row.outcome
    return logged
