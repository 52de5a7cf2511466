"""One planning tick: read new triggers, fold what did not fit into digests, decide every
pending message against the budget, and queue what is sent as outbox effects.

A tick plans in one transaction and sends in another, each under the planner lock, so
several workers on PostgreSQL plan one at a time and a message is queued once: its outbox key
is `notify:<notice key>:<channel>`, and the notice is marked sent in the same transaction.
What needs the network (the "apply it now" searches in Jira, the languages of people's
profiles) is asked between the two, with no transaction open: a slow Jira must not hold the
write lock that every webhook delivery waits for on SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from plugin.manifest import Manifest
from plugin.manifest.people import Person
from plugin.notify import budget
from plugin.notify.locale import Locales
from plugin.notify.progress import Started, read_started
from plugin.notify.rhythm import sprint_messages, stalled
from plugin.notify.triggers import award_triggers, completion_triggers, overdue_triggers
from plugin.notify.unsubscribe import link
from plugin.notify.words import KINDS, Words
from plugin.report.facts import PeopleCache
from plugin.store import Award, Store
from plugin.store.base import utc_now
from plugin.store.notices import NewNotice, Notice

REREAD = 1000  # inbox ids read again on each tick
PER_TICK = 2000  # messages decided per tick at most (about 2 s of one write transaction)
PLANNER_LOCK = 0x736B6C6E6F74  # another constant than the decider's: planning never waits on it
CHANNEL_TARGET = {
    "email": ("email", "send"),
    "chat": ("chat", "post"),
    "moodle_message": ("moodle", "message"),
    "jira_comment": ("jira", "mention"),
}
Suggest = Callable[[str, str], list[dict[str, str]]]  # (skill id, person) -> open tickets


@dataclass
class TickStats:
    planned: int = 0
    sent: int = 0
    digested: int = 0
    dropped: int = 0
    held: int = 0


@dataclass(frozen=True)
class Links:
    """Where the unsubscribe link points and the key that signs it (None: no link)."""

    public_url: str | None = None
    secret: bytes | None = None


class Scheduler:
    def __init__(
        self,
        store: Store,
        manifest: Manifest,
        words: Words,
        *,
        suggest: Suggest | None = None,
        links: Links = Links(),
        clock: Callable[[], datetime] = utc_now,
        locales: Callable[[Person], str] | None = None,
        per_tick: int = PER_TICK,
    ) -> None:
        self.store, self.manifest, self.words = store, manifest, words
        self.suggest, self.links, self.clock = suggest, links, clock
        self.locales = locales or Locales()
        people = manifest.people_by_id
        self.resolve = _resolver(store, manifest)
        self.zones = {p.id: ZoneInfo(p.timezone) for p in people.values() if p.timezone}
        self.default_zone = manifest.organisation.zone
        # Who started which module, read incrementally from the inbox across ticks.
        self.started: dict[tuple[str, str], Started] = {}
        self.read_up_to = 0
        self.planned: set[str] = set()  # notice keys written (a restart re-learns them)
        self.per_tick = per_tick

    def tick(self) -> TickStats:
        stats = TickStats()
        now = self.clock()
        with self.store.transaction() as conn:
            _planner_lock(conn)
            self._read_started(conn)
            found: list[NewNotice] = [
                *award_triggers(self.store, self.manifest, conn, now),
                *completion_triggers(self.store, self.manifest, conn, self.resolve, now),
                *overdue_triggers(self.store, self.manifest, conn, now),
                *stalled(self.started.values(), self.manifest, now, self.planned),
                *sprint_messages(self.manifest, self.started, _Awards(self.store, conn), now),
            ]
            # Time-based triggers come up again on every tick while their window is open:
            # the keys planned so far are remembered, so each is written once.
            new = [n for n in found if n.key not in self.planned]
            stats.planned = self.store.notices.add_many(new, conn=conn)
        self.planned.update(n.key for n in new)  # only once committed: a failed tick retries them
        searched = self._ask_ahead(now)
        with self.store.transaction() as conn:
            _planner_lock(conn)
            self._digests(conn, now)
            # A bounded share of what is due per tick: sending is one write transaction, and
            # on SQLite nothing else writes meanwhile (the rest goes on the next ticks).
            due = self.store.notices.pending(now, limit=self.per_tick, conn=conn)
            pending = self._with_tickets(due, searched, conn, stats)
            verdicts = budget.decide(
                [budget.Pending(n.id, n.person_id, n.kind, n.due_at) for n in pending],
                self.store.notices.sent_since(
                    now - budget.WEEK, people={n.person_id for n in pending}, conn=conn
                ),
                now,
                self._rules(conn),
            )
            by_id = {n.id: n for n in pending}
            writes = _Writes()
            for verdict in verdicts:
                self._apply(by_id[verdict.id], verdict, writes, now, stats)
            writes.flush(self.store, conn, now)
        return stats

    def _ask_ahead(self, now: datetime) -> dict[int, list[dict[str, str]]]:
        """What the sending transaction will need from the network, asked with none open: the
        languages of the people with messages due or digests to fold (each asked once per
        process), and the open tickets of each "apply it now" due without them, by notice id."""
        with self.store.transaction() as conn:
            due = self.store.notices.pending(now, limit=self.per_tick, conn=conn)
            folded = self.store.notices.folded(conn=conn)
        people = self.manifest.people_by_id
        for person_id in sorted({n.person_id for n in due} | set(folded)):
            if person_id in people:
                self.locales(people[person_id])
        searched = {}
        for notice in due:
            if (
                self.suggest is not None
                and notice.kind == "apply_suggestion"
                and not _has_tickets(notice)
            ):
                searched[notice.id] = self.suggest(
                    notice.variables.get("skill", ""), notice.person_id
                )
        return searched

    def _read_started(self, conn: Connection) -> None:
        # On PostgreSQL a lower inbox id can commit after a higher one: re-read a margin
        # each time (merging is idempotent), so a late commit is never skipped.
        after = max(0, self.read_up_to - REREAD)
        found, last = read_started(self.store, self.manifest, after, conn=conn)
        self.read_up_to = max(self.read_up_to, last)
        for key, item in found.items():
            self.started[key] = _merge(self.started.get(key), item)

    def _with_tickets(
        self,
        pending: list[Notice],
        searched: Mapping[int, list[dict[str, str]]],
        conn: Connection,
        stats: TickStats,
    ) -> list[Notice]:
        """ "Apply it now" is only worth a message with open tickets in it: they were looked up
        before the budget is spent (`searched`), and the suggestion is dropped without. One
        that another planner queued after the search waits for the next tick."""
        kept = []
        for notice in pending:
            if notice.kind == "stalled_reminder":
                item = self.started.get((notice.person_id, str(notice.variables.get("module"))))
                if item is not None and item.completed_at is not None:
                    done = "the module was completed meanwhile"
                    self.store.notices.mark([notice.id], status="dropped", reason=done, conn=conn)
                    stats.dropped += 1
                    continue
            if notice.kind != "apply_suggestion" or _has_tickets(notice):
                kept.append(notice)
                continue
            if self.suggest is not None and notice.id not in searched:
                continue
            tickets = searched.get(notice.id)
            if tickets:
                variables = {**notice.variables, "tickets": tickets}
                self.store.notices.mark([notice.id], variables=variables, conn=conn)
                kept.append(replace(notice, variables=variables))
                continue
            skill = notice.variables.get("skill", "")
            why = (
                "no Jira search to find open tickets with"
                if self.suggest is None
                else f"no open ticket shows {notice.variables.get('skill_name', skill)}"
            )
            self.store.notices.mark([notice.id], status="dropped", reason=why, conn=conn)
            stats.dropped += 1
        return kept

    def _rules(self, conn: Connection) -> budget.Rules:
        settings = self.manifest.notifications.budget
        quiet = settings.quiet_hours
        opted: dict[str, set[str]] = {
            p: set(k) for p, k in self.manifest.notifications.opt_out.items()
        }
        for person, kinds in self.store.optouts.all(conn=conn).items():
            opted.setdefault(person, set()).update(kinds)
        return budget.Rules(
            per_day=settings.per_person_per_day,
            per_week=settings.per_person_per_week,
            quiet=(time.fromisoformat(quiet.start), time.fromisoformat(quiet.end))
            if quiet
            else None,
            zones=self.zones,
            default_zone=self.default_zone,
            opted_out={p: frozenset(k) for p, k in opted.items()},
        )

    def _apply(
        self,
        notice: Notice,
        verdict: budget.Verdict,
        writes: _Writes,
        now: datetime,
        stats: TickStats,
    ) -> None:
        if verdict.outcome == "hold":
            stats.held += 1
            if notice.reason != verdict.reason:
                writes.mark(notice.id, None, verdict.reason)
            return
        if verdict.outcome in ("drop", "digest"):
            stats.dropped += verdict.outcome == "drop"
            stats.digested += verdict.outcome == "digest"
            writes.mark(
                notice.id, "dropped" if verdict.outcome == "drop" else "digested", verdict.reason
            )
            return
        why = self._send(notice, writes, now)
        if why is None:
            stats.sent += 1
        else:
            stats.dropped += 1
            writes.mark(notice.id, "dropped", why)

    def _send(self, notice: Notice, writes: _Writes, now: datetime) -> str | None:
        """Queue the message on the first channel that reaches the person; the reason it
        cannot be sent otherwise."""
        person = self.manifest.people_by_id.get(notice.person_id)
        if person is None:
            return f"{notice.person_id} is no longer in the manifest"
        variables = dict(notice.variables)
        channel = next(
            (
                c.type
                for c in self.manifest.notifications.channels_for(notice.kind)
                if _reaches(c.type, person, variables)
            ),
            None,
        )
        if channel is None:
            return f"no channel reaches {person.id} for {notice.kind}"
        lang = self.locales(person)
        rendered = self.words.render(
            notice.kind, lang, self._variables(notice, person, variables), fallback=True
        )
        target, action = CHANNEL_TARGET[channel]
        payload = {
            "person": person.id,
            "kind": notice.kind,
            "lang": lang,
            "subject": rendered.subject,
            "text": rendered.text,
            "html": rendered.html,
            "to": {
                "name": person.name,
                "email": person.email,
                "jira_account_id": person.jira_account_id,
                "jira_username": None,
                "moodle_user_id": person.moodle_user_id,
            },
            "ticket": variables.get("ticket"),
            "links": _links(variables),
            "unsubscribe_url": self._unsubscribe(person.id, notice.kind),
        }
        writes.effects.append((f"notify:{notice.key}:{channel}", target, action, payload))
        writes.sent.setdefault(channel, []).append(notice.id)
        return None

    def _variables(
        self, notice: Notice, person: Person, variables: Mapping[str, Any]
    ) -> dict[str, Any]:
        found = {
            **variables,
            "person_name": person.name,
            "org_name": self.manifest.organisation.name,
            "unsubscribe_url": self._unsubscribe(person.id, notice.kind),
        }
        if "manager" in variables:
            found["manager_name"] = person.name
            verb = "awards approve" if notice.kind == "approval_needed" else "checkins done"
            found["command"] = f"skillrelay {verb} {variables['award_id']} --by {person.id}"
        allowed = KINDS.get(notice.kind, frozenset())
        return {k: v for k, v in found.items() if k in allowed}

    def _unsubscribe(self, person: str, kind: str) -> str | None:
        if not self.links.public_url or not self.links.secret or kind in budget.NEVER_OPTIONAL:
            return None
        return link(self.links.public_url, self.links.secret, person, kind)

    def _digests(self, conn: Connection, now: datetime) -> None:
        """Fold each person's digested messages into one digest message."""
        for person_id, items in self.store.notices.folded(conn=conn).items():
            person = self.manifest.people_by_id.get(person_id)
            if person is None:
                continue
            lang = self.locales(person)
            rendered = []
            for item in items:
                r = self.words.render(
                    item.kind, lang, self._variables(item, person, item.variables), fallback=True
                )
                # The greeting and the sign-off once, around the digest, not around each item.
                middle = r.text.split("\n\n")[1:-1]
                rendered.append({"subject": r.subject, "text": "\n\n".join(middle)})
            waiting = self.store.notices.pending_of(person_id, budget.DIGEST, conn=conn)
            if waiting is not None:  # one digest per person: what folds meanwhile joins it
                merged = [*waiting.variables.get("items", []), *rendered]
                self.store.notices.mark([waiting.id], variables={"items": merged}, conn=conn)
                digest = waiting
            else:
                key = f"digest:{person_id}:{items[0].id}"
                due = self._next_digest(person, now)
                self.store.notices.add_many(
                    [NewNotice(key, person_id, budget.DIGEST, due, {"items": rendered})],
                    conn=conn,
                )
                found = self.store.notices.get_by_key(key, conn=conn)
                assert found is not None
                digest = found
            self.store.notices.mark([i.id for i in items], digest_id=digest.id, conn=conn)

    def _next_digest(self, person: Person, now: datetime) -> datetime:
        """The next digest time in the person's zone: daily, or on Mondays."""
        settings = self.manifest.notifications.budget
        zone = self.zones.get(person.id, self.default_zone)
        local = now.astimezone(zone)
        at = time.fromisoformat(settings.digest_at)
        day = local.date()
        while True:
            moment = datetime.combine(day, at, zone)
            if moment > now and (settings.digest == "daily" or day.weekday() == 0):
                return moment
            day += timedelta(days=1)


def _planner_lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PLANNER_LOCK})


def _has_tickets(notice: Notice) -> bool:
    return "tickets" in notice.variables


def _reaches(channel: str, person: Person, variables: Mapping[str, Any]) -> bool:
    if channel == "moodle_message":
        return person.moodle_user_id is not None
    if channel == "jira_comment":
        return bool(variables.get("ticket")) and bool(person.jira_account_id)
    return True  # e-mail (every person has one) and the team chat


def _links(variables: Mapping[str, Any]) -> list[dict[str, str]]:
    found = []
    if variables.get("ticket_url"):
        found.append({"text": str(variables.get("ticket")), "url": str(variables["ticket_url"])})
    for ticket in variables.get("tickets") or ():
        found.append(
            {"text": f"{ticket['key']} {ticket.get('summary') or ''}".strip(), "url": ticket["url"]}
        )
    return found


def _resolver(store: Store, manifest: Manifest) -> Callable[[Any], str | None]:
    return PeopleCache(manifest, store)


class _Awards:
    """The ledger, read only when a sprint's wrap-up needs it (most ticks it is not)."""

    def __init__(self, store: Store, conn: Connection) -> None:
        self.store, self.conn = store, conn

    def __iter__(self) -> Iterator[Award]:
        return iter(self.store.awards.list(conn=self.conn))


def _merge(old: Started | None, new: Started) -> Started:
    """What is known of one person's module after a newer read: the earliest start and the
    earliest completion of both."""
    if old is None:
        return new
    done = [d for d in (old.completed_at, new.completed_at) if d is not None]
    return replace(
        new, first_at=min(old.first_at, new.first_at), completed_at=min(done) if done else None
    )


@dataclass
class _Writes:
    """A tick's decisions, written together at its end: one UPDATE per fate and reason, one
    INSERT of all the effects (per notice they cost more than deciding it)."""

    marks: dict[tuple[str | None, str], list[int]] = field(default_factory=dict)
    sent: dict[str, list[int]] = field(default_factory=dict)
    effects: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)

    def mark(self, ident: int, status: str | None, reason: str) -> None:
        self.marks.setdefault((status, reason), []).append(ident)

    def flush(self, store: Store, conn: Connection, now: datetime) -> None:
        for (status, reason), ids in self.marks.items():
            values: dict[str, Any] = {"reason": reason}
            if status is not None:
                values["status"] = status
            store.notices.mark(ids, conn=conn, **values)
        for channel, ids in self.sent.items():
            store.notices.mark(
                ids,
                status="sent",
                channel=channel,
                sent_at=now,
                reason="within the budget",
                conn=conn,
            )
        store.outbox.enqueue_many(self.effects, conn=conn)
