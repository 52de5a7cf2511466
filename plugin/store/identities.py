"""Identities: how each system names a person, and which manifest person that is (if known)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, case, func, select

from plugin.store.base import Repository, to_model, upsert_insert
from plugin.store.models import Identity
from plugin.store.schema import identities


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
        seen = seen_at or self.clock()
        with self.tx(conn) as c:
            stmt = upsert_insert(c, identities).values(
                system=system,
                external_id=external_id,
                person_id=person_id,
                email=email,
                display_name=display_name,
                first_seen=seen,
                last_seen=seen,
            )
            new = stmt.excluded
            old = identities.c
            stmt = stmt.on_conflict_do_update(
                index_elements=["system", "external_id"],
                set_={
                    "person_id": func.coalesce(new.person_id, old.person_id),
                    "email": func.coalesce(new.email, old.email),
                    "display_name": func.coalesce(new.display_name, old.display_name),
                    # Sightings may arrive out of order (backfills): keep the extremes.
                    "first_seen": case(
                        (new.first_seen < old.first_seen, new.first_seen), else_=old.first_seen
                    ),
                    "last_seen": case(
                        (new.last_seen > old.last_seen, new.last_seen), else_=old.last_seen
                    ),
                },
            )
            c.execute(stmt)
            found = self.get(system, external_id, conn=c)
        assert found is not None
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

    def learned(self, *, conn: Connection | None = None) -> dict[tuple[str, str], str]:
        """(system, external id) -> person id for every identity an admin has mapped."""
        query = select(identities.c.system, identities.c.external_id, identities.c.person_id)
        query = query.where(identities.c.person_id.is_not(None))
        with self.tx(conn) as c:
            return {(system, ext): person for system, ext, person in c.execute(query)}
