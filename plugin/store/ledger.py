"""The awards ledger: one award per (person, skill, ticket), its state changes kept as history."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    bindparam,
    distinct,
    func,
    insert,
    select,
    update,
)

from plugin.store.base import Repository, prepared, to_model, upsert_insert
from plugin.store.models import (
    Award,
    AwardEvent,
    AwardState,
    InvalidTransition,
    NewAward,
    UnknownAward,
)
from plugin.store.schema import award_events, awards

Awards = list[Award]

# Where an award may go next. rejected is final. A revoked award comes back (to the state a
# new one would start in) when its reopened ticket is done again and still qualifies: there
# is one award per (person, skill, ticket), never a second one.
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending_approval": frozenset({"approved", "rejected", "revoked"}),
    "approved": frozenset({"fulfilled", "revoked"}),
    "fulfilled": frozenset({"revocation_flagged"}),
    # A flagged reward was already handed out: a person decides to take it back or keep it.
    "revocation_flagged": frozenset({"revoked", "fulfilled"}),
    "rejected": frozenset(),
    "revoked": frozenset({"pending_approval", "approved"}),
}
INITIAL_STATES = frozenset({"pending_approval", "approved", "fulfilled"})
# Points count once the award is granted, until it is actually taken back.
EARNED_STATES = ("approved", "fulfilled", "revocation_flagged")
# Awards that use a budget or a cap: everything not turned down or taken back.
COUNTED_STATES = ("pending_approval", *EARNED_STATES)
_EVENTS = (
    select(award_events)
    .where(award_events.c.award_id == bindparam("award"))
    .order_by(award_events.c.id)
)
# People per IN list: well under SQLite's and PostgreSQL's limits on bound values.
PEOPLE_CHUNK = 5000
# A few people's awards are found fastest through the person index: SQLite, without
# statistics, would rather walk every award of a state or sprint than probe it per person.
FEW_PEOPLE = 1000
Grouping = Literal["state", "reward_id", "person_id", "skill_id"]
Query = TypeVar("Query", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True)
class AwardFilter:
    """Which awards a reader wants; None means any. `people` empty: none at all."""

    people: frozenset[str] | None = None
    skill: str | None = None
    states: tuple[str, ...] | None = None
    sprint: str | None = None
    done_from: datetime | None = None  # the ticket was done at or after
    done_until: datetime | None = None  # and before


def _chunks(people: frozenset[str] | None) -> list[list[str] | None]:
    """The people split into IN lists (none: everyone; no list at all: nobody)."""
    if people is None:
        return [None]
    ordered = sorted(people)
    return [ordered[i : i + PEOPLE_CHUNK] for i in range(0, len(ordered), PEOPLE_CHUNK)]


def _where(query: Query, f: AwardFilter, people: list[str] | None) -> Query:
    def other(column: ColumnElement[Any]) -> ColumnElement[Any]:
        # coalesce(x, x) is x, but no index serves it: the planner takes the person index.
        return func.coalesce(column, column) if few else column

    few = people is not None and len(people) <= FEW_PEOPLE
    if people is not None:
        query = query.where(awards.c.person_id.in_(people))
    if f.skill is not None:
        query = query.where(other(awards.c.skill_id) == f.skill)
    if f.states is not None:
        query = query.where(other(awards.c.state).in_(f.states))
    if f.sprint is not None:
        query = query.where(other(awards.c.sprint_id) == f.sprint)
    if f.done_from is not None:
        query = query.where(other(awards.c.ticket_done_at) >= f.done_from)
    if f.done_until is not None:
        query = query.where(other(awards.c.ticket_done_at) < f.done_until)
    return query


class Ledger(Repository):
    def insert(
        self, award: NewAward, *, actor: str = "engine", conn: Connection | None = None
    ) -> tuple[Award, bool]:
        """Add an award; if (person, skill, ticket) already has one, return that, created False."""
        if award.state not in INITIAL_STATES:
            raise InvalidTransition(f"an award cannot start as {award.state!r}")
        now = self.clock()
        # Shallow: asdict would deep-copy the evidence for nothing.
        values = {f.name: getattr(award, f.name) for f in fields(award)}
        values.update(created_at=now, updated_at=now)
        with self.tx(conn) as c:
            stmt = prepared(c, "awards.insert", _insert_award)
            row = c.execute(stmt, values).mappings().first()
            if row is None:
                key = (
                    (awards.c.person_id == award.person_id)
                    & (awards.c.skill_id == award.skill_id)
                    & (awards.c.ticket_key == award.ticket_key)
                )
                return self._one(
                    c, key, f"{award.person_id}/{award.skill_id}/{award.ticket_key}"
                ), False
            created = to_model(Award, row)
            self._record(c, created.id, None, created.state, actor, None, now)
            return created, True

    def transition(
        self,
        award_id: int,
        to_state: AwardState,
        actor: str,
        note: str | None = None,
        at: datetime | None = None,
        *,
        conn: Connection | None = None,
    ) -> Award:
        at = at or self.clock()
        with self.tx(conn) as c:
            current = self._one(c, awards.c.id == award_id, str(award_id))
            if to_state not in TRANSITIONS[current.state]:
                allowed = ", ".join(sorted(TRANSITIONS[current.state])) or "nothing (final)"
                raise InvalidTransition(
                    f"award {award_id} is {current.state}; it cannot become {to_state} "
                    f"(allowed: {allowed})"
                )
            # Compare-and-set on the state read above, so two racing approvals cannot both win.
            stmt = (
                update(awards)
                .where(awards.c.id == award_id, awards.c.state == current.state)
                .values(state=to_state, updated_at=at)
                .returning(*awards.c)
            )
            row = c.execute(stmt).mappings().first()
            if row is None:
                raise InvalidTransition(f"award {award_id} changed state meanwhile; try again")
            self._record(c, award_id, current.state, to_state, actor, note, at)
            return to_model(Award, row)

    def get(self, award_id: int, *, conn: Connection | None = None) -> Award | None:
        with self.tx(conn) as c:
            row = c.execute(select(awards).where(awards.c.id == award_id)).mappings().first()
        return to_model(Award, row) if row else None

    def events(self, award_id: int, *, conn: Connection | None = None) -> list[AwardEvent]:
        with self.tx(conn) as c:
            rows = c.execute(_EVENTS, {"award": award_id}).mappings()
            return [to_model(AwardEvent, r) for r in rows]

    def list(
        self,
        state: AwardState | None = None,
        person: str | None = None,
        sprint: str | None = None,
        *,
        conn: Connection | None = None,
    ) -> Awards:
        query = select(awards).order_by(awards.c.id)
        for column, value in (("state", state), ("person_id", person), ("sprint_id", sprint)):
            if value is not None:
                query = query.where(awards.c[column] == value)
        with self.tx(conn) as c:
            return [to_model(Award, r) for r in c.execute(query).mappings()]

    def points_by_person(
        self, sprint: str | None = None, *, conn: Connection | None = None
    ) -> dict[str, int]:
        """Points earned per person (granted and not taken back), optionally in one sprint."""
        query = (
            select(awards.c.person_id, func.sum(awards.c.points))
            .where(awards.c.state.in_(EARNED_STATES))
            .group_by(awards.c.person_id)
        )
        if sprint is not None:
            query = query.where(awards.c.sprint_id == sprint)
        with self.tx(conn) as c:
            return {person: int(total) for person, total in c.execute(query)}

    def count_for_reward(
        self, reward_id: str, since: datetime, until: datetime, *, conn: Connection | None = None
    ) -> int:
        """Budget use: awards of a reward whose ticket was done in [since, until).

        The ticket's done time, not the insert time, so replaying history decides the same.
        """
        return self._count(
            conn,
            awards.c.reward_id == reward_id,
            awards.c.ticket_done_at >= since,
            awards.c.ticket_done_at < until,
        )

    def count_for_person_sprint(
        self, person_id: str, sprint_id: str, *, conn: Connection | None = None
    ) -> int:
        return self._count(conn, awards.c.person_id == person_id, awards.c.sprint_id == sprint_id)

    # --- readers for the web UI: each a bounded or aggregate query, never the whole ledger ---

    def page(
        self,
        where: AwardFilter,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
        conn: Connection | None = None,
    ) -> Awards:
        """Up to `limit` awards, newest first: the newest, those with ids below `before`, or
        (a previous page) the ones just above `after`."""
        older = after is None
        order = awards.c.id.desc() if older else awards.c.id.asc()
        found: Awards = []
        with self.tx(conn) as c:
            for people in _chunks(where.people):
                query = _where(select(awards), where, people).order_by(order).limit(limit)
                if before is not None:
                    query = query.where(awards.c.id < before)
                if after is not None:
                    query = query.where(awards.c.id > after)
                found += [to_model(Award, r) for r in c.execute(query).mappings()]
        found.sort(key=lambda a: a.id, reverse=older)
        return sorted(found[:limit], key=lambda a: a.id, reverse=True)

    def each(self, where: AwardFilter, *, chunk: int = 1000) -> Iterator[Award]:
        """Every award that matches, newest first, read a chunk at a time (an export)."""
        before: int | None = None
        while True:
            found = self.page(where, before=before, limit=chunk)
            yield from found
            if len(found) < chunk:
                return
            before = found[-1].id

    def tally(
        self, where: AwardFilter, by: Grouping, *, conn: Connection | None = None
    ) -> dict[str, tuple[int, int]]:
        """(awards, points) per state, reward, person or skill."""
        column = awards.c[by]
        found: dict[str, tuple[int, int]] = {}
        with self.tx(conn) as c:
            for people in _chunks(where.people):
                query = select(column, func.count(), func.coalesce(func.sum(awards.c.points), 0))
                query = _where(query.group_by(column), where, people)
                for key, n, points in c.execute(query):
                    had = found.get(key, (0, 0))
                    found[key] = (had[0] + int(n), had[1] + int(points))
        return found

    def count_by(
        self, where: AwardFilter, by: Grouping, *, conn: Connection | None = None
    ) -> dict[str, int]:
        """Awards per state, reward, person or skill: `tally` without the points, which an
        index can answer without reading the awards."""
        column = awards.c[by]
        found: dict[str, int] = {}
        with self.tx(conn) as c:
            for people in _chunks(where.people):
                query = _where(select(column, func.count()).group_by(column), where, people)
                for key, n in c.execute(query):
                    found[key] = found.get(key, 0) + int(n)
        return found

    def count_people(self, where: AwardFilter, *, conn: Connection | None = None) -> int:
        """How many people have an award that matches."""
        total = 0
        with self.tx(conn) as c:
            for people in _chunks(where.people):
                query = _where(select(func.count(distinct(awards.c.person_id))), where, people)
                total += int(c.execute(query).scalar_one())  # the chunks share nobody
        return total

    def oldest(
        self, where: AwardFilter, *, conn: Connection | None = None
    ) -> tuple[int, datetime | None]:
        """How many awards match, and the earliest time one of them was created."""
        total, first = 0, None
        with self.tx(conn) as c:
            for people in _chunks(where.people):
                query = _where(select(func.count(), func.min(awards.c.created_at)), where, people)
                n, at = c.execute(query).one()
                total += int(n)
                if at is not None and (first is None or at < first):
                    first = at
        return total, first

    def _count(self, conn: Connection | None, *where: ColumnElement[bool]) -> int:
        query = select(func.count()).where(awards.c.state.in_(COUNTED_STATES), *where)
        with self.tx(conn) as c:
            return int(c.execute(query).scalar_one())

    def _one(self, c: Connection, where: ColumnElement[bool], name: str) -> Award:
        row = c.execute(select(awards).where(where)).mappings().first()
        if row is None:
            raise UnknownAward(f"no award {name}")
        return to_model(Award, row)

    def _record(
        self,
        c: Connection,
        award_id: int,
        from_state: str | None,
        to_state: str,
        actor: str,
        note: str | None,
        at: datetime,
    ) -> None:
        values = {
            "award_id": award_id,
            "from_state": from_state,
            "to_state": to_state,
            "actor": actor,
            "note": note,
            "at": at,
        }
        c.execute(insert(award_events), values)


def _insert_award(conn: Connection) -> Any:
    return (
        upsert_insert(conn, awards)
        .on_conflict_do_nothing(index_elements=["person_id", "skill_id", "ticket_key"])
        .returning(*awards.c)
    )
