"""A decision's chain of evidence as JSON-ready data (for the ledger and decisions table)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plugin.engine.facts import MINUTE_US, from_us

if TYPE_CHECKING:
    from plugin.engine.decision import Decision


def _iso(us: int | None) -> str | None:
    return from_us(us).isoformat() if us is not None else None


def evidence_of(d: Decision) -> dict[str, Any]:
    t = d.finished
    spent = d.in_progress_us
    evidence: dict[str, Any] = {
        "reason": d.reason,
        "person": d.person,
        "assignee": d.person_ref,
        "skill": d.skill,
        "reward": d.reward,
        "sprint": d.sprint,
        "ticket": {
            "id": t.id,
            "key": t.key,
            "summary": t.summary,
            "project": t.project,
            "status": t.status,
            "resolution": t.resolution,
            "labels": list(t.labels),
            "components": list(t.components),
            "assignee": t.assignee.label if t.assignee else None,
            "matched": list(d.matched),
            "done_at": _iso(d.done.at),
            "done_transition": d.done.key,
            "in_progress_minutes": spent // MINUTE_US if spent is not None else None,
        },
        "completion": None,
        "reopened": None,
        "rules": None,
        "detail": dict(d.detail),
    }
    if d.completion is not None:
        done = d.completion
        evidence["completion"] = {
            "key": done.key,
            "source": done.source,
            "state": done.state,
            "at": _iso(done.at),
            "person": done.person.label,
            "module": done.module,
            "module_id": d.module.id if d.module else None,
            "title": d.module.title if d.module else None,
        }
    if d.reopen is not None:
        evidence["reopened"] = {"at": _iso(d.reopen.at), "transition": d.reopen.key}
    if d.skill_info is not None:
        s = d.skill_info
        evidence["rules"] = {
            "apply_window_days": s.window_days,
            "done_status_category": s.done_category,
            "excluded_resolutions": list(s.excluded_resolutions),
            "min_in_progress_minutes": s.min_in_progress_minutes,
            "cooldown_days": s.cooldown_days,
            "max_awards_per_person_per_sprint": s.cap,
            "budget": {"per_sprint": s.per_sprint, "per_quarter": s.per_quarter},
        }
    # The words of `skillrelay explain`, kept with the award: the approvals page shows them
    # without rebuilding the engine from the whole inbox.
    from plugin.engine.explain import explain_one  # explain imports decision, which imports this

    evidence["why"] = explain_one(d)
    return evidence
