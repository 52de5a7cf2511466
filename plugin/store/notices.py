"""Notifications planned and their fate; managers' check-ins; opt-outs from the link."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from plugin.errors import SkillrelayError
from plugin.store.base import Repository, to_model, upsert_insert
from plugin.store.models import Json
from plugin.store.schema import checkins, notifications, optouts


@dataclass(frozen=True)
class Notice:
    id: int
    key: str
    person_id: str
    kind: str
    status: str
    channel: str | None
    reason: str | None
    variables: Json
    digest_id: int | None
    due_at: datetime
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class NewNotice:
    key: str
    person_id: str
    kind: str
    due_at: datetime
    variables: Json


@dataclass(frozen=True)
class CheckIn:
    id: int
    award_id: int
    manager_id: str
    person_id: str
    due_at: datetime
    created_at: datetime
    done_at: datetime | None
    done_by: str | None
    note: str | None
    reminders: int


class UnknownCheckIn(SkillrelayError):
    exit_code = 2


class Notices(Repository):
    def add_many(self, items: Sequence[NewNotice], *, conn: Connection | None = None) -> int:
        """Plan messages; a key already planned is left as it is. How many were new."""
        if not items:
            return 0
        now = self.clock()
        rows = [
            {
                "key": n.key,
                "person_id": n.person_id,
                "kind": n.kind,
                "status": "pending",
                "variables": n.variables,
                "due_at": n.due_at,
                "created_at": now,
                "updated_at": now,
            }
            for n in items
        ]
        with self.tx(conn) as c:
            stmt = upsert_insert(c, notifications).on_conflict_do_nothing(index_elements=["key"])
            return len(c.execute(stmt.returning(notifications.c.id), rows).all())

    def pending(
        self, until: datetime, *, limit: int | None = None, conn: Connection | None = None
    ) -> list[Notice]:
        query = (
            select(notifications)
            .where(notifications.c.status == "pending", notifications.c.due_at <= until)
            .order_by(notifications.c.due_at, notifications.c.id)
            .limit(limit)
        )
        with self.tx(conn) as c:
            return [to_model(Notice, r) for r in c.execute(query).mappings()]

    def sent_since(
        self,
        since: datetime,
        *,
        people: Iterable[str] | None = None,
        conn: Connection | None = None,
    ) -> dict[str, list[datetime]]:
        """When each person was sent a message since `since` (only `people`, when given)."""
        base = select(notifications.c.person_id, notifications.c.sent_at).where(
            notifications.c.status == "sent", notifications.c.sent_at >= since
        )
        wanted = None if people is None else sorted(set(people))
        queries = (
            [base]
            if wanted is None
            else [
                base.where(notifications.c.person_id.in_(wanted[i : i + 1000]))
                for i in range(0, len(wanted), 1000)
            ]
        )
        found: dict[str, list[datetime]] = {}
        with self.tx(conn) as c:
            for query in queries:
                for person, at in c.execute(query):
                    found.setdefault(person, []).append(at)
        return found

    def mark(self, ids: Iterable[int], *, conn: Connection | None = None, **values: Any) -> None:
        ids = list(ids)
        if not ids:
            return
        stmt = (
            update(notifications)
            .where(notifications.c.id.in_(ids))
            .values(updated_at=self.clock(), **values)
        )
        with self.tx(conn) as c:
            c.execute(stmt)

    def folded(self, *, conn: Connection | None = None) -> dict[str, list[Notice]]:
        """Digested messages no digest carries yet, per person."""
        query = (
            select(notifications)
            .where(notifications.c.status == "digested", notifications.c.digest_id.is_(None))
            .order_by(notifications.c.id)
        )
        found: dict[str, list[Notice]] = {}
        with self.tx(conn) as c:
            for row in c.execute(query).mappings():
                notice = to_model(Notice, row)
                found.setdefault(notice.person_id, []).append(notice)
        return found

    def pending_of(
        self, person: str, kind: str, *, conn: Connection | None = None
    ) -> Notice | None:
        """The person's oldest message of `kind` not decided yet."""
        query = (
            select(notifications)
            .where(
                notifications.c.person_id == person,
                notifications.c.kind == kind,
                notifications.c.status == "pending",
            )
            .order_by(notifications.c.id)
            .limit(1)
        )
        with self.tx(conn) as c:
            row = c.execute(query).mappings().first()
        return to_model(Notice, row) if row else None

    def get_by_key(self, key: str, *, conn: Connection | None = None) -> Notice | None:
        with self.tx(conn) as c:
            row = c.execute(select(notifications).where(notifications.c.key == key)).mappings()
            first = row.first()
        return to_model(Notice, first) if first else None

    def list(
        self, person: str | None = None, limit: int = 200, *, conn: Connection | None = None
    ) -> list[Notice]:
        query = select(notifications).order_by(notifications.c.id.desc()).limit(limit)
        if person is not None:
            query = query.where(notifications.c.person_id == person)
        with self.tx(conn) as c:
            return [to_model(Notice, r) for r in c.execute(query).mappings()]


class CheckIns(Repository):
    def add(
        self,
        award_id: int,
        manager: str,
        person: str,
        due_at: datetime,
        *,
        conn: Connection | None = None,
    ) -> bool:
        row = {
            "award_id": award_id,
            "manager_id": manager,
            "person_id": person,
            "due_at": due_at,
            "created_at": self.clock(),
            "reminders": 0,
        }
        with self.tx(conn) as c:
            stmt = upsert_insert(c, checkins).on_conflict_do_nothing(
                index_elements=["award_id", "manager_id"]
            )
            return bool(c.execute(stmt.returning(checkins.c.id), [row]).all())

    def done(
        self, award_id: int, by: str, note: str | None, *, conn: Connection | None = None
    ) -> CheckIn:
        """Record a check-in; every open prompt for the award is closed by it. Recording it
        again changes nothing (the first record stands)."""
        with self.tx(conn) as c:
            rows = c.execute(select(checkins).where(checkins.c.award_id == award_id)).mappings()
            found = [to_model(CheckIn, r) for r in rows]
            if not found:
                raise UnknownCheckIn(f"no check-in is asked for award {award_id}")
            managers = sorted({f.manager_id for f in found})
            if by not in managers:
                raise UnknownCheckIn(
                    f"{by} is not asked to check in on award {award_id}; "
                    f"asked: {', '.join(managers)}"
                )
            done = [f for f in found if f.done_at is not None]
            if done:
                return done[0]
            now = self.clock()
            c.execute(
                update(checkins)
                .where(checkins.c.award_id == award_id, checkins.c.done_at.is_(None))
                .values(done_at=now, done_by=by, note=note)
            )
            row = c.execute(
                select(checkins).where(checkins.c.award_id == award_id, checkins.c.manager_id == by)
            ).mappings()
            return to_model(CheckIn, row.one())

    def overdue(self, now: datetime, *, conn: Connection | None = None) -> list[CheckIn]:
        query = (
            select(checkins)
            .where(and_(checkins.c.done_at.is_(None), checkins.c.due_at <= now))
            .order_by(checkins.c.id)
        )
        with self.tx(conn) as c:
            return [to_model(CheckIn, r) for r in c.execute(query).mappings()]

    def reminded(self, ident: int, due_at: datetime, *, conn: Connection | None = None) -> None:
        stmt = (
            update(checkins)
            .where(checkins.c.id == ident)
            .values(reminders=checkins.c.reminders + 1, due_at=due_at)
        )
        with self.tx(conn) as c:
            c.execute(stmt)

    def list(self, manager: str | None = None, *, conn: Connection | None = None) -> list[CheckIn]:
        query = select(checkins).order_by(checkins.c.id)
        if manager is not None:
            query = query.where(checkins.c.manager_id == manager)
        with self.tx(conn) as c:
            return [to_model(CheckIn, r) for r in c.execute(query).mappings()]

    def rate(self, *, conn: Connection | None = None) -> tuple[int, int]:
        """(awards with a check-in recorded, awards with one asked for)."""
        asked = select(func.count(func.distinct(checkins.c.award_id)))
        done = asked.where(checkins.c.done_at.is_not(None))
        with self.tx(conn) as c:
            return int(c.execute(done).scalar_one()), int(c.execute(asked).scalar_one())


class OptOuts(Repository):
    def add(self, person: str, kind: str, *, conn: Connection | None = None) -> bool:
        row = {"person_id": person, "kind": kind, "at": self.clock()}
        with self.tx(conn) as c:
            stmt = upsert_insert(c, optouts).on_conflict_do_nothing(
                index_elements=["person_id", "kind"]
            )
            return bool(c.execute(stmt.returning(optouts.c.person_id), [row]).all())

    def all(self, *, conn: Connection | None = None) -> dict[str, frozenset[str]]:
        found: dict[str, set[str]] = {}
        with self.tx(conn) as c:
            for person, kind in c.execute(select(optouts.c.person_id, optouts.c.kind)):
                found.setdefault(person, set()).add(kind)
        return {p: frozenset(k) for p, k in found.items()}
