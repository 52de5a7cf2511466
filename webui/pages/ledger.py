"""The awards ledger: filtered by person, skill, team, state, sprint and period, 50 a page
(newest first, by award id: a late page costs what the first does), and the same rows as a
CSV download. An admin sees every award, a manager their teams' and their own, a learner
their own; a filter naming anything else is refused before any row is read."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Response, render_template, stream_with_context

from plugin.manifest import Team
from plugin.pipeline.balances import midnight
from plugin.report.review import ticket_url
from plugin.store import Award
from plugin.store.ledger import AwardFilter
from plugin.store.schema import AWARD_STATES
from webui import nav, words
from webui.pages._programme import (
    PAGE,
    arg,
    award_id,
    bad,
    day,
    person_name,
    reward_name,
    skill_name,
    teams_of,
    visible_people,
    within,
)
from webui.views import Viewer, audit, bp, refuse, t, ui, viewer

FILTERS = ("person", "skill", "team", "state", "sprint", "from", "to")
# A cell a spreadsheet would read as a formula is written with a leading apostrophe.
FORMULA = ("=", "+", "-", "@", "\t", "\r")
FLUSH = 64 * 1024  # characters of CSV sent at a time
HEADINGS = (
    "ledger_award",
    "ledger_person_id",
    "person",
    "ledger_teams",
    "skill",
    "ticket",
    "reward",
    "ledger_points",
    "state",
    "programme_sprint",
    "ledger_done",
    "ledger_created",
)

words.add(
    {
        "en": {
            "ledger": "Ledger",
            "ledger_title": "Awards ledger",
            "ledger_filters": "Filter the awards",
            "ledger_any": "Any",
            "ledger_everyone": "Everyone I may see",
            "ledger_person_hint": "person id",
            "ledger_team": "Team",
            "ledger_from": "Ticket done from",
            "ledger_to": "to (inclusive)",
            "ledger_apply": "Apply filters",
            "ledger_clear": "Clear filters",
            "ledger_csv": "Download these awards as CSV",
            "ledger_none": "No award matches these filters.",
            "ledger_newer": "← Newer awards",
            "ledger_older": "Older awards →",
            "ledger_pages": "Pages",
            "ledger_points": "Points",
            "ledger_done": "Ticket done",
            "ledger_created": "Awarded",
            "ledger_teams": "Teams",
            "ledger_award": "Award",
            "ledger_person_id": "Person id",
            "ledger_unknown_person": "There is no person “{value}” in the manifest.",
            "ledger_unknown_team": "There is no team “{value}” in the manifest.",
            "ledger_unknown_skill": "There is no skill “{value}” in the manifest.",
            "ledger_unknown_state": "“{value}” is not a state an award can be in.",
            "ledger_bad_period": "The period starts ({start}) after it ends ({end}).",
        },
        "ru": {
            "ledger": "Журнал наград",
            "ledger_title": "Журнал наград",
            "ledger_filters": "Отбор наград",
            "ledger_any": "Любой",
            "ledger_everyone": "Все доступные мне сотрудники",
            "ledger_person_hint": "идентификатор сотрудника",
            "ledger_team": "Команда",
            "ledger_from": "Задача закрыта с",
            "ledger_to": "по (включительно)",
            "ledger_apply": "Применить",
            "ledger_clear": "Сбросить отбор",
            "ledger_csv": "Скачать эти награды в CSV",
            "ledger_none": "Под этот отбор не подходит ни одна награда.",
            "ledger_newer": "← Более новые",
            "ledger_older": "Более ранние →",
            "ledger_pages": "Страницы",
            "ledger_points": "Баллы",
            "ledger_done": "Задача закрыта",
            "ledger_created": "Назначена",
            "ledger_teams": "Команды",
            "ledger_award": "Награда №",
            "ledger_person_id": "Идентификатор",
            "ledger_unknown_person": "Сотрудника «{value}» в манифесте нет.",
            "ledger_unknown_team": "Команды «{value}» в манифесте нет.",
            "ledger_unknown_skill": "Навыка «{value}» в манифесте нет.",
            "ledger_unknown_state": "Состояния «{value}» у наград не бывает.",
            "ledger_bad_period": "Начало периода ({start}) позже его конца ({end}).",
        },
    }
)
nav.add("webui.ledger", "ledger", lambda v: True, 40)


@dataclass(frozen=True)
class Filters:
    values: dict[str, str]  # as given: they fill the form and carry into every link
    where: AwardFilter


@dataclass(frozen=True)
class Line:
    award: Award
    person: str
    teams: str
    skill: str
    reward: str
    url: str | None


def managed_teams(who: Viewer) -> list[Team]:
    teams = ui().manifest.teams
    return list(teams) if who.is_admin else [t for t in teams if who.person in t.managers]


def read_filters(who: Viewer) -> Filters:
    """The filters asked for, checked: 403 for people or teams the viewer may not see,
    400 naming any value the manifest does not know."""
    manifest = ui().manifest
    values = {name: value for name in FILTERS if (value := arg(name)) is not None}
    people = visible_people(who)
    person = values.get("person")
    if person is not None:
        if not who.may_see(person):  # before the 400, so nobody learns who exists
            refuse(403, "ledger.view", person)
        if person not in manifest.people_by_id:
            bad(t("ledger_unknown_person", value=person))
        people = within(people, frozenset({person}))
    team = values.get("team")
    if team is not None:
        found = manifest.teams_by_id.get(team)
        if found is None:
            bad(t("ledger_unknown_team", value=team))
        if found not in managed_teams(who):
            refuse(403, "ledger.view", f"team:{team}")
        people = within(people, frozenset(found.members))
    skill = values.get("skill")
    if skill is not None and skill not in manifest.skills_by_id:
        bad(t("ledger_unknown_skill", value=skill))
    state = values.get("state")
    if state is not None and state not in AWARD_STATES:
        bad(t("ledger_unknown_state", value=state))
    sprint = values.get("sprint")
    if sprint is not None and all(s.id != sprint for s in manifest.sprints):
        bad(t("programme_unknown_sprint", value=sprint))
    start, end = day("from"), day("to")
    if start is not None and end is not None and start > end:
        bad(t("ledger_bad_period", start=start.isoformat(), end=end.isoformat()))
    zone = manifest.organisation.zone
    where = AwardFilter(
        people=people,
        skill=skill,
        states=(state,) if state else None,
        sprint=sprint,
        done_from=midnight(zone, start) if start else None,
        done_until=midnight(zone, end + timedelta(days=1)) if end else None,
    )
    return Filters(values, where)


def line(award: Award) -> Line:
    return Line(
        award=award,
        person=person_name(award.person_id),
        teams=teams_of(award.person_id),
        skill=skill_name(award.skill_id),
        reward=reward_name(award.reward_id),
        url=ticket_url(award, ui().manifest),
    )


def choices(who: Viewer) -> dict[str, Any]:
    """What the filter form offers: an admin types a person id (there may be thousands),
    a manager picks from their people, a learner sees their own awards only."""
    manifest = ui().manifest
    people = visible_people(who) or frozenset()
    mine = sorted(people, key=lambda p: (person_name(p), p)) if who.is_manager else []
    return {
        "people": [(p, person_name(p)) for p in mine],
        "teams": managed_teams(who),
        "skills": manifest.skills,
        "sprints": manifest.sprints,
        "states": AWARD_STATES,
    }


@bp.get("/ledger")
def ledger() -> str:
    who = viewer()
    filters = read_filters(who)
    before, after = award_id("before"), award_id("after")
    awards = ui().store.awards
    shown = awards.page(filters.where, before=before, after=None if before else after, limit=PAGE)
    newer = bool(shown) and bool(awards.page(filters.where, after=shown[0].id, limit=1))
    older = bool(shown) and bool(awards.page(filters.where, before=shown[-1].id, limit=1))
    return render_template(
        "ledger.html",
        values=filters.values,
        lines=[line(a) for a in shown],
        newer=shown[0].id if newer else None,
        older=shown[-1].id if older else None,
        paged=before is not None or after is not None,
        **choices(who),
    )


def cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA) else text


def csv_rows(where: AwardFilter) -> Iterator[str]:
    zone = ui().manifest.organisation.zone
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # so spreadsheets read the names as UTF-8
    writer.writerow([cell(t(n)) for n in HEADINGS])
    for award in ui().store.awards.each(where):
        row = line(award)
        writer.writerow(
            [
                award.id,
                cell(award.person_id),
                cell(row.person),
                cell(row.teams),
                cell(row.skill),
                cell(award.ticket_key),
                cell(row.reward),
                award.points,
                cell(t(award.state)),
                cell(award.sprint_id),
                award.ticket_done_at.astimezone(zone).isoformat(timespec="minutes"),
                award.created_at.astimezone(zone).isoformat(timespec="minutes"),
            ]
        )
        if buffer.tell() >= FLUSH:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@bp.get("/ledger.csv")
def ledger_csv() -> Response:
    who = viewer()
    filters = read_filters(who)
    audit("ledger.export", None, **filters.values)
    name = "skillrelay-awards.csv"
    return Response(
        stream_with_context(csv_rows(filters.where)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
