"""Who started which module, and when (if ever) they completed it: read from the inbox for
the reminders planner.

A person "shows" a module when the inbox holds, for one of the module's keys, a `progress`
event (launched, viewed... see connectors.xapi_source) or a completion in any state. Per
(manifest person id, manifest module id):

- `first_at`: the earliest of those events. Until the module is completed that is the first
  progress or non-counting state (incomplete, failed); a completion can only make it earlier
  when nothing was seen before it, so a completed module has `first_at <= completed_at`.
- `completed_at`: the earliest counting completion (complete, passed), or None. It stays
  set when the completion is withdrawn later, as "completed it once".

Events of modules the manifest does not list, and of people no manifest person claims (by
the manifest or by `identities map`), are ignored. The payloads are read as plain dicts,
never as domain models: this runs over millions of events (see plugin.report.facts).

Reading incrementally: `read_started(store, manifest, after_id=last)` reads only the rows
stored after inbox id `last` (the id the previous call returned) and says what they show on
their own. Merge the answer into what you hold with `merge` (the earliest `first_at` and the
earliest `completed_at` of both): merging is idempotent and commutative, so merging every
answer gives what one read from the start gives, and reading some rows twice changes
nothing. Two cases need a read from the start (after_id=0) instead:

- on PostgreSQL an inbox id is taken before its row commits, so a row with a lower id can
  become visible after a higher one was read: read again with some overlap (for example
  `after_id=max(0, last - 1000)`) to pick such rows up, which merging makes harmless;
- people are resolved when their events are read: after an admin maps an identity
  (`Store.identities.last_mapped()` changes) older events of that person are only found by
  reading them again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from plugin.engine import IdentityResolver
from plugin.manifest import Manifest
from plugin.report.facts import PeopleCache
from plugin.store import Store
from plugin.store.inbox import read_payload_texts

KINDS = ("progress", "completion")
COUNTING = frozenset(("complete", "passed"))


@dataclass(frozen=True)
class Started:
    person: str  # manifest person id
    module: str  # manifest module id
    skill: str
    first_at: datetime
    completed_at: datetime | None


def read_started(
    store: Store, manifest: Manifest, after_id: int = 0, *, conn: Connection | None = None
) -> tuple[dict[tuple[str, str], Started], int]:
    """What the inbox rows after `after_id` show, per (person id, module id), and the last
    inbox id read (`after_id` when there was nothing new). `conn`: read inside the caller's
    transaction (on SQLite no other connection can begin while it holds the write lock)."""
    modules = manifest.modules_by_key
    people = _People(manifest, store, conn)
    seen: dict[tuple[str, str], list[Any]] = {}  # -> [skill, first_at, completed_at]
    last = after_id
    for inbox_id, kind, payload in _rows(store, conn, after_id):
        last = inbox_id
        if kind not in KINDS or not isinstance(payload, dict):
            continue  # a completion the pipeline set aside reads as "failed"
        key = payload.get("module")
        found = modules.get(key) if isinstance(key, str) else None
        if found is None:
            continue
        at = _time(payload.get("at"))
        if at is None:
            continue
        person = people(payload.get("person"))
        if person is None:
            continue
        skill, module = found
        entry = seen.get((person, module.id))
        if entry is None:
            entry = seen[person, module.id] = [skill.id, at, None]
        elif at < entry[1]:
            entry[1] = at
        counts = kind == "completion" and payload.get("state") in COUNTING
        if counts and (entry[2] is None or at < entry[2]):
            entry[2] = at
    started = {
        key: Started(key[0], key[1], skill, first, done)
        for key, (skill, first, done) in seen.items()
    }
    return started, last


def merge(known: dict[tuple[str, str], Started], newer: Mapping[tuple[str, str], Started]) -> None:
    """Fold a newer read into `known`, in place: per key the earliest start and the earliest
    completion of both."""
    for key, new in newer.items():
        old = known.get(key)
        if old is None:
            known[key] = new
            continue
        done = [d for d in (old.completed_at, new.completed_at) if d is not None]
        known[key] = replace(
            old, first_at=min(old.first_at, new.first_at), completed_at=min(done, default=None)
        )


class _People(PeopleCache):
    """PeopleCache, with the mapped identities read on the caller's connection."""

    def __init__(self, manifest: Manifest, store: Store, conn: Connection | None) -> None:
        self.resolver = IdentityResolver(manifest, store.identities.learned(conn=conn))
        self.cache = {}


def _rows(store: Store, conn: Connection | None, after_id: int) -> Iterator[tuple[int, str, Any]]:
    if conn is None:
        yield from store.inbox.payloads(KINDS, after_id=after_id)
        return
    for inbox_id, kind, text in read_payload_texts(conn, KINDS, after_id=after_id):
        try:
            payload = json.loads(text)
        except ValueError:
            continue
        yield inbox_id, kind, payload


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # as the sources read it
