"""Skills and mappings (admins): each skill's modules and how tickets show it, as loaded from
the manifest (read-only: the manifest in version control is the source of truth), what
`skillrelay manifest validate` says about the file, and "try a ticket": what `skillrelay
explain` says about one ticket, in the page."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask import current_app, render_template, request

from plugin.commands.explain import awards_of, no_skill_checks, with_award
from plugin.commands.manifest import template_problems
from plugin.engine import Decision, Engine, explain
from plugin.engine.cands import TicketView, sort_all
from plugin.engine.decision import UNMATCHED_IDENTITY
from plugin.engine.facts import TransitionFact, from_us
from plugin.errors import ConfigError
from plugin.manifest import Manifest, load_manifest
from plugin.manifest.skills import Module, Skill
from plugin.settings import manifest_path
from plugin.store import Store
from webui import nav, words
from webui.pages._admin import admin, engine_view, state
from webui.views import bp, t, ui, when

# A Jira issue key: the project key (a letter, then letters, digits or _), "-", a number.
TICKET_KEY = re.compile(r"[A-Z][A-Z0-9_]{0,49}-[0-9]{1,18}")
MAX_TICKET_INPUT = 100

words.add(
    {
        "en": {
            "skills_nav": "Skills",
            "skills_title": "Skills and mappings",
            "skills_read_only": "This page shows the manifest as skillrelay loaded it. To change "
            "a skill, a module or a mapping, edit the manifest in version control, check it "
            "with `skillrelay manifest validate`, and restart skillrelay.",
            "skills_manifest": "Manifest",
            "skills_source": "Loaded from",
            "skills_valid": "Valid: {skills} skills, {modules} modules, {rewards} rewards, "
            "{teams} teams, {sprints} sprints, {sources} sources. No warnings.",
            "skills_problems": "`skillrelay manifest validate` reports problems in the file "
            "now on disk; skillrelay keeps using the manifest it loaded at start:",
            "skills_changed": "The file has changed since skillrelay loaded it: restart "
            "skillrelay to use the new version.",
            "skills_modules": "Modules",
            "skills_minutes": "{minutes} min",
            "skills_tickets": "A ticket shows it when",
            "skills_labels": "label",
            "skills_components": "component",
            "skills_field": "field {field} =",
            "skills_jql": "and it matches the JQL",
            "skills_jql_only": "it matches the JQL",
            "skills_length": "Length",
            "skills_any": "it has any of these:",
            "skills_reward": "Reward",
            "skills_approval": "needs a manager's approval",
            "skills_experts": "Experts",
            "skills_try": "Try a ticket",
            "skills_try_help": "Enter a Jira key to see which skills the ticket shows and what "
            "each person would earn, and why (as `skillrelay explain` tells it).",
            "skills_ticket_key": "Ticket key",
            "skills_explain": "Explain",
            "skills_bad_key": "“{ticket}” is not a Jira ticket key: a project key, a dash and a "
            "number, like PAY-123.",
            "skills_unknown": "No event names {ticket} yet. Check the key, or fetch the ticket "
            "with `skillrelay sync --source jira`.",
            "skills_not_done": "{ticket}{summary} is in status “{status}” (category {category}, "
            "since {when}) and has not been done yet: nothing is decided until it is.",
            "skills_shows": "Skills it shows",
            "skills_shows_none": "It shows no skill.",
            "skills_checked": "Each skill's mapping, checked against the ticket as it was finished",
            "skills_earns": "Would earn",
            "skills_nothing": "nothing",
            "skills_chain": "Why",
            "skills_unmatched": "Someone on this ticket is not matched to a person yet: map "
            "them on the Identities page.",
        },
        "ru": {
            "skills_nav": "Навыки",
            "skills_title": "Навыки и их привязка к задачам",
            "skills_read_only": "Здесь показан манифест в том виде, в каком его загрузил "
            "skillrelay. Чтобы изменить навык, модуль или привязку, поправьте манифест в "
            "системе контроля версий, проверьте его командой `skillrelay manifest validate` "
            "и перезапустите skillrelay.",
            "skills_manifest": "Манифест",
            "skills_source": "Файл",
            "skills_valid": "Всё в порядке: навыков — {skills}, модулей — {modules}, наград "
            "— {rewards}, команд — {teams}, спринтов — {sprints}, источников — {sources}. "
            "Предупреждений нет.",
            "skills_problems": "`skillrelay manifest validate` находит ошибки в файле, "
            "который сейчас лежит на диске; skillrelay продолжает работать с манифестом, "
            "загруженным при запуске:",
            "skills_changed": "Файл изменился после загрузки: перезапустите skillrelay, "
            "чтобы он начал работать с новой версией.",
            "skills_modules": "Модули",
            "skills_minutes": "{minutes} мин",
            "skills_tickets": "Задача относится к навыку, если",
            "skills_labels": "метка",
            "skills_components": "компонент",
            "skills_field": "поле {field} =",
            "skills_jql": "и задача подходит под запрос JQL",
            "skills_jql_only": "задача подходит под запрос JQL",
            "skills_length": "Длительность",
            "skills_any": "у неё есть что-то из этого:",
            "skills_reward": "Награда",
            "skills_approval": "нужно согласование руководителя",
            "skills_experts": "Эксперты",
            "skills_try": "Проверить задачу",
            "skills_try_help": "Введите ключ задачи в Jira — покажем, какие навыки в ней "
            "видны и что получит каждый сотрудник и почему (так же, как `skillrelay explain`).",
            "skills_ticket_key": "Ключ задачи",
            "skills_explain": "Показать",
            "skills_bad_key": "«{ticket}» — не ключ задачи Jira. Нужен ключ проекта, дефис и "
            "номер, например PAY-123.",
            "skills_unknown": "Про {ticket} пока нет ни одного события. Проверьте ключ или "
            "загрузите задачу командой `skillrelay sync --source jira`.",
            "skills_not_done": "{ticket}{summary} сейчас в статусе «{status}» (категория "
            "{category}, с {when}) и ещё не завершена: решение принимается только после "
            "завершения.",
            "skills_shows": "Навыки в задаче",
            "skills_shows_none": "Ни один навык в задаче не виден.",
            "skills_checked": "Привязка каждого навыка, проверенная по задаче на момент завершения",
            "skills_earns": "Получит",
            "skills_nothing": "ничего",
            "skills_chain": "Почему",
            "skills_unmatched": "Кто-то в этой задаче ещё не сопоставлен с сотрудником: это "
            "можно сделать на странице «Учётные записи».",
        },
    }
)
nav.add("webui.skills", "skills_nav", lambda v: v.is_admin, 60)


# --- the manifest as loaded, and the file as `manifest validate` reads it ---


@dataclass(frozen=True)
class Check:
    path: str
    problems: tuple[str, ...]  # what `manifest validate` reports, one line each
    changed: bool  # the file is valid but not what skillrelay loaded


def check(manifest: Manifest) -> Check:
    """`skillrelay manifest validate` on the file the service was started with; read again
    only when the file changes (a manifest of 100,000 people takes a second to read)."""
    path = manifest_path(current_app.config.get("MANIFEST"))
    try:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = (-1, -1)
    return state().memo(("manifest", str(path), stamp), lambda: _validate(path, manifest))


def _validate(path: Path, manifest: Manifest) -> Check:
    try:
        loaded = load_manifest(path)
        template_problems(path)
    except ConfigError as exc:
        return Check(str(path), tuple(str(p).removeprefix(": ") for p in exc.problems), False)
    return Check(str(path), (), loaded != manifest)


@dataclass(frozen=True)
class SkillRow:
    skill: Skill
    reward: str
    approval: bool
    modules: list[tuple[Module, str | None]]  # with its link, when it has a web address


def skill_rows(manifest: Manifest) -> list[SkillRow]:
    rows = []
    for skill in manifest.skills:
        reward = manifest.reward_for(skill)
        modules = [(m, _link(m)) for m in skill.modules]
        rows.append(SkillRow(skill, reward.name, bool(reward.approval), modules))
    return rows


def _link(module: Module) -> str | None:
    found = str(module.xapi_activity) if module.xapi_activity else ""
    return found if found.startswith(("https://", "http://")) else None


# --- try a ticket: `skillrelay explain` in the page ---


@dataclass(frozen=True)
class Verdict:
    person: str  # name (id), or how Jira names an unmatched assignee
    skill: str
    earns: str | None  # the reward's name when awarded
    chain: list[str]  # the explanation's steps, the verdict last
    history: str | None  # the ledger's award and its history


@dataclass(frozen=True)
class Tried:
    key: str
    known: bool
    not_done: str | None = None  # what to say about a ticket that is not done
    shows: dict[str, str] = field(default_factory=dict)  # skill name -> how it shows it
    verdicts: list[Verdict] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    unmatched: bool = False


def ticket_key(given: str) -> str | None:
    key = given.strip().upper()
    return key if len(given) <= MAX_TICKET_INPUT and TICKET_KEY.fullmatch(key) else None


def logged_ids(store: Store, key: str) -> set[str]:
    """The Jira ids of the tickets the decisions log names by this key (indexed)."""
    found = set()
    for row in store.decisions.for_ticket(key):
        ticket = (row.detail or {}).get("ticket")
        if isinstance(ticket, dict) and isinstance(ticket.get("id"), str):
            found.add(ticket["id"])
    return found


def decisions_on(engine: Engine, key: str, ids: set[str]) -> list[Decision]:
    """The engine's decisions on a ticket known by `key` when first or last done, as
    `Engine.decisions()` builds them, without building every other ticket's. The tickets
    with these ids are looked at first; only when none has the key is every ticket read
    (one the workers have not decided yet, or a key given in another case)."""
    views = engine.tickets.views
    found = _decisions(engine, key, [(i, views[i]) for i in ids if i in views])
    return found or _decisions(engine, key, views.items())


def _decisions(engine: Engine, key: str, views: Iterable[tuple[str, TicketView]]) -> list[Decision]:
    tickets, found = engine.tickets, []
    for ticket, view in views:
        if key not in (view.first_done.ticket.key.upper(), view.latest_done.ticket.key.upper()):
            continue
        matched = tickets.matcher.shown(view.latest_done.ticket) if view.shown else {}
        for pair, skill in view.pairs:
            found.append(tickets.decide(ticket, view, pair, skill, matched.get(skill, ())))
    sort_all(found)
    return found


def latest_move(engine: Engine, key: str) -> TransitionFact | None:
    """The newest transition of a ticket with this key, done or not (None: never seen)."""
    latest = None
    for transitions in engine.tickets.by_ticket.values():
        for move in transitions:
            if move.ticket.key.upper() == key and (latest is None or move.at >= latest.at):
                latest = move
    return latest


def try_ticket(key: str) -> Tried:
    store, manifest = ui().store, ui().manifest
    ids = logged_ids(store, key)
    with engine_view().current() as engine:
        decisions = decisions_on(engine, key, ids)
        latest = None if decisions else latest_move(engine, key)
        shows = engine.tickets.matcher.shown(latest.ticket) if latest else {}
    if latest is not None:
        return not_done(key, latest, shows, manifest)
    if not decisions:
        return Tried(key, known=False)
    ledger = awards_of(store, decisions)
    zone = manifest.organisation.zone
    verdicts = []
    for d, line in zip(decisions, explain(decisions), strict=True):
        told = with_award(d, line, ledger, zone)
        verdicts.append(
            Verdict(
                person=_person(d, manifest),
                skill=_skill_name(d.skill, manifest),
                earns=d.skill_info.reward_name if d.awarded and d.skill_info else None,
                chain=told[0].split(" — "),
                history=told[1].strip() if len(told) > 1 else None,
            )
        )
    matched = {_skill_name(d.skill, manifest): ", ".join(d.matched) for d in decisions if d.skill}
    return Tried(
        key,
        known=True,
        shows=matched,
        verdicts=verdicts,
        checked=no_skill_checks(manifest, decisions),
        unmatched=any(d.reason == UNMATCHED_IDENTITY for d in decisions),
    )


def not_done(
    key: str, latest: TransitionFact, shows: Mapping[str, Sequence[str]], m: Manifest
) -> Tried:
    ticket = latest.ticket
    at: datetime = from_us(latest.at)
    said = t(
        "skills_not_done",
        ticket=key,
        summary=f" “{ticket.summary}”" if ticket.summary else "",
        status=ticket.status or "?",
        category=latest.to_category or ticket.status_category or "?",
        when=when(at),
    )
    found = {_skill_name(s, m): ", ".join(how) for s, how in sorted(shows.items())}
    return Tried(key, known=True, not_done=said, shows=found)


def _person(d: Decision, manifest: Manifest) -> str:
    if d.person is None:
        return d.person_ref or "—"
    found = manifest.people_by_id.get(d.person)
    return f"{found.name} ({d.person})" if found else d.person


def _skill_name(skill: str | None, manifest: Manifest) -> str:
    found = manifest.skills_by_id.get(skill or "")
    return found.name if found else (skill or "—")


@bp.get("/skills")
def skills() -> tuple[str, int]:
    admin("skills.view")
    manifest = ui().manifest
    given = request.args.get("ticket", "")
    tried, bad, status = None, None, 200
    if given.strip():  # an empty form asks nothing
        key = ticket_key(given)
        if key is None:
            bad, status = given.strip()[:MAX_TICKET_INPUT], 400
        else:
            tried = try_ticket(key)
    modules = sum(len(s.modules) for s in manifest.skills)
    page = render_template(
        "skills.html",
        rows=skill_rows(manifest),
        check=check(manifest),
        manifest=manifest,
        modules=modules,
        field=manifest.jira.skill_field if manifest.jira else None,
        given=given.strip()[:MAX_TICKET_INPUT],
        bad=bad,
        tried=tried,
    )
    return page, status
