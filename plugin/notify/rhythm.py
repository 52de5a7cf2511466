"""Messages that come from time passing: a reminder for a module started and left, and the
sprint's invitation, halfway nudge and wrap-up. Each has a natural key, so planning them on
every tick plans each once."""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from plugin.manifest import Manifest, Sprint
from plugin.notify.progress import Started
from plugin.store import Award
from plugin.store.ledger import EARNED_STATES
from plugin.store.notices import NewNotice


def _start_of(day: date, manifest: Manifest) -> datetime:
    return datetime.combine(day, time(9), manifest.organisation.zone)


def _module_url(module: Any) -> str | None:
    return str(module.xapi_activity) if module.xapi_activity else None


def stalled(
    started: Iterable[Started],
    manifest: Manifest,
    now: datetime,
    planned: Container[str] = frozenset(),
) -> Iterator[NewNotice]:
    """The reminders due by now for modules started and not completed; those whose key is in
    `planned` are skipped before anything is built (every tick walks every started module)."""
    rules = manifest.notifications.reminders
    if rules.max == 0:
        return
    modules = {m.id: (s, m) for s in manifest.skills for m in s.modules}
    for item in started:
        if item.completed_at is not None or item.module not in modules:
            continue
        skill, module = modules[item.module]
        reward = manifest.rewards_by_id.get(skill.reward)
        # Each reminder has its window (until the next one is due); a window that passed
        # while nobody planned (a new install, a long outage) is skipped, so people never
        # get several reminders at once, nor one for a module they left months ago.
        since = (now - item.first_at) / timedelta(days=1) - rules.after_days
        if since < 0:
            continue
        n = int(since // rules.every_days) + 1
        if n > rules.max:
            continue
        key = f"stalled:{item.person}:{item.module}:{n}"
        if key in planned:
            continue
        due = item.first_at + timedelta(days=rules.after_days + (n - 1) * rules.every_days)
        yield NewNotice(
            f"stalled:{item.person}:{item.module}:{n}",
            item.person,
            "stalled_reminder",
            due,
            {
                "module": item.module,
                "module_title": module.title,
                "module_minutes": module.minutes,
                "module_url": _module_url(module),
                "skill_name": skill.name,
                "days_since_start": (now - item.first_at).days,
                "reminder_number": n,
                "reminder_last": n == rules.max,
                "apply_reward": reward.name if reward else "",
            },
        )


def sprint_messages(
    manifest: Manifest,
    started: Mapping[tuple[str, str], Started],
    awards: Iterable[Award],
    now: datetime,
) -> Iterator[NewNotice]:
    """Invitations before a sprint, a nudge halfway to those who have not started, and a
    wrap-up with each participant's own results after it."""
    settings = manifest.notifications.sprints
    ledger: list[Award] | None = None
    for sprint in manifest.sprints:
        people = sorted(manifest.sprint_people(sprint))
        begin = _start_of(sprint.start, manifest)
        end = _start_of(sprint.end, manifest)
        invite = begin - timedelta(days=settings.invite_days_before)
        # Late joiners of a running sprint are invited in its first days, not at its end.
        if invite <= now < begin + timedelta(days=2):
            base = _invitation(manifest, sprint)
            for person in people:
                key = f"sprint:{sprint.id}:invitation:{person}"
                yield NewNotice(key, person, "sprint_invitation", invite, base)
        half = begin + (end - begin) / 2
        if settings.nudge and half <= now < end:
            focus = _focus_modules(manifest, sprint)
            for person in people:
                if not any((person, m["id"]) in started for m in focus):
                    key = f"sprint:{sprint.id}:nudge:{person}"
                    days_left = (
                        sprint.end - now.astimezone(manifest.organisation.zone).date()
                    ).days
                    variables = {"sprint_id": sprint.id, "days_left": days_left, "modules": focus}
                    yield NewNotice(key, person, "sprint_nudge", half, variables)
        if settings.wrapup and end <= now < end + timedelta(days=3):
            ledger = list(awards) if ledger is None else ledger
            for person in people:
                key = f"sprint:{sprint.id}:wrapup:{person}"
                variables = _results(manifest, sprint, person, started, ledger)
                yield NewNotice(key, person, "sprint_wrapup", end, variables)


def _focus_modules(manifest: Manifest, sprint: Sprint) -> list[dict[str, Any]]:
    skills = sprint.focus_skills or tuple(s.id for s in manifest.skills)
    return [
        {"id": m.id, "title": m.title, "minutes": m.minutes, "url": _module_url(m)}
        for s in manifest.skills
        if s.id in skills
        for m in s.modules
    ]


def _invitation(manifest: Manifest, sprint: Sprint) -> dict[str, Any]:
    skills = [
        s
        for s in manifest.skills
        if s.id in (sprint.focus_skills or [s.id for s in manifest.skills])
    ]
    rewards = []
    for skill in skills:
        reward = manifest.rewards_by_id.get(skill.reward)
        if reward is not None and reward.name not in rewards:
            rewards.append(reward.name)
    return {
        "sprint_id": sprint.id,
        "start": sprint.start.isoformat(),
        "end": (sprint.end - timedelta(days=1)).isoformat(),
        "days": sprint.length_days,
        "focus_skills": [
            {
                "name": s.name,
                "modules": [
                    {"title": m.title, "minutes": m.minutes, "url": _module_url(m)}
                    for m in s.modules
                ],
            }
            for s in skills
        ],
        "rewards": rewards,
    }


def _results(
    manifest: Manifest,
    sprint: Sprint,
    person: str,
    started: Mapping[tuple[str, str], Started],
    awards: list[Award],
) -> dict[str, Any]:
    zone = manifest.organisation.zone
    titles = {m.id: m.title for s in manifest.skills for m in s.modules}
    completed = sorted(
        titles.get(module, module)
        for (who, module), item in started.items()
        if who == person
        and item.completed_at is not None
        and sprint.contains(item.completed_at.astimezone(zone).date())
    )
    mine = [a for a in awards if a.person_id == person and a.sprint_id == sprint.id]
    return {
        "sprint_id": sprint.id,
        "completed": completed,
        "applied": [
            {
                "skill": manifest.skills_by_id[a.skill_id].name
                if a.skill_id in manifest.skills_by_id
                else a.skill_id,
                "ticket": a.ticket_key,
                "url": (a.evidence or {}).get("ticket_url"),
            }
            for a in mine
        ],
        "points": sum(a.points for a in mine if a.state in EARNED_STATES),
        "awards": [
            manifest.rewards_by_id[a.reward_id].name
            if a.reward_id in manifest.rewards_by_id
            else a.reward_id
            for a in mine
            if a.state in EARNED_STATES or a.state == "pending_approval"
        ],
    }
