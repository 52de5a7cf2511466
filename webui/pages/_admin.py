"""What the L&D pages (skills, identities, outbox) share: the admin check, form checks, and
the rules engine they read, kept warm between requests."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar, cast

from flask import abort, current_app

from plugin.engine import Engine, IdentityResolver
from plugin.engine.people import Unresolved
from plugin.manifest import Manifest
from plugin.replay import events_from_inbox
from plugin.store import Store
from webui.views import Viewer, refuse, ui, viewer

ROW_ID = re.compile(r"[0-9]{1,18}")  # fits a BIGINT; anything else is a tampered form
PAGE = 50
# Inbox ids read again on each catch-up: a transaction that took an id earlier may commit
# after a later one (as the pipeline's START_RECHECK); adding an event twice changes nothing.
RECHECK = 500
STATE = "skillrelay.webui.admin"
MAX_MEMO = 5000  # answers kept per app (suggestions, the manifest check)
T = TypeVar("T")


def admin(action: str, target: str | None = None) -> Viewer:
    """The signed-in admin; anyone else is refused (and the refusal audited)."""
    who = viewer()
    if not who.is_admin:
        refuse(403, action, target)
    return who


def row_id(value: str | None) -> int:
    """A row id from a form or link: digits only, else 400."""
    if value is None or not ROW_ID.fullmatch(value):
        abort(400)
    return int(value)


class EngineView:
    """The rules engine as `skillrelay explain` and `identities` rebuild it from the inbox,
    rebuilt once per process and then caught up with what was stored since: a page view
    reads the new events (and an admin's new mappings), not the whole inbox again.

    One lock: a page reads the engine only while no other request moves it."""

    def __init__(self, store: Store, manifest: Manifest) -> None:
        self.store = store
        self.manifest = manifest
        self.resolver = IdentityResolver(manifest)  # the manifest's own ids, no mappings
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._last = 0
        self._mapped_at: datetime | None = None
        self._unresolved: dict[tuple[str, str], Unresolved] | None = None

    @contextmanager
    def current(self) -> Iterator[Engine]:
        with self._lock:
            yield self._caught_up()

    def waiting(self) -> dict[tuple[str, str], Unresolved]:
        """(system, id) -> what waits for that id to be mapped."""
        with self._lock:
            engine = self._caught_up()
            if self._unresolved is None:
                self._unresolved = {(u.system, u.id): u for u in engine.unresolved()}
            return self._unresolved

    def _caught_up(self) -> Engine:
        store = self.store
        # When ids were last mapped is read before the mappings, so one made in between
        # is seen as a change next time (as the pipeline does).
        mapped_at = store.identities.last_mapped()
        last = store.inbox.last_id()
        engine = self._engine
        if engine is None:
            engine = Engine(self.manifest, store.identities.learned())
            engine.load(events_from_inbox(store, up_to_id=last))
            self._engine = engine
        else:
            if mapped_at != self._mapped_at:
                engine.relearn(store.identities.learned())
            after = max(0, self._last - RECHECK)
            for event in events_from_inbox(store, after_id=after, up_to_id=last):
                engine.add(event)
        if (mapped_at, last) != (self._mapped_at, self._last):
            self._unresolved = None
        self._mapped_at, self._last = mapped_at, last
        return engine


class AdminState:
    """What the admin pages keep between requests, per app (each app has its manifest)."""

    def __init__(self, store: Store, manifest: Manifest) -> None:
        self.view = EngineView(store, manifest)
        self._lock = threading.Lock()
        self._memo: dict[Hashable, Any] = {}

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`, remembered under `key` (put what the answer depends on in it)."""
        with self._lock:
            if key in self._memo:
                return cast(T, self._memo[key])
        found = compute()  # outside the lock: two requests may both compute, once each
        with self._lock:
            if len(self._memo) >= MAX_MEMO:
                self._memo.clear()
            self._memo[key] = found
        return found


def state() -> AdminState:
    """This app's admin state, made on first use (only the admin pages need it)."""
    found = current_app.extensions.get(STATE)
    if not isinstance(found, AdminState):
        services = ui()
        found = current_app.extensions.setdefault(
            STATE, AdminState(services.store, services.manifest)
        )
    assert isinstance(found, AdminState)
    return found


def engine_view() -> EngineView:
    return state().view
