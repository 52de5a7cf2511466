"""The pages. Who may see and do what is worked out on every request from the manifest:
a manager acts on the awards of their teams' members, an admin (`users add --admin`) sees
everything, everyone sees their own awards."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from babel.dates import format_timedelta
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from plugin.effects.facts import read_facts
from plugin.engine.explain import explain_one
from plugin.engine.facts import from_us
from plugin.errors import ConfigError
from plugin.manifest import Manifest
from plugin.report.review import ticket_url
from plugin.store import Award, InvalidTransition
from plugin.store.ledger import AwardFilter
from plugin.store.notices import CheckIn, UnknownCheckIn
from plugin.times import shown
from webui import nav
from webui.app import OIDC_EXTENSION, UI_EXTENSION, UiServices, csrf
from webui.passwords import hash_password, needs_rehash, verify
from webui.words import word

bp = Blueprint(
    "webui",
    __name__,
    url_prefix="/ui",
    template_folder="templates",
    static_folder="static",
)
OPEN = ("webui.login", "webui.static", "webui.oidc_login", "webui.oidc_callback")
AWARD_ID = re.compile(r"[0-9]{1,18}")  # fits a BIGINT; anything else is a tampered form
MAX_NOTE = 2000
MAX_PERSON_ID = 200
MAX_SELECTED = 200
PAGE = 100  # awards waiting, oldest first, a page
MAX_NOTICES = 50  # the newest messages on a person's page
VERBS = {"approve": "approved", "reject": "rejected"}


@dataclass(frozen=True)
class Viewer:
    person: str
    name: str
    is_admin: bool
    manages: frozenset[str]  # the members of the teams they manage, never themselves
    locale: str

    @property
    def is_manager(self) -> bool:
        return bool(self.manages)

    def may_see(self, person: str) -> bool:
        return person == self.person or self.is_admin or person in self.manages

    def may_act(self, person: str) -> bool:
        return person in self.manages


def ui() -> UiServices:
    found = current_app.extensions[UI_EXTENSION]
    assert isinstance(found, UiServices)
    return found


def viewer_of(manifest: Manifest, person: str, is_admin: bool) -> Viewer | None:
    found = manifest.people_by_id.get(person)
    if found is None:
        return None  # gone from the manifest: the account no longer opens anything
    manages = {m for t in manifest.teams if person in t.managers for m in t.members}
    manages.discard(person)
    return Viewer(person, found.name, is_admin, frozenset(manages), found.locale or "en")


def viewer() -> Viewer:
    found = g.get("viewer")
    assert isinstance(found, Viewer)
    return found


def locale() -> str:
    found = g.get("viewer")
    return found.locale if isinstance(found, Viewer) else "en"


def t(key: str, **values: Any) -> str:
    return word(locale(), key, **values)


def remote_addr() -> str:
    return request.remote_addr or "unknown"


def audit(action: str, target: str | None = None, **detail: Any) -> None:
    found = g.get("viewer")
    person = found.person if isinstance(found, Viewer) else None
    ui().store.audit.add(person, action, target, detail or None, remote_addr())


def refuse(status: int, action: str, target: str | None = None, **detail: Any) -> NoReturn:
    audit(f"{action}.refused", target, status=status, **detail)
    abort(status)


def when(at: datetime | None) -> str:
    return shown(at, ui().manifest.organisation.zone) if at else "—"


def age(at: datetime) -> str:
    return str(format_timedelta(ui().store.clock() - at, locale=locale()))


@bp.app_template_global("t")
def _t(key: str, **values: Any) -> str:
    return t(key, **values)


@bp.context_processor
def _page() -> dict[str, Any]:
    found = g.get("viewer")
    return {"viewer": found, "lang": locale(), "when": when, "links": nav.visible(found)}


@bp.before_request
def _signed_in() -> BaseResponse | None:
    g.viewer = None
    person = session.get("person")
    if isinstance(person, str):
        g.viewer = _current(person)
        if g.viewer is None:
            session.clear()
    if g.viewer is None and request.endpoint not in OPEN:
        # Signed out, or the session expired: to the sign-in page, POSTs too (nothing done).
        return redirect(url_for("webui.login"), 303)
    if request.method == "POST":
        csrf.protect()  # CSRFError (400) before any view runs
    return None


def _current(person: str) -> Viewer | None:
    """The signed-in person, while the session is young and the account unchanged."""
    started = session.get("at")
    if not isinstance(started, int | float) or time.time() - started > ui().session_seconds:
        return None
    user = ui().store.users.get(person)
    if session.get("via") == "oidc":
        # The provider vouched for the e-mail: no account row is needed (an admin row still
        # counts); the session ends when the manifest gives the person another e-mail.
        found = ui().manifest.people_by_id.get(person)
        if found is None or found.email.casefold() != session.get("email"):
            return None
        return viewer_of(ui().manifest, person, user is not None and user.is_admin)
    if user is None or session.get("since") != user.updated_at.isoformat():
        return None  # the account was removed or its password changed: sign in again
    return viewer_of(ui().manifest, person, user.is_admin)


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; style-src 'self'; img-src 'self' data:; script-src 'none'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "webui.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(HTTPException)
def _error(exc: HTTPException) -> tuple[str, int]:
    status = exc.code or 500
    key = "e400_csrf" if isinstance(exc, CSRFError) else f"e{status}"
    message = t(key) if key in _KNOWN else exc.name
    return render_template("error.html", status=status, message=message), status


_KNOWN = {"e400", "e400_csrf", "e401", "e403", "e404", "e405", "e413", "e429", "e500"}


nav.add("webui.approvals", "approvals", lambda v: v.is_manager or v.is_admin, 20)
nav.add("webui.checkins", "checkins", lambda v: v.is_manager, 30)
nav.add("webui.me", "me", lambda v: True, 90)
nav.add("webui.audit_page", "audit", lambda v: v.is_admin, 100)


# --- signing in and out ---


@bp.get("/")
def home() -> BaseResponse:
    who = viewer()
    landing = "webui.dashboard" if who.is_manager or who.is_admin else "webui.me"
    return redirect(url_for(landing), 303)


def login_page(person: str = "", error: str | None = None) -> str:
    """The sign-in form, below the single sign-on button when that is configured."""
    sso = OIDC_EXTENSION in current_app.extensions
    return render_template("login.html", person=person, error=error, sso=sso)


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | tuple[str, int] | str:
    if request.method == "GET":
        if g.viewer is not None:
            return home()
        return login_page()
    person = request.form.get("person", "").strip()[:MAX_PERSON_ID]
    password = request.form.get("password", "")
    limiter, addr = ui().limiter, remote_addr()
    if limiter.blocked(person, addr):
        audit("login.limited", person or None)
        return login_page(person, t("too_many")), 429
    user = ui().store.users.get(person) if person else None
    known = user is not None and person in ui().manifest.people_by_id
    # A single-sign-on-only account has no password: checked as slowly as no account at all.
    stored = user.password_hash if user is not None and user.has_password else None
    if not (verify(stored, password) and known and user):
        limiter.failed(person, addr)
        audit("login.failed", person or None)
        return login_page(person, t("bad_credentials")), 401
    limiter.succeeded(person)
    if needs_rehash(user.password_hash):
        user = ui().store.users.set_password(person, hash_password(password))
    session.clear()  # a new session: nothing from before signing in carries over
    session.permanent = True
    session.update(person=person, at=time.time(), since=user.updated_at.isoformat(), via="password")
    g.viewer = viewer_of(ui().manifest, person, user.is_admin)
    audit("login")
    return home()


@bp.post("/logout")
def logout() -> BaseResponse:
    audit("logout")
    session.clear()
    return redirect(url_for("webui.login"), 303)


# --- approvals ---


@dataclass(frozen=True)
class Waiting:
    award: Award
    person_name: str
    skill_name: str
    ticket_url: str | None
    module: str | None
    completed_at: datetime | None
    why: str
    age: str
    mine: bool  # the viewer may act on it


def reasons(awards: list[Award]) -> dict[int, str]:
    """What `skillrelay explain` says about each award: kept with the award when it was
    granted (evidence.why); for awards granted before that was kept, the admin pages' engine,
    caught up with the inbox once per process, says it."""
    found: dict[int, str] = {}
    older: dict[tuple[str, str, str], int] = {}
    for a in awards:
        why = (a.evidence or {}).get("why")
        if isinstance(why, str) and why:
            found[a.id] = why
        else:
            older[(a.person_id, a.skill_id, a.ticket_key)] = a.id
    if older:
        from webui.pages._admin import engine_view  # the pages import this module

        with engine_view().current() as engine:
            for d in engine.decisions():
                award_id = older.get((d.person or "", d.skill or "", d.ticket))
                if award_id is not None and d.awarded:
                    found[award_id] = explain_one(d)
    return found


def scope(who: Viewer) -> frozenset[str] | None:
    """Whose awards the viewer acts on or sees in the queue (None: everyone's)."""
    return None if who.is_admin else who.manages


def waiting(who: Viewer, after: int = 0) -> list[Waiting]:
    """The oldest PAGE awards waiting for approval with ids above `after`."""
    manifest = ui().manifest
    where = AwardFilter(people=scope(who), states=("pending_approval",))
    awards = sorted(ui().store.awards.page(where, after=after, limit=PAGE), key=lambda a: a.id)
    why = reasons(awards)
    jira = manifest.jira.base_url if manifest.jira else ""
    found = []
    for a in awards:
        facts = read_facts(a, manifest, jira)
        found.append(
            Waiting(
                award=a,
                person_name=facts.person_name,
                skill_name=facts.skill_name,
                ticket_url=ticket_url(a, manifest),
                module=facts.module_title,
                completed_at=facts.completed_at,
                why=why.get(a.id, ""),
                age=age(a.created_at),
                mine=who.may_act(a.person_id),
            )
        )
    return found


@bp.get("/approvals")
def approvals() -> str:
    after = request.args.get("after", "0")
    if not AWARD_ID.fullmatch(after):
        abort(400)
    found = waiting(viewer(), int(after))
    more = found[-1].award.id if len(found) == PAGE else None
    return render_template("approvals.html", waiting=found, more=more, after=int(after))


def award_ids(values: Iterable[str]) -> list[int]:
    found = list(values)
    if not found or len(found) > MAX_SELECTED or not all(AWARD_ID.fullmatch(v) for v in found):
        abort(400)
    return sorted({int(v) for v in found})


def note_of(name: str = "note") -> str | None:
    note = request.form.get(name, "").strip()
    if len(note) > MAX_NOTE:
        abort(400)
    return note or None


@bp.post("/approvals")
def act() -> BaseResponse:
    who = viewer()
    verb = request.form.get("action", "")
    if verb not in VERBS:
        abort(400)
    ids = award_ids(request.form.getlist("award"))
    note = note_of()
    store = ui().store
    # Every award is checked before any is touched: one bad id changes nothing.
    awards = [store.awards.get(i) for i in ids]
    missing = [i for i, a in zip(ids, awards, strict=True) if a is None]
    if missing:
        refuse(404, f"award.{verb}", ",".join(map(str, missing)))
    others = [a.id for a in awards if a is not None and not who.may_act(a.person_id)]
    if others:
        refuse(403, f"award.{verb}", ",".join(map(str, others)))
    act_on = getattr(ui().actions, verb)
    for award_id in ids:
        target = f"award:{award_id}"
        try:
            result = act_on(award_id, who.person, note)
        except InvalidTransition:
            now = store.awards.get(award_id)
            state = now.state if now else "unknown"
            audit(f"award.{verb}", target, note=note, outcome="unchanged", state=state)
            flash(t("already", id=award_id, state=t(state)), "info")
            continue
        except ConfigError as exc:  # e.g. their own award: AwardActions has the last word
            refuse(403, f"award.{verb}", target, reason=str(exc))
        audit(
            f"award.{verb}",
            target,
            note=note,
            outcome=result.award.state,
            previous=result.previous,
            effects=result.effects,
        )
        flash(t(f"{VERBS[verb]}_one", id=award_id, effects=result.effects), "ok")
    return redirect(url_for("webui.approvals"), 303)


# --- check-ins ---


@dataclass(frozen=True)
class Row:
    checkin: CheckIn
    award: Award | None
    person_name: str


def checkin_rows(manager: str) -> list[Row]:
    store, manifest = ui().store, ui().manifest
    rows = []
    for c in store.checkins.list(manager=manager):
        person = manifest.people_by_id.get(c.person_id)
        rows.append(Row(c, store.awards.get(c.award_id), person.name if person else c.person_id))
    return rows


@bp.get("/checkins")
def checkins() -> str:
    rows = checkin_rows(viewer().person)
    open_rows = [r for r in rows if r.checkin.done_at is None]
    done_rows = [r for r in rows if r.checkin.done_at is not None]
    return render_template("checkins.html", open_rows=open_rows, done_rows=done_rows)


@bp.post("/checkins")
def record() -> BaseResponse:
    who = viewer()
    [award_id] = award_ids([request.form.get("award", "")])
    note = note_of()
    store, target = ui().store, f"award:{award_id}"
    mine = [c for c in store.checkins.list(manager=who.person) if c.award_id == award_id]
    if not mine:
        asked = any(c.award_id == award_id for c in store.checkins.list())
        refuse(403 if asked else 404, "checkin.done", target)
    if note is None:
        flash(t("checkin_note"), "error")
        return redirect(url_for("webui.checkins"), 303)
    try:
        store.checkins.done(award_id, who.person, note)
    except UnknownCheckIn:
        refuse(404, "checkin.done", target)
    fresh = mine[0].done_at is None  # else the first record stands (CheckIns.done)
    audit("checkin.done", target, note=note, outcome="recorded" if fresh else "unchanged")
    flash(t("checkin_done" if fresh else "checkin_already", id=award_id), "ok")
    return redirect(url_for("webui.checkins"), 303)


# --- people ---


def person_page(person: str) -> str:
    store, manifest = ui().store, ui().manifest
    found = manifest.people_by_id.get(person)
    name = found.name if found else person
    awards = [(a, store.awards.events(a.id)) for a in store.awards.list(person=person)]
    notices = store.notices.list(person=person, limit=MAX_NOTICES)
    return render_template(
        "person.html",
        name=name,
        person=person,
        awards=awards,
        notices=notices,
        modules=modules_of(person),
    )


@dataclass(frozen=True)
class Learned:
    title: str
    skill: str
    state: str
    at: datetime
    source: str


def modules_of(person: str) -> list[Learned]:
    """The modules of the manifest the person completed, passed or failed, newest first, as
    the engine (caught up with the inbox, kept by the process) resolves their ids."""
    from webui.pages._admin import engine_view  # the pages import this module

    manifest = ui().manifest
    with engine_view().current() as engine:
        found = engine.completions_of(person)
    learned = []
    for c in found:
        where = manifest.modules_by_key.get(c.module)
        if where is None or c.state == "incomplete":
            continue
        skill, module = where
        learned.append(Learned(module.title, skill.name, c.state, from_us(c.at), c.source))
    return sorted(learned, key=lambda m: m.at, reverse=True)


@bp.get("/me")
def me() -> str:
    return person_page(viewer().person)


@bp.get("/people/<person>")
def person(person: str) -> str:
    who = viewer()
    if not who.may_see(person):
        refuse(403, "person.view", person[:MAX_PERSON_ID])
    if person not in ui().manifest.people_by_id:
        abort(404)
    return person_page(person)


# --- audit ---


@bp.get("/audit")
def audit_page() -> str:
    if not viewer().is_admin:
        refuse(403, "audit.view")
    return render_template("audit.html", entries=ui().store.audit.list(limit=500))
