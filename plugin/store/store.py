"""The Store: one engine, the repositories over it, and transactions that span them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL

from plugin.store.base import Clock, utc_now
from plugin.store.cursors import Cursors
from plugin.store.decisions import Decisions
from plugin.store.engine import begin, make_engine, safe_url
from plugin.store.identities import Identities
from plugin.store.inbox import Inbox
from plugin.store.intake import InboxWriter
from plugin.store.ledger import Ledger
from plugin.store.migrate import check_at_head
from plugin.store.notices import CheckIns, Notices, OptOuts
from plugin.store.outbox import Outbox
from plugin.store.users import Audit, Users


class Store:
    """Open with Store.open(url); pass `store.transaction()`'s connection as `conn=` to make
    several repository calls (a decision, its award, its outbox effects) commit together."""

    def __init__(self, engine: Engine, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock
        self.inbox = Inbox(engine, clock)
        self.awards = Ledger(engine, clock)
        self.outbox = Outbox(engine, clock)
        self.cursors = Cursors(engine, clock)
        self.identities = Identities(engine, clock)
        self.decisions = Decisions(engine, clock)
        self.notices = Notices(engine, clock)
        self.checkins = CheckIns(engine, clock)
        self.optouts = OptOuts(engine, clock)
        self.users = Users(engine, clock)  # the web UI's accounts
        self.audit = Audit(engine, clock)
        self.inbox_writer = InboxWriter(engine)  # the webhooks' path into the inbox

    @classmethod
    def open(cls, url: str | URL, *, clock: Clock = utc_now) -> Store:
        """Connect and check the schema is current (else StoreError: run `db upgrade`)."""
        engine = make_engine(url)
        try:
            check_at_head(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, clock)

    @property
    def url(self) -> str:
        """The database URL, safe to print: no password."""
        return safe_url(self.engine.url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with begin(self.engine) as conn:
            yield conn

    def close(self) -> None:
        self.inbox_writer.close()
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
