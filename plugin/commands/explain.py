"""`skillrelay explain TICKET-KEY`: why skillrelay did (or did not) award on a ticket.

The engine is rebuilt from the inbox, so the answer is what the pipeline decides from every
event stored so far. Exit 0 when the ticket is known (decided, not done yet, or showing no
skill), 1 when no event names it or `--person` matches no decision on it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from datetime import tzinfo
from typing import Any

from plugin.domain import TicketTransition
from plugin.engine import Decision, SkillMatcher, compile_jql, explain
from plugin.engine.decision import (
    BUDGET,
    CAP,
    COMPLETION_WITHDRAWN,
    EXCLUDED_RESOLUTION,
    NO_ASSIGNEE,
    NO_SKILL,
    NOT_ASSIGNEE,
    REOPENED,
    UNMATCHED_IDENTITY,
)
from plugin.engine.facts import TicketFact, ticket_of
from plugin.manifest import Manifest, load_manifest
from plugin.manifest.skills import TicketMatch
from plugin.printable import printable
from plugin.replay import engine_from_inbox, events_from_inbox
from plugin.settings import database_url, manifest_path
from plugin.store import Award, AwardEvent, Store
from plugin.times import shown


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "explain", help="the evidence and the decision for every person and skill on a ticket"
    )
    parser.add_argument("ticket", metavar="TICKET-KEY", help="e.g. PAY-101")
    parser.add_argument("--person", help="only decisions about this person (manifest id)")
    parser.add_argument("--json", action="store_true", help="the decisions with their evidence")
    parser.add_argument("--manifest", help="manifest file (default $SKILLRELAY_MANIFEST)")
    parser.add_argument("--database", help="database URL (default $SKILLRELAY_DATABASE_URL)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    manifest = load_manifest(manifest_path(args.manifest))
    key = args.ticket.strip().upper()
    with Store.open(database_url(args.database)) as store:
        engine, _ = engine_from_inbox(store, manifest)
        found = [d for d in engine.decisions() if key in (d.ticket.upper(), d.finished.key.upper())]
        latest = None if found else latest_transition(events_from_inbox(store), key)
        ledger = awards_of(store, found)
    if not found and latest is None:
        print(
            f"skillrelay: {printable(key)}: no event names this ticket. Check the key, or fetch "
            "it with `skillrelay sync --source jira` (history: `skillrelay import --format "
            "jira-issues`)",
            file=sys.stderr,
        )
        return 1
    if latest is not None:
        return not_done(manifest, key, latest, args.json)
    decisions = [d for d in found if args.person in (None, d.person, d.person_ref)]
    if not decisions:
        about = ", ".join(sorted({d.person or d.person_ref or "nobody" for d in found}))
        print(
            printable(
                f"skillrelay: {key}: no decision about {args.person} (decided about: {about})"
            ),
            file=sys.stderr,
        )
        return 1
    checked = no_skill_checks(manifest, decisions)
    zone = manifest.organisation.zone
    told = zip(decisions, explain(decisions), strict=True)
    told_lines = [with_award(d, line, ledger, zone) for d, line in told]
    if args.json:
        lines = ["\n".join(entry) for entry in told_lines]
        found_json = as_json(decisions, lines, ledger)
        body = {"ticket": key, "done": True, "decisions": found_json}
        if checked:
            body["skills_checked"] = checked
        print(json.dumps(body, indent=2, sort_keys=True))
        return 0
    # Keys, summaries, statuses and labels come from Jira: escaped, one line each.
    for entry in told_lines:
        print("\n".join(printable(line) for line in entry))
    if checked:
        print(printable(f"Skills checked against {key} as it was finished:"))
        print("\n".join(printable(f"  {line}") for line in checked))
    if any(d.reason == UNMATCHED_IDENTITY for d in decisions):
        print("To say who an unmapped assignee is: `skillrelay identities --unmatched`.")
    return 0


def as_json(decisions: list[Decision], lines: list[str], ledger: Ledger) -> list[dict[str, Any]]:
    found = []
    for d, line in zip(decisions, lines, strict=True):
        body = {**d.evidence, "ticket_key": d.ticket, "explanation": line}
        entry = ledger.get(award_key(d))
        if entry is not None:
            award, history = entry
            body["award"] = {
                "id": award.id,
                "state": award.state,
                "history": [
                    {"from": e.from_state, "to": e.to_state, "by": e.actor, "note": e.note,
                     "at": e.at.isoformat()}
                    for e in history
                ],
            }  # fmt: skip
        found.append(body)
    return found


# --- the ledger's side: an award the engine no longer gives may have been given before ---

Ledger = dict[tuple[str, str, str], tuple[Award, list[AwardEvent]]]
ENGINE = "engine"  # the actor the pipeline records
# Why the engine moved an award (its note is the decision's reason code), in words.
NOTES = {
    REOPENED: "the ticket was reopened",
    EXCLUDED_RESOLUTION: "its resolution is excluded",
    COMPLETION_WITHDRAWN: "the completion was withdrawn",
    NO_SKILL: "the ticket no longer shows the skill",
    NOT_ASSIGNEE: "the person is no longer the assignee",
    NO_ASSIGNEE: "the ticket has no assignee",
    BUDGET: "an earlier ticket took the budget",
    CAP: "an earlier ticket took the sprint's cap",
}
STATES = {
    "pending_approval": "waiting for approval",
    "approved": "approved",
    "fulfilled": "handed out",
    "rejected": "rejected",
    "revoked": "revoked",
    "revocation_flagged": "flagged for revocation",
}


def award_key(d: Decision) -> tuple[str, str, str]:
    return (d.person or "", d.skill or "", d.ticket)


def awards_of(store: Store, decisions: list[Decision]) -> Ledger:
    """The ledger's award, with its history, for each decision that has one."""
    found: Ledger = {}
    for person in sorted({d.person for d in decisions if d.person}):
        for award in store.awards.list(person=person):
            found[(award.person_id, award.skill_id, award.ticket_key)] = (
                award,
                store.awards.events(award.id),
            )
    return found


def with_award(d: Decision, line: str, ledger: Ledger, zone: tzinfo) -> list[str]:
    """The explanation, its verdict told by the award when there is one, and its history:
    one or two lines."""
    entry = ledger.get(award_key(d))
    if entry is None:
        return [line]
    award, history = entry
    evidence, verdict = line.rsplit(" — ", 1)
    state = f"award {award.id} {STATES.get(award.state, award.state)}"
    if d.awarded:
        verdict += f"; {state}"
    else:
        verdict = f"{state}: {verdict.removeprefix('not awarded: ')}"
    steps = "; ".join(step(e, zone) for e in history)
    return [f"{evidence} — {verdict}", f"  award {award.id}: {steps}"]


def step(e: AwardEvent, zone: tzinfo) -> str:
    when = f"on {shown(e.at, zone)}"
    by = "" if e.actor == ENGINE else f" by {e.actor}"
    if e.from_state is None:
        start = "" if e.to_state == "approved" else f", {STATES.get(e.to_state, e.to_state)}"
        return f"awarded {when}{start}"
    if e.actor == ENGINE:
        why = NOTES.get(e.note or "", (e.note or "").replace("_", " "))
        return f"{STATES.get(e.to_state, e.to_state)} {when}" + (f": {why}" if why else "")
    note = f" ({e.note})" if e.note else ""
    return f"{STATES.get(e.to_state, e.to_state)}{by} {when}{note}"


def latest_transition(events: Iterable[object], key: str) -> TicketTransition | None:
    """The newest stored transition of a ticket with this key (None: never seen)."""
    latest: TicketTransition | None = None
    for event in events:
        if not isinstance(event, TicketTransition) or event.ticket.key.upper() != key:
            continue
        if latest is None or event.at >= latest.at:
            latest = event
    return latest


def not_done(manifest: Manifest, key: str, latest: TicketTransition, as_json: bool) -> int:
    ticket = latest.ticket
    showing = sorted(SkillMatcher(manifest).shown(ticket_of(ticket)))
    done = manifest.rules.done_status_category
    status = f"status '{ticket.status}'" if ticket.status else "an unknown status"
    category = latest.to_category or ticket.status_category or "unknown"
    summary = f" '{ticket.summary}'" if ticket.summary else ""
    when = shown(latest.at, manifest.organisation.zone)
    message = (
        f"{key}{summary} is in {status} (category {category}, {when}) "
        f"and has not entered the '{done}' category yet: nothing is decided until it does."
    )
    skills = f"It shows skill {', '.join(showing)}." if showing else "It shows no skill yet."
    if as_json:
        body = {"ticket": key, "done": False, "decisions": [], "shows": showing, "message": message}
        print(json.dumps(body, indent=2, sort_keys=True))
    else:
        print(printable(f"{message} {skills}"))
    return 0


def no_skill_checks(manifest: Manifest, decisions: list[Decision]) -> list[str]:
    """For a ticket showing no skill: what each skill's matcher looked for, why it failed."""
    finished = next((d.finished for d in decisions if d.reason == NO_SKILL), None)
    if finished is None:
        return []
    jira = manifest.jira
    field = jira.skill_field if jira else None
    lines = [f"{s.id}: {why_not(s.tickets, finished, field)}" for s in manifest.skills]
    value = finished.fields.get(field) if field else None
    shown_value = value if isinstance(value, str) else ", ".join(value or ()) or "(empty)"
    lines.append(
        f"the ticket has labels {', '.join(finished.labels) or '(none)'}; components "
        f"{', '.join(finished.components) or '(none)'}"
        + (f"; {field} = {shown_value}" if field else "")
    )
    return lines


def why_not(match: TicketMatch, ticket: TicketFact, field: str | None) -> str:
    """Why a skill's ticket matcher (manifest `tickets:`) does not select this ticket."""
    labels = {label.casefold() for label in ticket.labels}
    components = {c.casefold() for c in ticket.components}
    value = ticket.fields.get(field) if field else None
    values = {v.casefold() for v in ([value] if isinstance(value, str) else value or ())}
    wanted: list[str] = [f"label {label}" for label in match.labels]
    wanted += [f"component {c}" for c in match.components]
    found = [f"label {x}" for x in match.labels if x.casefold() in labels]
    found += [f"component {c}" for c in match.components if c.casefold() in components]
    if match.custom_field_value:
        if field:
            wanted.append(f"{field} = {match.custom_field_value}")
            if match.custom_field_value.casefold() in values:
                found.append(f"{field} = {match.custom_field_value}")
        else:
            wanted.append(
                f"{match.custom_field_value} (unused: the jira source sets no skill_field)"
            )
    if match.jql and (found or not wanted):
        if compile_jql(match.jql)(ticket):
            return f"matches ({', '.join(found) or 'jql ' + match.jql})"
        if found:
            return f"{', '.join(found)} found, but the ticket does not match jql `{match.jql}`"
        return f"selects tickets by jql `{match.jql}`, which the ticket does not match"
    if found:
        return f"matches ({', '.join(found)})"
    return f"looks for {' or '.join(wanted)}: none on the ticket"
