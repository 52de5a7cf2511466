"""`skillrelay awards`: list awards; approve, reject, fulfil or revoke one; balances."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any, get_args

from plugin.manifest import Manifest, load_manifest
from plugin.pipeline import (
    ActionResult,
    AwardActions,
    EffectSettings,
    budget_use,
    current_sprint,
    find_sprint,
    points,
    today_in,
)
from plugin.printable import printable
from plugin.settings import database_url, manifest_path
from plugin.store import Award, AwardState, Store
from plugin.store.base import utc_now

NO_POINTS = ("rejected", "revoked")
ACTIONS = {
    "approve": "approve a pending award (a manager of the person's team)",
    "reject": "turn down a pending award",
    "fulfil": "record that the reward was handed out (or keep one flagged for revocation)",
    "revoke": "take back an award, e.g. one flagged for revocation after a reopen",
}


def _common(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: `awards --database URL approve 7` keeps the URL given before the action.
    parser.add_argument("--manifest", default=argparse.SUPPRESS, help="manifest file")
    parser.add_argument("--database", default=argparse.SUPPRESS, help="database URL")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "awards", help="list awards; approve, reject or fulfil one; points and budgets"
    )
    parser.add_argument("--state", choices=get_args(AwardState), help="only awards in this state")
    parser.add_argument("--person", help="only this person's awards (manifest id)")
    parser.add_argument("--sprint", help="only awards of this sprint")
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    parser.add_argument("--manifest", help="manifest file (default $SKILLRELAY_MANIFEST)")
    parser.add_argument("--database", help="database URL (default $SKILLRELAY_DATABASE_URL)")
    parser.set_defaults(func=run_list)
    actions = parser.add_subparsers(dest="awards_command", metavar="ACTION")
    for name, text in ACTIONS.items():
        action = actions.add_parser(name, help=text)
        action.add_argument("id", metavar="ID", type=int, help="award id")
        action.add_argument("--by", required=True, metavar="MANAGER", help="manager person id")
        action.add_argument("--note", help="why, shown on the ticket")
        _common(action)
        action.set_defaults(func=run_action, action=name)
    balances = actions.add_parser("balances", help="points per person; budget use per reward")
    balances.add_argument("--sprint", default=argparse.SUPPRESS, help="sprint id")
    _common(balances)
    balances.set_defaults(func=run_balances)


def done_date(award: Award, manifest: Manifest) -> str:
    return award.ticket_done_at.astimezone(manifest.organisation.zone).date().isoformat()


def reward_label(award: Award, manifest: Manifest) -> str:
    reward = manifest.rewards_by_id.get(award.reward_id)
    return f"{award.reward_id} ({reward.kind})" if reward else award.reward_id


def counted_points(award: Award) -> int:
    """The points an award counts for: none once it is turned down or taken back."""
    return 0 if award.state in NO_POINTS else award.points


def as_json(award: Award, manifest: Manifest) -> dict[str, Any]:
    reward = manifest.rewards_by_id.get(award.reward_id)
    return {
        "id": award.id,
        "person": award.person_id,
        "skill": award.skill_id,
        "ticket": award.ticket_key,
        "reward": award.reward_id,
        "reward_kind": reward.kind if reward else None,
        "points": counted_points(award),
        "reward_points": award.points,
        "state": award.state,
        "sprint": award.sprint_id,
        "done_at": award.ticket_done_at.isoformat(),
        "done_date": done_date(award, manifest),
        "updated_at": award.updated_at.isoformat(),
    }


def table(rows: Sequence[tuple[str, ...]]) -> str:
    # Ticket keys come from Jira: a control character is shown, never sent to the terminal.
    rows = [tuple(printable(cell) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def render(awards: list[Award], manifest: Manifest) -> str:
    head = ("ID", "PERSON", "SKILL", "TICKET", "REWARD", "POINTS", "STATE", "SPRINT", "DONE")
    rows = [head] + [
        (
            str(a.id),
            a.person_id,
            a.skill_id,
            a.ticket_key,
            reward_label(a, manifest),
            str(counted_points(a)),
            a.state,
            a.sprint_id or "-",
            done_date(a, manifest),
        )
        for a in awards
    ]
    return table(rows)


def run_list(args: argparse.Namespace) -> int:
    manifest = load_manifest(manifest_path(args.manifest))
    with Store.open(database_url(args.database)) as store:
        awards = store.awards.list(state=args.state, person=args.person, sprint=args.sprint)
    if args.json:
        for award in awards:
            print(json.dumps(as_json(award, manifest), sort_keys=True))
    elif awards:
        print(render(awards, manifest))
    else:
        print("no awards match" if args.state or args.person or args.sprint else "no awards yet")
    return 0


def describe(result: ActionResult, by: str) -> str:
    a = result.award
    return (
        f"award {a.id} {result.previous} -> {a.state} by {by}: {a.person_id}, {a.skill_id} "
        f"in {a.ticket_key}, {a.reward_id}; {result.effects} effect(s) queued"
    )


def run_action(args: argparse.Namespace) -> int:
    manifest = load_manifest(manifest_path(args.manifest))
    with Store.open(database_url(args.database)) as store:
        actions = AwardActions(store, manifest, EffectSettings.of(manifest), utc_now)
        act = getattr(actions, args.action)
        result: ActionResult = act(args.id, args.by, args.note)
    print(printable(describe(result, args.by)))
    return 0


def run_balances(args: argparse.Namespace) -> int:
    manifest = load_manifest(manifest_path(args.manifest))
    today = today_in(manifest, utc_now())
    sprint_id = args.sprint
    sprint = find_sprint(manifest, sprint_id) if sprint_id else current_sprint(manifest, today)
    day = sprint.start if sprint_id and sprint else today
    with Store.open(database_url(args.database)) as store:
        earned = points(store, sprint_id)
        budgets = budget_use(store, manifest, sprint, day)
    print(f"points ({f'sprint {sprint_id}' if sprint_id else 'all time'})")
    if earned:
        print(table([("PERSON", "POINTS")] + [(p, str(n)) for p, n in earned]))
    else:
        print("nobody has earned points yet")
    print("\nbudget use")
    if budgets:
        rows = [("REWARD", "PERIOD", "USED", "LIMIT")]
        rows += [(b.reward_id, b.period, str(b.used), str(b.limit)) for b in budgets]
        print(table(rows))
    else:
        print("no reward has a budget")
    return 0
