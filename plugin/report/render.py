"""The report as JSON, CSV rows and a text table (the HTML page is in plugin.report.page)."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from plugin.printable import printable
from plugin.report.measures import Report, Side
from plugin.report.stats import Estimate
from plugin.report.words import Words

CSV_COLUMNS = (
    "section",
    "skill",
    "group",
    "measure",
    "value",
    "low",
    "high",
    "people",
    "tickets",
    "note",
)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    return value


def as_json(report: Report) -> dict[str, Any]:
    scope = report.scope
    body = {k: v for k, v in asdict(report).items() if k not in ("scope",)}
    found: dict[str, Any] = _plain(
        {
            "scope": {
                "skills": list(scope.skills),
                "team": scope.team,
                "sprint": scope.sprint.id if scope.sprint else None,
                "person": scope.person,
                "from": scope.start,
                "to": scope.end,  # exclusive
                "weeks": scope.weeks,
                "people": report.people,
            },
            **body,
        }
    )
    return found


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _row(section: str, skill: str, group: str, measure: str, value: Any, **rest: Any) -> list[str]:
    est = value if isinstance(value, Estimate) else Estimate(value, None, None)
    text = _num(est.value) if isinstance(est.value, float) else str(est.value or 0)
    if est.value is None:
        text = ""
    return [
        section,
        skill,
        group,
        measure,
        text,
        _num(est.low),
        _num(est.high),
        str(rest.get("people", "")),
        str(rest.get("tickets", "")),
        rest.get("note", ""),
    ]


def _side_rows(skill: str, group: str, when: str, side: Side) -> list[list[str]]:
    n = {"people": side.people, "tickets": side.tickets}
    return [
        _row("before_after", skill, group, f"{when}_cycle_days", side.cycle_days, **n),
        _row("before_after", skill, group, f"{when}_reopen_rate", side.reopen_rate, **n),
        _row("before_after", skill, group, f"{when}_bug_share", side.bug_share, **n),
    ]


def rows(report: Report) -> list[list[str]]:
    out: list[list[str]] = []
    for f in report.funnels:
        for stage in f.stages:
            out.append(_row("funnel", f.skill, "", stage.name, stage.people, people=stage.people))
        for state, n in f.awards_by_state.items():
            out.append(_row("awards", f.skill, "", state, n))
    for r in report.breakdown:
        for measure in ("invited", "completed", "applied", "awarded"):
            out.append(_row(f"by_{r.by}", r.skill, r.id, measure, getattr(r, measure)))
    for d in report.delays:
        for name in ("median", "p75", "p90"):
            out.append(
                _row(
                    "time_to_apply", d.skill, "", f"{name}_days", getattr(d, name), people=d.people
                )
            )
    for c in report.comparisons:
        note = "small sample" if c.small_sample else ""
        for g in (c.completed, c.comparison):
            if g is None:
                continue
            out += _side_rows(c.skill, g.name, "before", g.before)
            out += _side_rows(c.skill, g.name, "after", g.after)
            out.append(
                _row(
                    "before_after",
                    c.skill,
                    g.name,
                    "cycle_change",
                    g.change,
                    people=g.paired,
                    note=note,
                )
            )
        out.append(_row("before_after", c.skill, "", "difference", c.difference, note=note))
    for u in report.rewards:
        out.append(_row("rewards", u.reward, u.sprint, "used", u.used))
        out.append(_row("rewards", u.reward, u.sprint, "budget", u.budget))
    w = report.waiting
    out.append(_row("approvals", "", "", "waiting", w.count))
    out.append(_row("approvals", "", "", "median_age_days", w.median_days))
    out.append(_row("approvals", "", "", "oldest_age_days", w.oldest_days))
    out.append(_row("checkins", "", "", "done", report.checkins[0]))
    out.append(_row("checkins", "", "", "asked", report.checkins[1]))
    for m in report.modules:
        out.append(_row("modules", m.skill, m.module, "started", m.started))
        out.append(_row("modules", m.skill, m.module, "completed", m.completed))
        out.append(
            _row("modules", m.skill, m.module, "median_days_to_complete", m.median_days_to_complete)
        )
    return out


def as_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows(report):
        # A spreadsheet would run a cell that starts like a formula; ids come from outside.
        writer.writerow(["'" + c if c[:1] in ("=", "+", "@") else c for c in row])
    return buffer.getvalue()


def number(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def estimate(e: Estimate, pct: bool = False) -> str:
    """A figure with its interval, as people read it: 3.2 [2.9, 3.6] or -25% [-34%, -21%]."""
    show = percent if pct else number
    if e.value is None:
        return "—"
    if e.low is None or e.high is None:
        return show(e.value)
    return f"{show(e.value)} [{show(e.low)}, {show(e.high)}]"


def checkin_rate(report: Report, w: Words) -> str:
    done, asked = report.checkins
    if not asked:
        return w["checkins_none"]
    return f"{done} {w['of']} {asked} ({percent(done / asked)})"


def as_table(report: Report, words: Words) -> str:
    w = words
    lines = [w.title(report), ""]
    lines += [w["funnel"]]
    for f in report.funnels:
        stages = "  →  ".join(f"{w[s.name]} {s.people} ({percent(s.of_first)})" for s in f.stages)
        lines.append(f"  {f.skill}: {stages}")
        if f.awards_by_state:
            states = ", ".join(f"{w[k]} {n}" for k, n in f.awards_by_state.items())
            lines.append(f"    {w['awards']}: {states}")
    if report.breakdown:
        lines += ["", w["breakdown"]]
        for r in report.breakdown:
            lines.append(
                f"  {w[r.by]} {r.id}, {r.skill}: {w['invited']} {r.invited}, "
                f"{w['completed']} {r.completed}, {w['applied']} {r.applied}, "
                f"{w['awarded']} {r.awarded}"
            )
    lines += ["", w["time_to_apply"]]
    for d in report.delays:
        if d.people:
            lines.append(
                f"  {d.skill}: {w['people']} {d.people}, {w['median']} {d.median:.1f} {w['days']}, "
                f"p75 {d.p75:.1f}, p90 {d.p90:.1f}"
            )
        else:
            lines.append(f"  {d.skill}: {w['no_applications']}")
    lines += ["", w["before_after"], f"  {w['association']}"]
    for c in report.comparisons:
        flag = f" — {w['small_sample']}" if c.small_sample else ""
        lines.append(f"  {c.skill} ({c.weeks} {w['weeks']}){flag}")
        for g in (c.completed, c.comparison):
            if g is None:
                lines.append(f"    {w['comparison']}: {w['no_comparison']}")
                continue
            b, a = g.before, g.after

            def pair(name: str, before: Estimate, after: Estimate, pct: bool) -> str:
                return f"{w[name]} {estimate(before, pct)} → {estimate(after, pct)}"

            parts = [
                pair("cycle_days", b.cycle_days, a.cycle_days, False),
                pair("reopen_rate", b.reopen_rate, a.reopen_rate, True),
                pair("bug_share", b.bug_share, a.bug_share, True),
                f"{w['change']} {estimate(g.change, pct=True)}",
            ]
            lines.append(
                f"    {w.group(g.name)}: {'; '.join(parts)} "
                f"({w['people']} {g.paired}, {w['tickets']} {b.tickets}+{a.tickets})"
            )
        lines.append(f"    {w['difference']}: {estimate(c.difference, pct=True)}")
    if not report.comparisons:
        lines.append(f"  {w['no_completions']}")
    lines += ["", w["rewards"]]
    for u in report.rewards:
        budget = "—" if u.budget is None else str(u.budget)
        lines.append(f"  {u.sprint} {u.reward}: {w['used']} {u.used} / {w['budget']} {budget}")
    wt = report.waiting
    age = "" if wt.oldest_days is None else f", {w['oldest']} {wt.oldest_days:.1f} {w['days']}"
    lines.append(f"  {w['approvals_waiting']}: {wt.count}{age}")
    lines.append(f"  {w['checkins']}: {checkin_rate(report, w)}")
    lines += ["", w["modules"]]
    for m in report.modules:
        days = "—" if m.median_days_to_complete is None else f"{m.median_days_to_complete:.1f}"
        lines.append(
            f"  {m.skill}/{m.module} {m.title} ({m.minutes} min): {w['started']} {m.started}, "
            f"{w['completed']} {m.completed}, {w['median_days_to_complete']} {days}"
        )
    lines.append(f"  {w['feedback_none']}")
    for note in report.notes:
        lines += ["", w[note]]
    return "\n".join(printable(line) for line in lines)
