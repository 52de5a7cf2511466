"""The manifest's sprints, and one page per sprint: who takes part, its modules, the skills
applied (awards whose ticket was done in the sprint's days) and its awards. A manager sees
their teams' people and their own, a learner themself, an admin everyone."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from flask import abort, render_template

from plugin.manifest import Module, Skill, Sprint
from plugin.store.ledger import COUNTED_STATES, EARNED_STATES, AwardFilter
from plugin.store.schema import AWARD_STATES
from webui import nav, words
from webui.pages._programme import (
    APPLIED,
    PAGE,
    arg,
    bad,
    cached,
    dates,
    learners,
    participants,
    person_name,
    reward_name,
    skill_name,
    teams_of,
    today,
    visible_people,
)
from webui.pages.ledger import line
from webui.views import bp, t, ui, viewer

PAGE_NUMBER = re.compile(r"[1-9][0-9]{0,5}")

words.add(
    {
        "en": {
            "sprints": "Sprints",
            "sprints_title": "Sprints",
            "sprints_dates": "Dates",
            "sprints_focus": "Focus skills",
            "sprints_people": "Taking part",
            "sprints_people_mine": "Your people taking part",
            "sprints_now": "running now",
            "sprints_all_skills": "all skills",
            "sprint_title": "Sprint {id}",
            "sprint_participants": "Participants",
            "sprint_nobody": "None of the people you may see takes part in this sprint.",
            "sprint_started": "Started a module",
            "sprint_completed": "Completed a module",
            "sprint_applications_count": "Skills applied",
            "sprint_points": "Points earned",
            "sprint_yes": "yes",
            "sprint_no": "not yet",
            "sprint_modules": "Modules",
            "sprint_minutes": "Minutes",
            "sprint_applications": "Skills applied at work",
            "sprint_applications_note": "Awards whose ticket was done during the sprint, "
            "newest first.",
            "sprint_no_applications": "Nobody has applied a skill in this sprint yet.",
            "sprint_all_in_ledger": "All {count} in the ledger",
            "sprint_awards": "Awards",
            "sprint_by_reward": "By reward (not turned down or taken back)",
            "sprint_count": "Awards",
            "sprint_pages": "Participant pages",
            "sprint_previous": "← Previous participants",
            "sprint_next": "Next participants →",
            "sprint_page_of": "Page {page} of {pages}",
            "sprint_bad_page": "“{value}” is not a page of this list.",
        },
        "ru": {
            "sprints": "Спринты",
            "sprints_title": "Спринты",
            "sprints_dates": "Даты",
            "sprints_focus": "Навыки в фокусе",
            "sprints_people": "Участников",
            "sprints_people_mine": "Ваших участников",
            "sprints_now": "идёт сейчас",
            "sprints_all_skills": "все навыки",
            "sprint_title": "Спринт {id}",
            "sprint_participants": "Участники",
            "sprint_nobody": "Никто из тех, кого вы видите, не участвует в этом спринте.",
            "sprint_started": "Модуль начат",
            "sprint_completed": "Модуль пройден",
            "sprint_applications_count": "Применений навыка",
            "sprint_points": "Заработано баллов",
            "sprint_yes": "да",
            "sprint_no": "пока нет",
            "sprint_modules": "Модули",
            "sprint_minutes": "Минут",
            "sprint_applications": "Навыки, применённые в работе",
            "sprint_applications_note": "Награды за задачи, закрытые во время спринта; "
            "сначала самые новые.",
            "sprint_no_applications": "В этом спринте навыки пока никто не применил.",
            "sprint_all_in_ledger": "Все ({count}) в журнале наград",
            "sprint_awards": "Награды",
            "sprint_by_reward": "По видам наград (кроме отклонённых и отозванных)",
            "sprint_count": "Наград",
            "sprint_pages": "Страницы списка участников",
            "sprint_previous": "← Предыдущие участники",
            "sprint_next": "Следующие участники →",
            "sprint_page_of": "Страница {page} из {pages}",
            "sprint_bad_page": "Страницы «{value}» в этом списке нет.",
        },
    }
)
nav.add("webui.sprints", "sprints", lambda v: True, 50)


@dataclass(frozen=True)
class SprintRow:
    sprint: Sprint
    dates: str
    people: int
    focus: str
    now: bool


@dataclass(frozen=True)
class Participant:
    person: str
    name: str
    teams: str
    started: bool
    completed: bool
    applied: int
    points: int


def focus_skills(sprint: Sprint) -> list[Skill]:
    skills = ui().manifest.skills
    if not sprint.focus_skills:
        return list(skills)
    return [s for s in skills if s.id in sprint.focus_skills]


def by_name(sprint: Sprint) -> list[str]:
    """The sprint's people in name order, sorted once per app (there may be thousands)."""
    memo: dict[str, list[str]] = cached().setdefault("by_name", {})
    found = memo.get(sprint.id)
    if found is None:
        found = memo[sprint.id] = sorted(participants(sprint), key=lambda p: (person_name(p), p))
    return found


@bp.get("/sprints")
def sprints() -> str:
    people = visible_people(viewer())
    day = today()
    rows = []
    for sprint in ui().manifest.sprints:
        taking_part = participants(sprint)
        focus = ", ".join(skill_name(s) for s in sprint.focus_skills)
        rows.append(
            SprintRow(
                sprint=sprint,
                dates=dates(sprint),
                people=len(taking_part if people is None else taking_part & people),
                focus=focus or t("sprints_all_skills"),
                now=sprint.contains(day),
            )
        )
    return render_template("sprints.html", rows=rows)


def page_number() -> int:
    value = arg("page")
    if value is None:
        return 1
    if not PAGE_NUMBER.fullmatch(value):
        bad(t("sprint_bad_page", value=value))
    return int(value)


def participant_rows(sprint: Sprint, chosen: list[str]) -> list[Participant]:
    learned = learners(sprint)
    awards = ui().store.awards
    mine = frozenset(chosen)
    applied = awards.tally(AwardFilter(mine, sprint=sprint.id, states=APPLIED), "person_id")
    earned = awards.tally(AwardFilter(mine, sprint=sprint.id, states=EARNED_STATES), "person_id")
    return [
        Participant(
            person=p,
            name=person_name(p),
            teams=teams_of(p),
            started=p in learned.started,
            completed=p in learned.completed,
            applied=applied.get(p, (0, 0))[0],
            points=earned.get(p, (0, 0))[1],
        )
        for p in chosen
    ]


@bp.get("/sprints/<sprint_id>")
def sprint(sprint_id: str) -> str:
    found = next((s for s in ui().manifest.sprints if s.id == sprint_id), None)
    if found is None:
        abort(404)
    people = visible_people(viewer())
    everyone = by_name(found)
    mine = everyone if people is None else [p for p in everyone if p in people]
    page = page_number()
    pages = max(math.ceil(len(mine) / PAGE), 1)
    if page > pages:
        bad(t("sprint_bad_page", value=page))
    chosen = mine[(page - 1) * PAGE : page * PAGE]
    awards = ui().store.awards
    scope = AwardFilter(people, sprint=found.id)
    by_state = awards.count_by(scope, "state")
    counted = AwardFilter(people, sprint=found.id, states=COUNTED_STATES)
    by_reward = sorted(awards.count_by(counted, "reward_id").items())
    modules: list[tuple[Skill, Module]] = [(s, m) for s in focus_skills(found) for m in s.modules]
    return render_template(
        "sprint.html",
        sprint=found,
        dates=dates(found),
        focus=", ".join(skill_name(s) for s in found.focus_skills) or t("sprints_all_skills"),
        participants=participant_rows(found, chosen),
        page=page,
        pages=pages,
        modules=modules,
        applications=[line(a) for a in awards.page(scope, limit=PAGE)],
        total=sum(by_state.values()),
        by_state={s: by_state[s] for s in AWARD_STATES if s in by_state},
        by_reward=[(reward_name(r), n) for r, n in by_reward],
    )
