"""What calls for a message, read from the ledger's history and the inbox since the last tick.

Each trigger has a natural key (the award event, the recipient, the kind), so reading the
same history twice plans nothing twice. The cursors move in the same transaction as the
notices they produced.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from plugin.manifest import Manifest
from plugin.store import Store
from plugin.store.inbox import KIND_BY_ID
from plugin.store.notices import NewNotice
from plugin.store.schema import award_events, awards, inbox

SOURCE = "notify"
GRANTED = ("approved", "fulfilled")
COUNTING = ("complete", "passed")


def _cursor(store: Store, stream: str, conn: Connection) -> int:
    found = store.cursors.get(SOURCE, stream, conn=conn)
    return int(found) if found else 0


def _award_vars(manifest: Manifest, row: Any) -> dict[str, Any]:
    skill = manifest.skills_by_id.get(row.skill_id)
    reward = manifest.rewards_by_id.get(row.reward_id)
    evidence = row.evidence or {}
    module = evidence.get("module")
    learner = manifest.people_by_id.get(row.person_id)
    return {
        "award_id": row.award_id,
        "learner": row.person_id,
        "learner_name": learner.name if learner else row.person_id,
        "skill_name": skill.name if skill else row.skill_id,
        "ticket": row.ticket_key,
        "ticket_url": evidence.get("ticket_url") or _browse(manifest, row.ticket_key),
        "module_title": module.get("title", "") if isinstance(module, dict) else "",
        "reward_name": reward.name if reward else row.reward_id,
        "points": row.points,
        "needs_approval": bool(reward and reward.approval),
    }


def _browse(manifest: Manifest, key: str) -> str | None:
    jira = manifest.jira
    return f"{str(jira.base_url).rstrip('/')}/browse/{key}" if jira else None


class _Notices:
    """The notices of one award event: keyed by the event, the kind and the recipient."""

    def __init__(self, event: int, at: datetime, base: dict[str, Any]) -> None:
        self.event, self.at, self.base = event, at, base

    def __call__(self, kind: str, recipient: str, **extra: Any) -> NewNotice:
        key = f"award:{self.event}:{kind}:{recipient}"
        return NewNotice(key, recipient, kind, self.at, {**self.base, **extra})


def award_triggers(
    store: Store, manifest: Manifest, conn: Connection, now: datetime
) -> Iterator[NewNotice]:
    """Notices for every award event since the cursor; check-ins asked on a first grant."""
    after = _cursor(store, "award_events", conn)
    query = (
        select(
            award_events.c.id,
            award_events.c.award_id,
            award_events.c.from_state,
            award_events.c.to_state,
            award_events.c.note,
            award_events.c.at,
            awards.c.person_id,
            awards.c.skill_id,
            awards.c.ticket_key,
            awards.c.reward_id,
            awards.c.points,
            awards.c.evidence,
        )
        .join(awards, awards.c.id == award_events.c.award_id)
        .where(award_events.c.id > after)
        .order_by(award_events.c.id)
        .limit(5000)
    )
    rows = conn.execute(query).all()
    due_days = manifest.notifications.checkins.due_days
    for row in rows:
        at = min(row.at, now)  # another worker's clock may run ahead: due now, not later
        base = _award_vars(manifest, row)
        learner, to, before = row.person_id, row.to_state, row.from_state
        notice = _Notices(row.id, at, base)
        if to == "pending_approval" and before in (None, "revoked"):
            yield notice("awarded", learner, state=to)
            for manager in manifest.managers_of(learner):
                yield notice("approval_needed", manager, manager=manager)
        elif to in GRANTED and before in (None, "pending_approval", "revoked"):
            if before != "pending_approval" or to == "approved":
                yield notice("awarded", learner, state=to)
            for manager in manifest.managers_of(learner):
                due = at + timedelta(days=due_days)
                if store.checkins.add(row.award_id, manager, learner, due, conn=conn):
                    yield notice("checkin_prompt", manager, manager=manager)
        elif to == "revoked":
            yield notice("revoked", learner, reason=row.note or "")
    if rows:
        store.cursors.set(SOURCE, "award_events", str(rows[-1].id), rows[-1].id, conn=conn)


def completion_triggers(
    store: Store, manifest: Manifest, conn: Connection, resolve: Any, now: datetime
) -> Iterator[NewNotice]:
    """An "apply it now" suggestion after a person's first completion of a skill's module."""
    after = _cursor(store, "completions", conn)
    query = (
        select(inbox.c.id, inbox.c.payload)
        .where(KIND_BY_ID == "completion", inbox.c.id > after)
        .order_by(inbox.c.id)
        .limit(5000)
    )
    rows = conn.execute(query).all()
    modules = manifest.modules_by_key
    for _, payload in rows:
        if not isinstance(payload, dict) or payload.get("state") not in COUNTING:
            continue
        found = modules.get(payload.get("module"))  # type: ignore[arg-type]
        person = resolve(payload.get("person"))
        at = _time(payload.get("at"))
        if found is None or person is None or at is None:
            continue
        skill, module = found
        yield NewNotice(
            f"apply:{person}:{skill.id}",
            person,
            "apply_suggestion",
            min(at, now),
            {"skill": skill.id, "skill_name": skill.name, "module_title": module.title},
        )
    if rows:
        store.cursors.set(SOURCE, "completions", str(rows[-1][0]), rows[-1][0], conn=conn)


def overdue_triggers(
    store: Store, manifest: Manifest, conn: Connection, now: datetime
) -> Iterator[NewNotice]:
    """A reminder for each check-in past due, every few days, a few times at most."""
    rules = manifest.notifications.checkins
    for checkin in store.checkins.overdue(now, conn=conn):
        if checkin.reminders >= rules.max_reminders:
            continue
        award = store.awards.get(checkin.award_id, conn=conn)
        if award is None:
            continue
        n = checkin.reminders + 1
        late = (now - checkin.due_at).days + (n - 1) * rules.remind_every_days
        base = _award_vars(manifest, _AwardRow(award, checkin.award_id))
        yield NewNotice(
            f"checkin:{checkin.award_id}:{checkin.manager_id}:overdue:{n}",
            checkin.manager_id,
            "checkin_overdue",
            now,
            {**base, "manager": checkin.manager_id, "days_overdue": max(late, 1)},
        )
        due = checkin.due_at + timedelta(days=rules.remind_every_days)
        store.checkins.reminded(checkin.id, due, conn=conn)


class _AwardRow:
    """An Award read as the history query's row, for the shared variables."""

    def __init__(self, award: Any, award_id: int) -> None:
        self.award_id = award_id
        self.person_id = award.person_id
        self.skill_id = award.skill_id
        self.ticket_key = award.ticket_key
        self.reward_id = award.reward_id
        self.points = award.points
        self.evidence = award.evidence


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
