"""Web UI accounts (a password hash per manifest person) and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from plugin.errors import SkillrelayError
from plugin.store.base import Repository, to_model
from plugin.store.models import Json
from plugin.store.schema import audit, users

# The password hash of an account that signs in by single sign-on only: no password hash
# starts with "!", so no password ever matches it (a locked account, as in Unix shadow files).
NO_PASSWORD = "!sso-only"  # noqa: S105 (a marker that matches no password)


@dataclass(frozen=True)
class User:
    person_id: str
    password_hash: str
    is_admin: bool
    created_at: datetime
    updated_at: datetime

    @property
    def has_password(self) -> bool:
        return not self.password_hash.startswith("!")


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    person_id: str | None
    action: str
    target: str | None
    detail: Json | None
    remote_addr: str | None


class UserExists(SkillrelayError):
    exit_code = 2


class UnknownUser(SkillrelayError):
    exit_code = 2


class Users(Repository):
    def get(self, person_id: str, *, conn: Connection | None = None) -> User | None:
        with self.tx(conn) as c:
            row = c.execute(select(users).where(users.c.person_id == person_id)).mappings()
            found = row.first()
        return to_model(User, found) if found else None

    def add(
        self,
        person_id: str,
        password_hash: str,
        *,
        is_admin: bool = False,
        conn: Connection | None = None,
    ) -> User:
        """A new account; UserExists when the person has one (change it with set_password)."""
        now = self.clock()
        values = {
            "person_id": person_id,
            "password_hash": password_hash,
            "is_admin": is_admin,
            "created_at": now,
            "updated_at": now,
        }
        with self.tx(conn) as c:
            if c.execute(select(users.c.person_id).where(users.c.person_id == person_id)).first():
                raise UserExists(f"{person_id} has an account already; `users passwd` changes it")
            c.execute(insert(users), values)
        return to_model(User, values)

    def set_password(
        self,
        person_id: str,
        password_hash: str,
        *,
        is_admin: bool | None = None,
        conn: Connection | None = None,
    ) -> User:
        values: dict[str, object] = {"password_hash": password_hash, "updated_at": self.clock()}
        if is_admin is not None:
            values["is_admin"] = is_admin
        stmt = (
            update(users).where(users.c.person_id == person_id).values(**values).returning(*users.c)
        )
        with self.tx(conn) as c:
            row = c.execute(stmt).mappings().first()
        if row is None:
            raise UnknownUser(f"{person_id} has no account; `users add` creates one")
        return to_model(User, row)

    def list(self, *, conn: Connection | None = None) -> list[User]:
        with self.tx(conn) as c:
            rows = c.execute(select(users).order_by(users.c.person_id)).mappings()
            return [to_model(User, r) for r in rows]


class Audit(Repository):
    def add(
        self,
        person_id: str | None,
        action: str,
        target: str | None = None,
        detail: Json | None = None,
        remote_addr: str | None = None,
        *,
        conn: Connection | None = None,
    ) -> None:
        values = {
            "at": self.clock(),
            "person_id": person_id,
            "action": action,
            "target": target,
            "detail": detail,
            "remote_addr": remote_addr,
        }
        with self.tx(conn) as c:
            c.execute(insert(audit), values)

    def list(
        self, limit: int = 200, person: str | None = None, *, conn: Connection | None = None
    ) -> list[AuditEntry]:
        """The newest first."""
        query = select(audit).order_by(audit.c.id.desc()).limit(limit)
        if person is not None:
            query = query.where(audit.c.person_id == person)
        with self.tx(conn) as c:
            return [to_model(AuditEntry, r) for r in c.execute(query).mappings()]
