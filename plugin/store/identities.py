"""Identities: how each system names a person, and which manifest person that is (if known)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, func, select, tuple_, update

from plugin.store.base import Repository, prepared, to_model, upsert_insert
from plugin.store.models import Identity
from plugin.store.schema import identities

_LAST_MAPPED = select(func.max(identities.c.mapped_at))


@dataclass(frozen=True)
class Sighting:
    """One system's id for a person, seen at a time (the person when the manifest knows)."""

    system: str
    external_id: str
    person_id: str | None = None
    email: str | None = None
    display_name: str | None = None
    seen_at: datetime | None = None


class Identities(Repository):
    def upsert(
        self,
        system: str,
        external_id: str,
        person_id: str | None = None,
        email: str | None = None,
        display_name: str | None = None,
        seen_at: datetime | None = None,
        *,
        conn: Connection | None = None,
    ) -> Identity:
        """Record a sighting. Known fields are never erased by a later sighting that lacks them."""
        sighting = Sighting(system, external_id, person_id, email, display_name, seen_at)
        with self.tx(conn) as c:
            self.record([sighting], conn=c)
            found = self.get(system, external_id, conn=c)
        assert found is not None
        return found

    def record(self, sightings: Iterable[Sighting], *, conn: Connection | None = None) -> None:
        """Record many sightings with one statement (merged first: one row per id)."""
        now = self.clock()
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for s in sightings:
            seen = s.seen_at or now
            row = rows.get((s.system, s.external_id))
            if row is None:
                rows[(s.system, s.external_id)] = {
                    "system": s.system,
                    "external_id": s.external_id,
                    "person_id": s.person_id,
                    "email": s.email,
                    "display_name": s.display_name,
                    "first_seen": seen,
                    "last_seen": seen,
                    "mapped_at": None,
                }
                continue
            for name in ("person_id", "email", "display_name"):
                row[name] = getattr(s, name) or row[name]
            row["first_seen"] = min(row["first_seen"], seen)
            row["last_seen"] = max(row["last_seen"], seen)
        if rows:
            with self.tx(conn) as c:
                c.execute(prepared(c, "identities.upsert", _upsert), list(rows.values()))

    def map(
        self, system: str, external_id: str, person_id: str, *, conn: Connection | None = None
    ) -> Identity:
        """An admin's mapping: the id is this person (mapped_at tells workers to look)."""
        with self.tx(conn) as c:
            self.record([Sighting(system, external_id, person_id)], conn=c)
            stmt = update(identities).where(
                identities.c.system == system, identities.c.external_id == external_id
            )
            c.execute(stmt.values(person_id=person_id, mapped_at=self.clock()))
            found = self.get(system, external_id, conn=c)
        assert found is not None
        return found

    def last_mapped(self, *, conn: Connection | None = None) -> datetime | None:
        """When an admin last mapped an id (None: never)."""
        with self.tx(conn) as c:
            found: datetime | None = c.execute(_LAST_MAPPED).scalar()
        return found

    def get(
        self, system: str, external_id: str, *, conn: Connection | None = None
    ) -> Identity | None:
        query = select(identities).where(
            identities.c.system == system, identities.c.external_id == external_id
        )
        with self.tx(conn) as c:
            row = c.execute(query).mappings().first()
        return to_model(Identity, row) if row else None

    def unmatched(self, *, conn: Connection | None = None) -> list[Identity]:
        """Identities no manifest person claims yet, for an admin to map."""
        query = (
            select(identities)
            .where(identities.c.person_id.is_(None))
            .order_by(identities.c.system, identities.c.external_id)
        )
        with self.tx(conn) as c:
            return [to_model(Identity, r) for r in c.execute(query).mappings()]

    def unmatched_page(
        self,
        after: tuple[str, str] | None = None,
        limit: int = 50,
        *,
        conn: Connection | None = None,
    ) -> list[Identity]:
        """One page of `unmatched`, in (system, external id) order after `after`: a keyset,
        so a late page costs what the first one does."""
        query = select(identities).where(identities.c.person_id.is_(None))
        if after is not None:
            key = tuple_(identities.c.system, identities.c.external_id)
            query = query.where(key > tuple_(*after))
        query = query.order_by(identities.c.system, identities.c.external_id).limit(limit)
        with self.tx(conn) as c:
            return [to_model(Identity, r) for r in c.execute(query).mappings()]

    def count_unmatched(self, *, conn: Connection | None = None) -> int:
        query = select(func.count()).select_from(identities).where(identities.c.person_id.is_(None))
        with self.tx(conn) as c:
            return int(c.execute(query).scalar_one())

    def learned(self, *, conn: Connection | None = None) -> dict[tuple[str, str], str]:
        """(system, external id) -> person id for every identity an admin has mapped."""
        query = select(identities.c.system, identities.c.external_id, identities.c.person_id)
        query = query.where(identities.c.person_id.is_not(None))
        with self.tx(conn) as c:
            return {(system, ext): person for system, ext, person in c.execute(query)}


def _upsert(conn: Connection) -> Any:
    """The sighting upsert for this database (see `prepared`)."""
    stmt = upsert_insert(conn, identities)
    new, old = stmt.excluded, identities.c
    return stmt.on_conflict_do_update(
        index_elements=["system", "external_id"],
        set_={
            "person_id": func.coalesce(new.person_id, old.person_id),
            "email": func.coalesce(new.email, old.email),
            "display_name": func.coalesce(new.display_name, old.display_name),
            # Sightings may arrive out of order (backfills): keep the extremes.
            "first_seen": case(
                (new.first_seen < old.first_seen, new.first_seen), else_=old.first_seen
            ),
            "last_seen": case((new.last_seen > old.last_seen, new.last_seen), else_=old.last_seen),
        },
    )
