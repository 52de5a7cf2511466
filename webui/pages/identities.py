"""Identities (admins): the external ids no manifest person claims yet, what waits on each,
who it probably is, and a form to map it — what `skillrelay identities --unmatched` lists
and `skillrelay identities map` records (the same store call: the workers then re-decide
the events held for it, so a held award appears)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from plugin.commands.identities import SYSTEMS, Row, manifest_line, suggest
from plugin.engine.people import Unresolved
from plugin.manifest import Manifest
from plugin.manifest.people import Person
from plugin.store import Identity
from webui import nav, words
from webui.pages._admin import PAGE, admin, engine_view, state
from webui.views import MAX_PERSON_ID, audit, bp, refuse, t, ui

MAX_EXTERNAL_ID = 1000  # xAPI account ids carry a home page URL; longer is a tampered form
SUGGEST_ALL = 5000  # people: up to this many, `identities`' own suggestion

words.add(
    {
        "en": {
            "identities_nav": "Identities",
            "identities_title": "Unmatched identities",
            "identities_help": "Jira, Moodle and the LRS name people in their own ways. These "
            "ids match no person in the manifest, so their completions and done tickets wait. "
            "Map one to a person and skillrelay decides what was waiting on it: any award it "
            "earned appears within a minute. For a lasting fix, add the id to the person in "
            "the manifest too.",
            "identities_none": "Every id skillrelay has seen is matched to a person.",
            "identities_count": "{count} unmatched id(s).",
            "identities_system": "System",
            "identities_id": "External id",
            "identities_seen_as": "Seen as",
            "identities_waiting": "Waiting on it",
            "identities_waits": "{completions} completion(s), {tickets} done ticket(s)",
            "identities_nothing_waits": "nothing waiting",
            "identities_seen": "Last seen",
            "identities_suggested": "Probably",
            "identities_manifest_line": "or add to the manifest:",
            "identities_person": "Person id for {ref}",
            "identities_map": "Map",
            "identities_more": "More",
            "identities_first": "Back to the first page",
            "identities_mapped": "{ref} is now {person}. Its held completions and tickets are "
            "being decided again; any award they earn will appear shortly.",
            "identities_already": "{ref} was already mapped to {person}: nothing changed.",
            "identities_in_manifest": "The manifest already says {ref} is {person}: nothing "
            "to record.",
            "identities_manifest_wins": "The manifest says {ref} is {person}, and the "
            "manifest wins over a mapping: change the manifest instead. Nothing was changed.",
            "identities_other": "{ref} is already mapped to {person}; nothing was changed. "
            "To change a mapping, use `skillrelay identities map`.",
            "identities_unknown_person": "There is no person “{person}” in the manifest, so "
            "nothing was mapped. Enter a person id exactly as the manifest has it (for "
            "example ben.carter).",
        },
        "ru": {
            "identities_nav": "Учётные записи",
            "identities_title": "Несопоставленные учётные записи",
            "identities_help": "Jira, Moodle и LRS называют сотрудников по-своему. Эти "
            "идентификаторы не совпали ни с кем из манифеста, поэтому их пройденные модули и "
            "завершённые задачи пока ждут. Укажите, кто это, — и skillrelay заново рассмотрит "
            "всё, что ждало: заработанная награда появится в течение минуты. Чтобы закрепить "
            "это надолго, добавьте идентификатор сотруднику и в манифест.",
            "identities_none": "Все учётные записи, которые видел skillrelay, сопоставлены "
            "с сотрудниками.",
            "identities_count": "Несопоставленных учётных записей: {count}.",
            "identities_system": "Система",
            "identities_id": "Идентификатор",
            "identities_seen_as": "Как подписан",
            "identities_waiting": "Что ждёт",
            "identities_waits": "пройденных модулей: {completions}, завершённых задач: {tickets}",
            "identities_nothing_waits": "ничего не ждёт",
            "identities_seen": "Последний раз",
            "identities_suggested": "Похоже, это",
            "identities_manifest_line": "или добавьте в манифест:",
            "identities_person": "Сотрудник для {ref}",
            "identities_map": "Сопоставить",
            "identities_more": "Дальше",
            "identities_first": "К началу списка",
            "identities_mapped": "{ref} теперь сопоставлен с {person}. Всё, что ждало этой "
            "учётной записи, рассматривается заново; заработанные награды скоро появятся.",
            "identities_already": "{ref} уже сопоставлен с {person}: ничего не изменилось.",
            "identities_in_manifest": "В манифесте уже указано, что {ref} — это {person}: "
            "сопоставлять нечего.",
            "identities_manifest_wins": "В манифесте указано, что {ref} — это {person}, а "
            "манифест важнее сопоставления: поправьте манифест. Ничего не изменилось.",
            "identities_other": "{ref} уже сопоставлен с {person}; ничего не изменилось. "
            "Изменить сопоставление можно командой `skillrelay identities map`.",
            "identities_unknown_person": "В манифесте нет сотрудника «{person}», поэтому "
            "ничего не сопоставлено. Введите идентификатор точно так, как он записан в "
            "манифесте (например, ben.carter).",
        },
    }
)
nav.add("webui.identities", "identities_nav", lambda v: v.is_admin, 70)


@dataclass(frozen=True)
class Unmatched:
    identity: Identity
    seen_as: str
    waiting: Unresolved | None
    person: str | None  # the suggested manifest person
    why: str | None
    line: str | None  # the manifest line that would claim it

    @property
    def ref(self) -> str:
        return f"{self.identity.system}:{self.identity.external_id}"


def suggestion(manifest: Manifest, row: Row) -> dict[str, str]:
    """Who the id probably is, remembered (an unmatched id stays on the page until it is
    mapped): `identities`' own suggestion, which reads every manifest person, up to
    SUGGEST_ALL people; beyond, the same e-mail and name matches from an index, without the
    fuzzy name match (it costs a fifth of a second a row at 100,000 people)."""
    key = ("suggest", row.system, row.external_id, tuple(row.emails), tuple(row.names))
    if len(manifest.identities.people) <= SUGGEST_ALL:
        return state().memo(key, lambda: suggest(manifest, row))
    return state().memo(key, lambda: indexed_suggestion(manifest, row))


Ranked = dict[str, tuple[int, Person]]  # a key -> (place in the manifest, person)


@dataclass(frozen=True)
class PeopleIndex:
    """Manifest people by e-mail, e-mail name and name, casefolded as `suggest` reads them:
    the first person with an e-mail (or its name), the last with a name."""

    email: Ranked
    local: Ranked
    name: dict[str, Person]

    @classmethod
    def of(cls, manifest: Manifest) -> PeopleIndex:
        found = cls({}, {}, {})
        for n, person in enumerate(manifest.identities.people):
            email = person.email.casefold()
            found.email.setdefault(email, (n, person))
            found.local.setdefault(email.partition("@")[0], (n, person))
            found.name[person.name.casefold()] = person
        return found


def indexed_suggestion(manifest: Manifest, row: Row) -> dict[str, str]:
    people = state().memo(("people", id(manifest)), lambda: PeopleIndex.of(manifest))
    found = {"line": manifest_line(manifest, row.system, row.external_id) or ""}
    emails = {e.casefold() for e in row.emails}
    if row.system == "xapi" and row.external_id.casefold().startswith("mbox:mailto:"):
        emails.add(row.external_id[len("mbox:mailto:") :].casefold())
    locals_ = {e.partition("@")[0] for e in emails}
    for index, wanted, why in (
        (people.email, emails, "same e-mail {}"),
        (people.local, locals_, "e-mail name like {}"),
    ):
        matches = [index[w] for w in wanted if w in index]
        if matches:
            _, person = min(matches, key=lambda m: m[0])  # the first the manifest lists
            return found | {"person": person.id, "why": why.format(person.email)}
    for name in dict.fromkeys(n.casefold() for n in row.names):
        if name in people.name:
            person = people.name[name]
            return found | {"person": person.id, "why": f"same name {person.name}"}
    return found


def unmatched_rows(after: tuple[str, str] | None) -> tuple[list[Unmatched], str | None]:
    """One page of unmatched ids, and the `after` of the next page (None: the last one)."""
    store, manifest = ui().store, ui().manifest
    view = engine_view()
    found = store.identities.unmatched_page(after, PAGE + 1)
    more = found[PAGE - 1] if len(found) > PAGE else None
    waiting = view.waiting()
    rows = []
    for identity in found[:PAGE]:
        emails = [identity.email] if identity.email else []
        names = [identity.display_name] if identity.display_name else []
        held = waiting.get((identity.system, identity.external_id))
        if held is not None:
            emails += [e for e in held.emails if e not in emails]
        if view.resolver.lookup(identity.system, identity.external_id, emails) is not None:
            continue  # the manifest claims it now (changed since it was seen)
        hint = suggestion(
            manifest, Row(identity.system, identity.external_id, None, None, emails, names)
        )
        rows.append(
            Unmatched(
                identity=identity,
                seen_as=", ".join([*names, *emails]),
                waiting=held,
                person=hint.get("person"),
                why=hint.get("why"),
                line=hint.get("line") or None,
            )
        )
    following = f"{more.system}:{more.external_id}" if more else None
    return rows, following


def page_after(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    system, sep, ident = value.partition(":")
    if not sep or system not in SYSTEMS or not ident or len(ident) > MAX_EXTERNAL_ID:
        abort(400)
    return system, ident


def render(status: int = 200, error: str | None = None) -> tuple[str, int]:
    after = page_after(request.args.get("after"))
    rows, following = unmatched_rows(after)
    page = render_template(
        "identities.html",
        rows=rows,
        following=following,
        paged=after is not None,
        count=ui().store.identities.count_unmatched(),
        error=error,
    )
    return page, status


@bp.get("/identities")
def identities() -> tuple[str, int]:
    admin("identities.view")
    return render()


@bp.post("/identities")
def map_identity() -> BaseResponse | tuple[str, int]:
    admin("identity.map")
    system = request.form.get("system", "")
    ident = request.form.get("external_id", "").strip()
    person = request.form.get("person", "").strip()
    if system not in SYSTEMS or not ident or len(ident) > MAX_EXTERNAL_ID:
        abort(400)
    if len(person) > MAX_PERSON_ID:
        abort(400)
    store, manifest = ui().store, ui().manifest
    ref = target = f"{system}:{ident}"
    before = store.identities.get(system, ident)
    if before is None and (system, ident) not in engine_view().waiting():
        refuse(404, "identity.map", target)  # never seen: a tampered form
    if person not in manifest.people_by_id:
        audit("identity.map", target, person=person, outcome="unknown_person")
        return render(400, t("identities_unknown_person", person=person))
    # The manifest's own ids win over a recorded mapping (as `identities map` says).
    claimed = engine_view().resolver.lookup(system, ident)
    if claimed is not None:
        key = "identities_in_manifest" if claimed == person else "identities_manifest_wins"
        audit("identity.map", target, person=person, outcome="unchanged", manifest=claimed)
        if claimed != person:
            return render(409, t(key, ref=ref, person=claimed))
        flash(t(key, ref=ref, person=claimed), "info")
        return redirect(url_for("webui.identities"), 303)
    if before is not None and before.person_id is not None:
        # Mapped meanwhile (a second submit, or another admin): the first mapping stands.
        audit("identity.map", target, person=person, outcome="unchanged", was=before.person_id)
        if before.person_id != person:
            return render(409, t("identities_other", ref=ref, person=before.person_id))
        flash(t("identities_already", ref=ref, person=person), "info")
        return redirect(url_for("webui.identities"), 303)
    store.identities.map(system, ident, person)
    audit("identity.map", target, person=person, outcome="mapped", was=None)
    flash(t("identities_mapped", ref=ref, person=person), "ok")
    return redirect(url_for("webui.identities"), 303)
