"""What the dashboard, ledger and sprint pages share: whose figures a viewer sees, the
manifest's sprints, query parameters checked before use, and who learned during a sprint."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NoReturn

from flask import abort, current_app, make_response, render_template, request

from plugin.engine import IdentityResolver
from plugin.manifest import Sprint
from plugin.pipeline import current_sprint, today_in
from plugin.pipeline.balances import midnight
from plugin.store.schema import AWARD_STATES
from webui.views import Viewer, t, ui
from webui.words import add

PAGE = 50
MAX_VALUE = 200  # characters of one query parameter; longer is a tampered link
ID = re.compile(r"[0-9]{1,18}")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # no id, name or date holds one; PostgreSQL refuses NUL
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
CACHE = "skillrelay.webui.programme"
FRESH_SECONDS = 60.0  # a sprint's learners are read again after this, or when events arrive
# An award whose ticket was done, not taken back: the skill was applied.
APPLIED = tuple(s for s in AWARD_STATES if s != "revoked")

add(
    {
        "en": {
            "programme_sprint": "Sprint",
            "programme_show": "Show",
            "programme_dates": "{start} to {end} ({days} days)",
            "programme_no_sprints": "The manifest defines no sprints yet.",
            "programme_too_long": "The value of “{name}” is too long.",
            "programme_control": "The value of “{name}” holds a control character.",
            "programme_bad_date": "“{value}” is not a date: write it as YYYY-MM-DD.",
            "programme_bad_id": "“{value}” is not a page position from this site.",
            "programme_unknown_sprint": "There is no sprint “{value}” in the manifest.",
        },
        "ru": {
            "programme_sprint": "Спринт",
            "programme_show": "Показать",
            "programme_dates": "с {start} по {end} ({days} дн.)",
            "programme_no_sprints": "В манифесте пока нет спринтов.",
            "programme_too_long": "Слишком длинное значение в поле «{name}».",
            "programme_control": "В поле «{name}» есть управляющий символ.",
            "programme_bad_date": "«{value}» — не дата: укажите её в виде ГГГГ-ММ-ДД.",
            "programme_bad_id": "Ссылка на страницу повреждена: «{value}».",
            "programme_unknown_sprint": "Спринта «{value}» в манифесте нет.",
        },
    }
)


def cached() -> dict[str, Any]:
    """This app's memo: the manifest and store are the app's for its whole life."""
    found: dict[str, Any] = current_app.extensions.setdefault(CACHE, {})
    return found


def bad(message: str) -> NoReturn:
    """Stop with a 400 page that says what was wrong; nothing was read or changed."""
    abort(make_response(render_template("error.html", status=400, message=message), 400))


# --- who a viewer's figures cover (None: everyone) ---


def team_people(who: Viewer) -> frozenset[str] | None:
    """The dashboard's people: everyone for an admin, a manager's teams' members."""
    return None if who.is_admin else who.manages


def visible_people(who: Viewer) -> frozenset[str] | None:
    """Whose awards a viewer may list: everyone for an admin, else themself and the members
    of the teams they manage."""
    return None if who.is_admin else who.manages | {who.person}


def within(people: frozenset[str] | None, more: frozenset[str] | None) -> frozenset[str] | None:
    if people is None:
        return more
    return people if more is None else people & more


# --- query parameters ---


def arg(name: str) -> str | None:
    value = request.args.get(name, "").strip()
    if len(value) > MAX_VALUE:
        bad(t("programme_too_long", name=name))
    if CONTROL.search(value):
        bad(t("programme_control", name=name))
    return value or None


def award_id(name: str) -> int | None:
    value = arg(name)
    if value is None:
        return None
    if not ID.fullmatch(value):
        bad(t("programme_bad_id", value=value))
    return int(value)


def day(name: str) -> date | None:
    value = arg(name)
    if value is None:
        return None
    try:
        if DAY.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    bad(t("programme_bad_date", value=value))


# --- sprints ---


def today() -> date:
    return today_in(ui().manifest, ui().store.clock())


def sprint_named(value: str | None) -> Sprint | None:
    """The sprint asked for (400 when unknown), else today's, the latest or the next."""
    manifest = ui().manifest
    if value is None:
        return current_sprint(manifest, today())
    found = next((s for s in manifest.sprints if s.id == value), None)
    if found is None:
        bad(t("programme_unknown_sprint", value=value))
    return found


def window(sprint: Sprint) -> tuple[datetime, datetime]:
    """The sprint's local days as UTC instants: [first midnight, the midnight after)."""
    zone = ui().manifest.organisation.zone
    return midnight(zone, sprint.start), midnight(zone, sprint.end)


def dates(sprint: Sprint) -> str:
    last = sprint.end - timedelta(days=1)
    return t(
        "programme_dates",
        start=sprint.start.isoformat(),
        end=last.isoformat(),
        days=sprint.length_days,
    )


def participants(sprint: Sprint) -> frozenset[str]:
    """The sprint's people; a sprint that lists nobody is everyone's (as in the report).
    Worked out once per app: a manifest may name a hundred thousand people."""
    memo: dict[str, frozenset[str]] = cached().setdefault("participants", {})
    found = memo.get(sprint.id)
    if found is None:
        manifest = ui().manifest
        found = manifest.sprint_people(sprint) or frozenset(manifest.people_by_id)
        memo[sprint.id] = found
    return found


# --- names ---


def person_name(person: str) -> str:
    found = ui().manifest.people_by_id.get(person)
    return found.name if found else person


def skill_name(skill: str) -> str:
    found = ui().manifest.skills_by_id.get(skill)
    return found.name if found else skill


def reward_name(reward: str) -> str:
    found = ui().manifest.rewards_by_id.get(reward)
    return found.name if found else reward


def teams_of(person: str) -> str:
    """The names of a person's teams, from one index per app (manifests may be large)."""
    index: dict[str, list[str]] | None = cached().get("teams")
    if index is None:
        index = {}
        for team in ui().manifest.teams:
            for member in team.members:
                index.setdefault(member, []).append(team.name)
        cached()["teams"] = index
    return ", ".join(index.get(person, ()))


# --- who learned during a sprint ---


@dataclass(frozen=True)
class Learners:
    started: frozenset[str]  # worked on a manifest module during the sprint
    completed: frozenset[str]  # completed or passed one during the sprint


def resolver(mapped: datetime | None) -> IdentityResolver:
    """Who a source's name for someone is; built again only after an admin maps an id."""
    found = cached().get("resolver")
    if found is None or found[0] != mapped:
        found = (mapped, IdentityResolver(ui().manifest, ui().store.identities.learned()))
        cached()["resolver"] = found
    built: IdentityResolver = found[1]
    return built


def learners(sprint: Sprint) -> Learners:
    """Read grouped by learner in the database, and kept until another event arrives, an
    id is mapped or a minute passes (a row committing late on PostgreSQL)."""
    store = ui().store
    stamp = (store.inbox.last_id(), store.identities.last_mapped())
    memo: dict[str, tuple[Any, float, Learners]] = cached().setdefault("learners", {})
    now = time.monotonic()
    found = memo.get(sprint.id)
    if found is not None and found[0] == stamp and now - found[1] < FRESH_SECONDS:
        return found[2]
    since, until = window(sprint)
    rows = store.inbox.learners(list(ui().manifest.modules_by_key), since, until)
    resolve = resolver(stamp[1])
    started: set[str] = set()
    completed: set[str] = set()
    for system, ident, email, done in rows:
        person = resolve.lookup(system, ident, (email,) if email else ())
        if person is not None:
            started.add(person)
            if done:
                completed.add(person)
    result = Learners(frozenset(started), frozenset(completed))
    memo[sprint.id] = (stamp, now, result)
    return result
