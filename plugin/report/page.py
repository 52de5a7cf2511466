"""The report as one self-contained HTML file: inline CSS and SVG, nothing fetched, so it
opens offline and survives being e-mailed."""

from __future__ import annotations

from importlib.resources import files

from jinja2 import Environment
from markupsafe import Markup

from plugin.report import plots
from plugin.report.measures import Comparison, Report
from plugin.report.render import checkin_rate, estimate, number, percent
from plugin.report.words import Words

CSS = """
body { font: 15px/1.45 system-ui, "DejaVu Sans", sans-serif; color: #222; margin: 2rem auto;
       max-width: 60rem; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border-bottom: 1px solid #eee; padding: .25rem .6rem; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #555; font-style: italic; }
.small { color: #8a5a00; font-weight: bold; }
figure { margin: .5rem 0 1.5rem; } figure svg { max-width: 100%; height: auto; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; }
               figure, table { break-inside: avoid; } }
"""


_ENV = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
_PAGE = _ENV.from_string(
    files("plugin.report").joinpath("templates/report.html").read_text("utf-8")
)


def _daily(cumulative: list[int]) -> list[int]:
    """The plot adds up what was spent each day; the report keeps the running total."""
    return [n - (cumulative[i - 1] if i else 0) for i, n in enumerate(cumulative)]


def as_html(report: Report, words: Words) -> str:
    w = words
    skills, rewards = report.skill_names, report.reward_names

    def comparison_svg(c: Comparison) -> Markup:
        rows = []
        for g in (c.completed, c.comparison):
            if g is None:
                continue
            for when, side in (("before", g.before), ("after", g.after)):
                e = side.cycle_days
                if e.value is None:
                    continue
                low, high = (
                    e.low if e.low is not None else e.value,
                    e.high if e.high is not None else e.value,
                )
                note = w["small_sample"] if c.small_sample else ""
                rows.append(
                    plots.Interval(f"{w.group(g.name)}, {w[when]}", e.value, low, high, note)
                )
        return Markup(plots.intervals(rows, w["cycle_days"], w["days"], empty=w["no_data"]))  # noqa: S704

    return _PAGE.render(
        r=report,
        w=w,
        title=w.title(report),
        css=Markup(CSS),  # noqa: S704 (our constant)
        skill=lambda s: skills.get(s, s),
        reward=lambda s: rewards.get(s, s),
        pct=percent,
        num=number,
        est=estimate,
        checkin_rate=checkin_rate,
        funnel_svg=lambda f: Markup(  # noqa: S704 (the plots escape their texts)
            plots.funnel_bars(
                [(w[s.name], s.people) for s in f.stages],
                skills.get(f.skill, f.skill),
                empty=w["no_data"],
            )
        ),
        delay_svg=lambda d: Markup(  # noqa: S704
            plots.histogram(
                list(d.days),
                skills.get(d.skill, d.skill),
                w["days_to_apply"],
                {
                    k: v
                    for k, v in ((w["median"], d.median), ("p75", d.p75), ("p90", d.p90))
                    if v is not None
                },
                empty=w["no_applications"],
            )
        ),
        comparison_svg=comparison_svg,
        burndown_svg=lambda u: Markup(  # noqa: S704
            plots.burndown(
                u.budget,
                [day for day, _ in u.by_day],
                _daily([n for _, n in u.by_day]),
                f"{w['burndown']}: {u.reward}, {u.sprint}",
                empty=w["no_data"],
            )
        ),
    )
