"""`skillrelay sprint [ID]`: one sprint at a glance (today's, or the latest, by default)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

from plugin.errors import ConfigError
from plugin.manifest import Manifest, load_manifest
from plugin.pipeline import SprintSummary, current_sprint, find_sprint, summarise, today_in
from plugin.printable import printable
from plugin.settings import database_url, manifest_path
from plugin.store import Store


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "sprint", help="a sprint's dates, people, modules completed, skills applied and points"
    )
    parser.add_argument(
        "id", nargs="?", metavar="ID", help="sprint id (default: today's, else the latest)"
    )
    parser.add_argument("--manifest", help="manifest file (default $SKILLRELAY_MANIFEST)")
    parser.add_argument("--database", help="database URL (default $SKILLRELAY_DATABASE_URL)")
    parser.set_defaults(func=run)


def now() -> datetime:
    return datetime.now(UTC)


def _name(manifest: Manifest, person: str) -> str:
    found = manifest.people_by_id.get(person)
    return f"{person} ({found.name})" if found else person


def render(summary: SprintSummary, manifest: Manifest) -> str:
    s = summary.sprint
    last = s.end - timedelta(days=1)
    zone = manifest.organisation.timezone
    lines = [
        f"sprint {s.id}: {s.start.isoformat()} to {last.isoformat()} ({s.length_days} days, {zone})"
    ]
    if s.focus_skills:
        lines.append(f"focus skills: {', '.join(s.focus_skills)}")
    lines += ["", f"participants ({len(summary.participants)})"]
    lines += [f"  {_name(manifest, p)}" for p in summary.participants] or ["  none listed"]
    lines += ["", f"modules completed ({len(summary.learned)})"]
    width = max((len(c.person) for c in summary.learned), default=0)
    for c in summary.learned:
        day = c.at.astimezone(manifest.organisation.zone).date().isoformat()
        lines.append(f"  {c.person.ljust(width)}  {c.module} ({c.skill}) on {day}")
    if not summary.learned:
        lines.append("  none yet")
    lines += ["", f"skills applied ({len(summary.awards)})"]
    width = max((len(a.person_id) for a in summary.awards), default=0)
    for a in summary.awards:
        reward = manifest.rewards_by_id.get(a.reward_id)
        name = reward.name if reward else a.reward_id
        lines.append(
            f"  {a.person_id.ljust(width)}  {a.skill_id} in {a.ticket_key}: {name}, "
            f"{a.points} points ({a.state})"
        )
    if not summary.awards:
        lines.append("  none yet")
    states = ", ".join(f"{state} {n}" for state, n in summary.by_state.items())
    lines += ["", f"awards by state: {states or 'none'}", "", "points"]
    width = max((len(p) for p, _ in summary.points), default=0)
    lines += [f"  {p.ljust(width)}  {n}" for p, n in summary.points] or ["  none yet"]
    # Ticket keys come from Jira: escaped, so each entry stays one line of text.
    return "\n".join(printable(line) for line in lines)


def run(args: argparse.Namespace) -> int:
    manifest = load_manifest(manifest_path(args.manifest))
    if args.id:
        sprint = find_sprint(manifest, args.id)
    else:
        found = current_sprint(manifest, today_in(manifest, now()))
        if found is None:
            raise ConfigError("the manifest defines no sprints")
        sprint = found
    with Store.open(database_url(args.database)) as store:
        summary = summarise(store, manifest, sprint)
    print(render(summary, manifest))
    return 0
