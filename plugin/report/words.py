"""The report's fixed words in English and Russian. Worded as associations, never causes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plugin.report.measures import Report

LANGUAGES = ("en", "ru")

EN = {
    "report": "What learning changed",
    "funnel": "Funnel: invited → started → completed → applied → awarded",
    "invited": "invited",
    "started": "started",
    "completed": "completed",
    "applied": "applied",
    "awarded": "awarded",
    "awards": "awards by state",
    "pending_approval": "waiting for approval",
    "approved": "approved",
    "fulfilled": "fulfilled",
    "rejected": "rejected",
    "revoked": "revoked",
    "revocation_flagged": "flagged for revocation",
    "breakdown": "By team and sprint",
    "team": "team",
    "sprint": "sprint",
    "time_to_apply": (
        "Time to apply: from completing a module to the first ticket done with the skill"
    ),
    "people": "people",
    "tickets": "tickets",
    "median": "median",
    "days": "days",
    "no_applications": "no applications in this period",
    "before_after": "Work before and after completing a module",
    "association": (
        "These figures compare periods and groups; they show an association, not that the "
        "module caused the change."
    ),
    "small_sample": "small sample: not a finding",
    "weeks": "weeks each side",
    "completed_group": "completed the module",
    "comparison": "did such tickets without the module",
    "no_comparison": "nobody did such tickets without the module",
    "cycle_days": "cycle time (days)",
    "reopen_rate": "reopened",
    "bug_share": "bugs",
    "change": "typical change per person",
    "difference": "difference between the groups (difference in differences)",
    "no_completions": "nobody in scope completed a module in this period",
    "rewards": "Rewards",
    "used": "used",
    "budget": "budget",
    "approvals_waiting": "approvals waiting",
    "oldest": "oldest",
    "checkins": "manager check-ins",
    "checkins_none": "none asked for in this period",
    "of": "of",
    "modules": "Modules",
    "median_days_to_complete": "median days from start to completion",
    "feedback_none": "Module feedback is not collected yet.",
    "no learning or ticket activity in this period and scope": (
        "Nothing to show: no learning or ticket activity in this period and scope."
    ),
    "all_skills": "all skills",
    "everyone": "everyone",
    "all_time": "all time",
    "generated": "generated",
    "before": "before",
    "after": "after",
    "days_to_apply": "days to apply",
    "burndown": "budget use",
    "no_data": "no data",
}

RU = {
    "report": "Что изменило обучение",
    "funnel": "Воронка: приглашены → начали → завершили → применили → награждены",
    "invited": "приглашены",
    "started": "начали",
    "completed": "завершили",
    "applied": "применили",
    "awarded": "награждены",
    "awards": "награды по состоянию",
    "pending_approval": "ждут согласования",
    "approved": "согласованы",
    "fulfilled": "выданы",
    "rejected": "отклонены",
    "revoked": "отозваны",
    "revocation_flagged": "помечены к отзыву",
    "breakdown": "По командам и спринтам",
    "team": "команда",
    "sprint": "спринт",
    "time_to_apply": "Время до применения: от завершения модуля до первой задачи с навыком",
    "people": "человек",
    "tickets": "задач",
    "median": "медиана",
    "days": "дн.",
    "no_applications": "применений в этом периоде нет",
    "before_after": "Работа до и после завершения модуля",
    "association": (
        "Цифры сравнивают периоды и группы; они показывают связь, а не то, что изменение "
        "вызвал модуль."
    ),
    "small_sample": "малая выборка: не вывод",
    "weeks": "недель с каждой стороны",
    "completed_group": "завершили модуль",
    "comparison": "делали такие задачи без модуля",
    "no_comparison": "никто не делал такие задачи без модуля",
    "cycle_days": "время цикла (дни)",
    "reopen_rate": "переоткрыты",
    "bug_share": "ошибки",
    "change": "типичное изменение на человека",
    "difference": "разница между группами (разность разностей)",
    "no_completions": "в этом периоде никто в выборке не завершил модуль",
    "rewards": "Награды",
    "used": "использовано",
    "budget": "бюджет",
    "approvals_waiting": "ждут согласования",
    "oldest": "самое давнее",
    "checkins": "встречи с руководителем",
    "checkins_none": "в этом периоде не назначались",
    "of": "из",
    "modules": "Модули",
    "median_days_to_complete": "медиана дней от начала до завершения",
    "feedback_none": "Отзывы о модулях пока не собираются.",
    "no learning or ticket activity in this period and scope": (
        "Показать нечего: в этом периоде и выборке нет ни обучения, ни задач."
    ),
    "all_skills": "все навыки",
    "everyone": "все",
    "all_time": "за всё время",
    "generated": "создан",
    "before": "до",
    "after": "после",
    "days_to_apply": "дней до применения",
    "burndown": "расход бюджета",
    "no_data": "нет данных",
}


class Words:
    def __init__(self, lang: str = "en") -> None:
        self.lang = lang
        self.table = RU if lang == "ru" else EN

    def __getitem__(self, key: str) -> str:
        return self.table.get(key, key)

    def group(self, name: str) -> str:
        return self["completed_group" if name == "completed" else "comparison"]

    def title(self, report: Report) -> str:
        s = report.scope
        parts = [
            ", ".join(s.skills) if len(s.skills) == 1 else self["all_skills"],
            f"{self['team']} {s.team}" if s.team else "",
            f"{self['sprint']} {s.sprint.id}" if s.sprint else "",
            s.person or "",
        ]
        if s.start or s.end:
            last = s.end.fromordinal(s.end.toordinal() - 1).isoformat() if s.end else "…"
            parts.append(f"{s.start.isoformat() if s.start else '…'} – {last}")
        else:
            parts.append(self["all_time"])
        return f"{self['report']}: " + "; ".join(p for p in parts if p)
