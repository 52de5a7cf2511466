"""The dashboard: a sprint's funnel, its awards by state, what is left of each reward's
budget, approvals waiting and dead letters. A manager sees their teams, an admin everyone.

Every figure is one aggregate query (or a memo of one), so the page costs the same with a
hundred people or a hundred thousand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import render_template, url_for

from plugin.manifest import Sprint
from plugin.pipeline.balances import BudgetUse, budget_use
from plugin.store.ledger import COUNTED_STATES, AwardFilter
from plugin.store.schema import AWARD_STATES
from webui import nav, words
from webui.pages._programme import (
    APPLIED,
    arg,
    dates,
    learners,
    participants,
    sprint_named,
    team_people,
    today,
    within,
)
from webui.views import Viewer, age, bp, refuse, ui, viewer

words.add(
    {
        "en": {
            "dashboard": "Dashboard",
            "dashboard_title_teams": "Your teams at a glance",
            "dashboard_title_all": "The programme at a glance",
            "dashboard_scope_teams": "Figures for the teams you manage: {teams}.",
            "dashboard_scope_all": "Figures for everyone.",
            "dashboard_funnel": "Sprint funnel",
            "dashboard_stage": "Stage",
            "dashboard_people": "People",
            "dashboard_share": "Of participants",
            "dashboard_participants": "Taking part",
            "dashboard_started": "Started a module",
            "dashboard_completed": "Completed a module",
            "dashboard_applied": "Applied a skill at work",
            "dashboard_awarded": "Earned a reward",
            "dashboard_funnel_note": "Learning counts when it happened during the sprint; an "
            "application when its ticket was done during the sprint.",
            "dashboard_states": "Awards in this sprint",
            "dashboard_count": "Awards",
            "dashboard_budget": "Budget left",
            "dashboard_budget_note": "Budgets are shared by the whole organisation.",
            "dashboard_period": "Period",
            "dashboard_used": "Used",
            "dashboard_limit": "Budget",
            "dashboard_left": "Left",
            "dashboard_no_budget": "No reward has a budget.",
            "dashboard_waiting": "Approvals waiting",
            "dashboard_waiting_count": "{count} award(s) waiting for approval; the oldest "
            "has waited {age}.",
            "dashboard_waiting_none": "Nothing is waiting for approval.",
            "dashboard_to_approvals": "Go to approvals",
            "dashboard_dead": "Dead letters",
            "dashboard_dead_count": "{count} effect(s) on Jira or the LRS were given up on.",
            "dashboard_dead_none": "No effect was given up on.",
            "dashboard_to_outbox": "Open the outbox",
            "dashboard_open_ledger": "See them in the ledger",
            "dashboard_sprint_period": "sprint {id}",
            "dashboard_quarter_period": "quarter {id}",
        },
        "ru": {
            "dashboard": "Сводка",
            "dashboard_title_teams": "Сводка по вашим командам",
            "dashboard_title_all": "Сводка по программе обучения",
            "dashboard_scope_teams": "Данные по командам, которыми вы руководите: {teams}.",
            "dashboard_scope_all": "Данные по всем сотрудникам.",
            "dashboard_funnel": "Воронка спринта",
            "dashboard_stage": "Этап",
            "dashboard_people": "Сотрудников",
            "dashboard_share": "Доля от участников",
            "dashboard_participants": "Участники спринта",
            "dashboard_started": "Начали модуль",
            "dashboard_completed": "Прошли модуль",
            "dashboard_applied": "Применили навык в работе",
            "dashboard_awarded": "Получили награду",
            "dashboard_funnel_note": "Обучение засчитывается, если было во время спринта; "
            "применение — если задача закрыта во время спринта.",
            "dashboard_states": "Награды спринта",
            "dashboard_count": "Наград",
            "dashboard_budget": "Остаток бюджета",
            "dashboard_budget_note": "Бюджет общий для всей компании.",
            "dashboard_period": "Период",
            "dashboard_used": "Выдано",
            "dashboard_limit": "Бюджет",
            "dashboard_left": "Осталось",
            "dashboard_no_budget": "Ни у одной награды нет бюджета.",
            "dashboard_waiting": "Ждут согласования",
            "dashboard_waiting_count": "Наград, ждущих согласования: {count}; самая давняя "
            "ждёт уже {age}.",
            "dashboard_waiting_none": "Согласования ничего не ждёт.",
            "dashboard_to_approvals": "Перейти к согласованию",
            "dashboard_dead": "Недоставленные действия",
            "dashboard_dead_count": "Действий в Jira или LRS, которые так и не удалось "
            "выполнить: {count}.",
            "dashboard_dead_none": "Недоставленных действий нет.",
            "dashboard_to_outbox": "Открыть очередь действий",
            "dashboard_open_ledger": "Открыть в журнале наград",
            "dashboard_sprint_period": "спринт {id}",
            "dashboard_quarter_period": "квартал {id}",
        },
    }
)
nav.add("webui.dashboard", "dashboard", lambda v: v.is_manager or v.is_admin, 10)


@dataclass(frozen=True)
class Stage:
    word: str
    people: int
    of: int  # the participants: the bar's whole

    @property
    def share(self) -> str:
        return f"{self.people / self.of:.0%}" if self.of else "—"


@dataclass(frozen=True)
class Budget:
    reward: str
    period: str  # a word key: a sprint or a quarter
    period_id: str
    used: int
    limit: int

    @property
    def left(self) -> int:
        return max(self.limit - self.used, 0)


def funnel(sprint: Sprint, people: frozenset[str] | None) -> list[Stage]:
    manifest = ui().manifest
    invited = within(people, participants(sprint)) or frozenset()
    learned = learners(sprint)
    # Everyone listed: no IN list of every person, the query reads the sprint's rows alone.
    scope = None if len(invited) == len(manifest.people_by_id) else invited
    counts = [
        len(invited),
        len(learned.started & invited),
        len(learned.completed & invited),
        ui().store.awards.count_people(AwardFilter(scope, sprint=sprint.id, states=APPLIED)),
        ui().store.awards.count_people(AwardFilter(scope, sprint=sprint.id, states=COUNTED_STATES)),
    ]
    names = ("participants", "started", "completed", "applied", "awarded")
    return [Stage(f"dashboard_{n}", c, counts[0]) for n, c in zip(names, counts, strict=True)]


def budgets(sprint: Sprint) -> list[Budget]:
    day = today() if sprint.contains(today()) else sprint.start
    found: list[BudgetUse] = budget_use(ui().store, ui().manifest, sprint, day)
    rows = []
    for use in found:
        kind, _, ident = use.period.partition(" ")  # "sprint 2026-11-a", "quarter 2026-Q4"
        rows.append(Budget(use.reward_name, f"dashboard_{kind}_period", ident, use.used, use.limit))
    return rows


def scope_teams(who: Viewer) -> str:
    return ", ".join(t.name for t in ui().manifest.teams if who.person in t.managers)


@bp.get("/dashboard")
def dashboard() -> str:
    who = viewer()
    if not (who.is_manager or who.is_admin):
        refuse(403, "dashboard.view")
    sprint = sprint_named(arg("sprint"))
    people = team_people(who)
    store = ui().store
    waiting, oldest = store.awards.oldest(AwardFilter(people, states=("pending_approval",)))
    context: dict[str, Any] = {
        "sprints": ui().manifest.sprints,
        "sprint": sprint,
        "teams": scope_teams(who),
        "waiting": waiting,
        "oldest": age(oldest) if oldest else "",
        # Dead letters are the whole organisation's: admins only.
        "dead": store.outbox.count(("dead",)) if who.is_admin else None,
        "outbox_url": url_for("webui.home") + "outbox",
        "states": AWARD_STATES,
    }
    if sprint is not None:
        by_state = store.awards.count_by(AwardFilter(people, sprint=sprint.id), "state")
        context.update(
            dates=dates(sprint),
            stages=funnel(sprint, people),
            by_state={s: by_state.get(s, 0) for s in AWARD_STATES},
            budgets=budgets(sprint),
        )
    return render_template("dashboard.html", **context)
