"""The review as one self-contained HTML page (English or Russian), as a PDF laid out from that
page, or as CSV rows for a spreadsheet."""

from __future__ import annotations

import csv
import io
from datetime import date

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from plugin.pipeline.reconcile import ENGINE_ACTOR
from plugin.report.review import Review, Step
from plugin.times import shown

LANGS = ("en", "ru")

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Performance review",
        "subtitle": "Learning applied at work",
        "teams": "Team",
        "managers": "managers",
        "no_team": "in no team",
        "no_manager": "none",
        "period": "Period",
        "generated": "Generated",
        "nothing": "Nothing in this period: no modules completed, no skills applied, no rewards.",
        "modules": "Modules completed",
        "module": "Module",
        "skill": "Skill",
        "minutes": "Minutes",
        "date": "Date",
        "applications": "Tickets where each skill was applied",
        "ticket": "Ticket",
        "done": "Done",
        "qualified_by": "Module that qualified it",
        "rewards": "Rewards and their state",
        "reward": "Reward",
        "points": "Points",
        "state": "State",
        "history": "History",
        "notes": "Manager's notes",
        "notes_about": "Notes managers left when approving, rejecting, handing out or revoking "
        "a reward, and at their check-ins after an award.",
        "no_notes": "No manager's notes in this period.",
        "who": "By",
        "when": "When",
        "note": "Note",
        "totals": "Totals",
        "total_modules": "Modules completed",
        "total_skills": "Skills applied",
        "total_awards": "Awards by state",
        "total_points": "Points earned",
        "none": "None in this period.",
        "system": "skillrelay",
        "page": "Page",
        "of": "of",
    },
    "ru": {
        "title": "Оценка результатов",
        "subtitle": "Обучение, применённое в работе",
        "teams": "Команда",
        "managers": "руководители",
        "no_team": "не состоит в команде",
        "no_manager": "нет",
        "period": "Период",
        "generated": "Сформировано",
        "nothing": "За этот период ничего нет: ни пройденных модулей, ни применённых навыков, "
        "ни наград.",
        "modules": "Пройденные модули",
        "module": "Модуль",
        "skill": "Навык",
        "minutes": "Минуты",
        "date": "Дата",
        "applications": "Задачи, в которых применён каждый навык",
        "ticket": "Задача",
        "done": "Выполнена",
        "qualified_by": "Модуль, давший право",
        "rewards": "Награды и их состояние",
        "reward": "Награда",
        "points": "Баллы",
        "state": "Состояние",
        "history": "История",
        "notes": "Заметки руководителя",
        "notes_about": "Заметки, которые руководители оставили, одобряя, отклоняя, выдавая "
        "или отзывая награду, и после встреч по итогам награды.",
        "no_notes": "За этот период заметок руководителя нет.",
        "who": "Кто",
        "when": "Когда",
        "note": "Заметка",
        "totals": "Итоги",
        "total_modules": "Пройдено модулей",
        "total_skills": "Применено навыков",
        "total_awards": "Награды по состояниям",
        "total_points": "Заработано баллов",
        "none": "За этот период нет.",
        "system": "skillrelay",
        "page": "Страница",
        "of": "из",
    },
}

STATES: dict[str, dict[str, str]] = {
    "en": {
        "pending_approval": "awaiting approval",
        "approved": "approved",
        "fulfilled": "handed out",
        "rejected": "rejected",
        "revoked": "revoked",
        "revocation_flagged": "flagged for revocation",
        "check-in": "check-in",
    },
    "ru": {
        "pending_approval": "ждёт одобрения",
        "approved": "одобрена",
        "fulfilled": "выдана",
        "rejected": "отклонена",
        "revoked": "отозвана",
        "revocation_flagged": "помечена к отзыву",
        "check-in": "встреча с руководителем",
    },
}

# Only our own strings go into the style sheet: it is not escaped.
PAGE_CSS = """
@page { size: A4; margin: 12mm 12mm 15mm;
  @bottom-center { content: "PAGE " counter(page) " OF " counter(pages);
    font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 8pt;
    color: #555; } }
"""
CSS = """
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 10pt;
  line-height: 1.4; color: #111; max-width: 60em; margin: 1.5em auto; padding: 0 1em; }
h1 { font-size: 16pt; margin: 0 0 .3em; }
h3 { font-size: 10.5pt; margin: .8em 0 .3em; break-after: avoid; page-break-after: avoid; }
h2 { font-size: 12pt; margin: 1.4em 0 .4em; border-bottom: 1px solid #999;
  break-after: avoid; page-break-after: avoid; }
dl { display: grid; grid-template-columns: max-content auto; gap: .1em 1em; margin: .5em 0; }
dt { font-weight: bold; } dd { margin: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #bbb; padding: .2em .4em; text-align: left; vertical-align: top; }
th { background: #eee; }
tr { break-inside: avoid; page-break-inside: avoid; }
td.n { text-align: right; }
ul.steps { margin: 0; padding-left: 1.1em; font-size: .9em; }
th.history { width: 45%; }
.keep { break-inside: avoid; page-break-inside: avoid; }
.empty, .about { color: #444; font-style: italic; }
a { color: #0645ad; }
@media print { body { margin: 0; max-width: none; padding: 0; font-size: 9pt; }
  h2 { margin-top: 1em; } a { color: #000; } }
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<title>{{ r.person_name }}: {{ t.title }}</title>
<style>{{ css }}</style>
</head>
<body>
<header>
<h1>{{ t.title }}</h1>
<p class="about">{{ t.subtitle }}</p>
<p><strong>{{ r.person_name }}</strong> ({{ r.person_id }})</p>
<dl>
<dt>{{ t.teams }}</dt>
<dd>{% for team in r.teams %}{{ team.name }} ({{ t.managers }}: {{ team.managers | join(", ")
 or t.no_manager }}){% if not loop.last %}<br>{% endif %}{% else %}{{ t.no_team }}{% endfor %}</dd>
<dt>{{ t.period }}</dt><dd>{{ day(r.period.start) }} – {{ day(r.period.end) }} ({{ r.zone }})</dd>
<dt>{{ t.generated }}</dt><dd>{{ when(r.generated_at) }}</dd>
</dl>
</header>
{% if r.empty %}<p class="empty">{{ t.nothing }}</p>{% endif %}

<h2>{{ t.modules }} ({{ r.modules | length }})</h2>
{% if r.modules %}<table>
<thead><tr><th>{{ t.module }}</th><th>{{ t.skill }}</th><th>{{ t.minutes }}</th>
<th>{{ t.date }}</th></tr></thead>
<tbody>
{% for m in r.modules %}<tr><td>{{ m.title }}</td><td>{{ m.skill }}</td>
<td class="n">{{ m.minutes }}</td><td>{{ day(m.on) }}</td></tr>
{% endfor %}</tbody></table>{% else %}<p class="empty">{{ t.none }}</p>{% endif %}

<h2>{{ t.applications }} ({{ r.applications | length }})</h2>
{% for skill, items in r.applications | groupby("skill") %}<h3>{{ skill }}</h3>
<table>
<thead><tr><th>{{ t.ticket }}</th><th>{{ t.done }}</th><th>{{ t.qualified_by }}</th></tr></thead>
<tbody>
{% for a in items %}<tr><td>{% if a.url %}<a href="{{ a.url }}">{{ a.ticket }}</a>{% else %}
{{- a.ticket }}{% endif %}</td><td>{{ day(a.done_on) }}</td><td>{{ a.module or "—" }}</td></tr>
{% endfor %}</tbody></table>
{% else %}<p class="empty">{{ t.none }}</p>{% endfor %}

<h2>{{ t.rewards }} ({{ r.awards | length }})</h2>
{% if r.awards %}<table>
<thead><tr><th>{{ t.reward }}</th><th>{{ t.skill }}, {{ t.ticket }}</th><th>{{ t.points }}</th>
<th>{{ t.state }}</th><th class="history">{{ t.history }}</th></tr></thead>
<tbody>
{% for a in r.awards %}<tr><td>{{ a.reward }}</td><td>{{ a.skill }}, {{ a.ticket }}
 ({{ day(a.done_on) }})</td><td class="n">{{ a.points }}</td><td>{{ state(a.state) }}</td>
<td><ul class="steps">{% for s in a.steps %}<li>{{ state(s.from_state) }} → {{ state(s.to_state) }},
 {{ actor(s) }}, {{ when(s.at) }}{% if s.note %}: {{ s.note }}{% endif %}</li>
{% endfor %}</ul></td></tr>
{% endfor %}</tbody></table>{% else %}<p class="empty">{{ t.none }}</p>{% endif %}

<h2>{{ t.notes }} ({{ r.notes | length }})</h2>
<p class="about">{{ t.notes_about }}</p>
{% if r.notes %}<table>
<thead><tr><th>{{ t.when }}</th><th>{{ t.who }}</th><th>{{ t.ticket }}</th><th>{{ t.state }}</th>
<th>{{ t.note }}</th></tr></thead>
<tbody>
{% for n in r.notes %}<tr><td>{{ when(n.step.at) }}</td><td>{{ n.step.actor_name }}</td>
<td>{{ n.ticket }}</td><td>{{ state(n.step.to_state) }}</td><td>{{ n.step.note }}</td></tr>
{% endfor %}</tbody></table>{% else %}<p class="empty">{{ t.no_notes }}</p>{% endif %}

<section class="keep">
<h2>{{ t.totals }}</h2>
<dl>
<dt>{{ t.total_modules }}</dt><dd>{{ r.totals.modules }}</dd>
<dt>{{ t.total_skills }}</dt><dd>{{ r.totals.skills_applied }}</dd>
<dt>{{ t.total_awards }}</dt><dd>{% for s, n in r.totals.by_state %}{{ state(s) }}: {{ n }}
{%- if not loop.last %}, {% endif %}{% else %}0{% endfor %}</dd>
<dt>{{ t.total_points }}</dt><dd>{{ r.totals.points }}</dd>
</dl>
</section>
</body>
</html>
"""

_ENV = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
_PAGE = _ENV.from_string(TEMPLATE)


def day(value: date) -> str:
    return value.isoformat()


def page_css(strings: dict[str, str]) -> str:
    return PAGE_CSS.replace("PAGE", strings["page"]).replace("OF", strings["of"])


def html(review: Review, lang: str = "en") -> str:
    strings = STRINGS[lang]
    states = STATES[lang]

    def state(value: str | None) -> str:
        return "—" if value is None else states.get(value, value)

    def actor(s: Step) -> str:
        return strings["system"] if s.actor == ENGINE_ACTOR else s.actor_name

    return _PAGE.render(
        lang=lang,
        t=strings,
        r=review,
        css=Markup(page_css(strings) + CSS),  # noqa: S704
        day=day,
        when=shown,
        state=state,
        actor=actor,
    )


def pdf(review: Review, lang: str = "en") -> bytes:
    import weasyprint  # only here: loading it takes longer than the rest of the command

    data: bytes = weasyprint.HTML(string=html(review, lang)).write_pdf()
    return data


COLUMNS = (
    "section",
    "person",
    "date",
    "time",
    "skill",
    "module",
    "minutes",
    "ticket",
    "ticket_url",
    "award_id",
    "reward",
    "points",
    "state",
    "from_state",
    "to_state",
    "actor",
    "note",
)
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def rows(review: Review) -> list[dict[str, object]]:
    """One dict per item, keyed by COLUMNS (a missing key is an empty cell)."""
    found: list[dict[str, object]] = []
    for m in review.modules:
        found.append(
            dict(section="module", date=day(m.on), skill=m.skill, module=m.title, minutes=m.minutes)
        )
    for a in review.applications:
        found.append(
            dict(
                section="application",
                date=day(a.done_on),
                skill=a.skill,
                module=a.module or "",
                ticket=a.ticket,
                ticket_url=a.url or "",
                award_id=a.award_id,
            )
        )
    for w in review.awards:
        found.append(
            dict(
                section="award",
                date=day(w.done_on),
                skill=w.skill,
                ticket=w.ticket,
                award_id=w.id,
                reward=w.reward,
                points=w.points,
                state=w.state,
            )
        )
        found += [_step("award_event", s, w.ticket, w.id) for s in w.steps]
    found += [_step("note", n.step, n.ticket, n.award_id) for n in review.notes]
    return [{"person": review.person_id, **row} for row in found]


def _step(section: str, s: Step, ticket: str, award_id: int) -> dict[str, object]:
    return dict(
        section=section,
        date=s.at.date().isoformat(),
        time=f"{s.at:%H:%M}",
        ticket=ticket,
        award_id=award_id,
        from_state=s.from_state or "",
        to_state=s.to_state,
        actor=s.actor,
        note=s.note or "",
    )


def csv_text(review: Review) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, restval="")
    writer.writeheader()
    for row in rows(review):
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()
