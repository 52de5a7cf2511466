"""The demo's loop against the running service: sync, Jira deliveries, decisions, the LRS
write-back, a manager's approval; then who earned what and why."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from connectors.xapi import LrsClient
from plugin.commands.awards import table
from plugin.demo.say import say
from plugin.demo.service import WEBHOOK_SECRET, Captured, plan, wait
from plugin.demo.story import TICKETS, Work
from plugin.demo.tickets import Delivery, deliveries
from plugin.engine import Decision
from plugin.engine.explain import explain_one
from plugin.manifest import Manifest
from plugin.pipeline import AwardActions, EffectSettings
from plugin.replay import engine_from_inbox
from plugin.service.run import Service
from plugin.store import Award, Store
from plugin.store.base import utc_now

TIMEOUT = 20.0  # seconds each wait may take


@dataclass
class LoopReport:
    ok: bool = True
    posted: int = 0
    duplicates: int = 0
    statements: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def fail(self, text: str) -> None:
        self.ok = False
        self.problems.append(text)
        say("problem", text)


def post(base: str, delivery: Delivery, report: LoopReport) -> str:
    answer = requests.post(
        f"{base}/webhooks/jira",
        data=delivery.body,
        headers=delivery.headers(WEBHOOK_SECRET),
        timeout=10,
    )
    report.posted += 1
    if answer.status_code != 200:
        report.fail(f"{delivery.ticket}: HTTP {answer.status_code} {answer.text[:200]}")
        return f"HTTP {answer.status_code}"
    status = str(answer.json().get("status"))
    report.duplicates += status == "duplicate"
    return status


def post_all(
    base: str, works: list[Work], manifest: Manifest, report: LoopReport, **kw: Any
) -> str:
    lines = []
    for work in works:
        for delivery in deliveries(manifest, work, **kw):
            status = post(base, delivery, report)
            shown = "duplicate, acknowledged" if status == "duplicate" else status
            lines.append(f"{delivery.ticket:<9} {delivery.move:<32} -> 200 {shown}")
    return "\n".join(lines)


def idle(store: Store) -> bool:
    """Nothing new in the inbox and nothing waiting in the outbox."""
    backlog = store.outbox.backlog()
    return store.inbox.count_by_status()["new"] == 0 and not (backlog.pending or backlog.in_flight)


def decided(store: Store, keys: list[str]) -> bool:
    return all(store.decisions.for_ticket(k) for k in keys) and idle(store)


def run_loop(
    manifest: Manifest,
    url: str,
    service: Service,
    lrs: LrsClient,
    log: Captured,
    completions: int,
) -> LoopReport:
    """The story: the LRS synced, tickets delivered and decided, two reopened, awards
    approved; the notification planner ticks after the sync and after the decisions (and,
    in `_messages`, at the end)."""
    report = LoopReport()
    assert service.http is not None
    base = service.http.address
    say(
        "serve",
        f"skillrelay serve, in this process: webhooks at {base}, pipeline, outbox (the local "
        "LRS; Jira as a dry run),\nsync of the LRS every 300 s; the Jira webhook secret is "
        "a demo value: deliveries are signed",
    )
    with Store.open(url) as store:
        synced = wait(lambda: len(store.inbox.list(source="xapi")) >= completions, TIMEOUT)
        found = len(store.inbox.list(source="xapi"))
        done = len(store.inbox.list(source="xapi", kind="completion"))
        views = found - done
        say(
            "sync",
            f"the service pulled {done} completions and {views} module views from the LRS "
            "into its inbox",
        )
        if not synced:
            report.fail(f"sync: {found} of {completions} completions after {TIMEOUT:g} s")
        plan(service)
        say("jira", post_all(base, TICKETS, manifest, report))
        keys = [w.key for w in TICKETS]
        if not wait(lambda: decided(store, keys), TIMEOUT):
            report.fail("the pipeline did not decide every ticket in time")
        plan(service)
        reopened = [w for w in TICKETS if w.reopened]
        if reopened:
            say("jira", post_all(base, reopened, manifest, report, reopen=True))
            if not wait(lambda: _revoked(store, reopened) and idle(store), TIMEOUT):
                report.fail("the reopened tickets' awards were not revoked in time")
        approve(store, manifest)
        if not wait(lambda: idle(store), TIMEOUT):
            report.fail("the outbox did not deliver everything in time")
        engine, _ = engine_from_inbox(store, manifest)
        decisions = [d for d in engine.decisions() if d.ticket in keys]
        awards = store.awards.list()
        sent = [
            i.payload["statement"]["id"]
            for i in store.outbox.list(limit=10_000)
            if i.target == "lrs" and i.status == "done"
        ]
        dead = len(store.outbox.list(status="dead", limit=10_000))
    if dead:
        report.fail(f"{dead} effect(s) could not be delivered")
    for statement_id in sent:
        statement = lrs.get_statement(statement_id)
        if statement is None:
            report.fail(f"statement {statement_id} is not in the LRS")
            continue
        report.statements[str(statement["verb"]["id"]).rsplit("/", 1)[-1]] += 1
    say("jira", dry_run(log.dry_run))
    say(
        "lrs",
        f"{sum(report.statements.values())} statements written back to the LRS, read back by "
        f"id: {', '.join(f'{n} {verb}' for verb, n in sorted(report.statements.items()))}",
    )
    print()
    print(outcome_table(decisions, awards, manifest))
    print()
    for d in sorted(decisions, key=lambda d: TICKET_ORDER.get(d.ticket, 99)):
        say(d.ticket, explain_one(d))
    print()
    states = Counter(a.state for a in awards)
    # Messages' mentions are planned on their own clock: counted with the messages, not here.
    awarding = [text for text in log.dry_run if "skillrelay ref notify:" not in text]
    say(
        "counts",
        f"{report.posted} Jira deliveries posted, {report.duplicates} duplicate(s) acknowledged"
        f"\nawards: {', '.join(f'{n} {s}' for s, n in sorted(states.items())) or 'none'}"
        f"\n{sum(report.statements.values())} statements written to the LRS"
        f"\n{len(awarding)} Jira writes for the awards shown as a dry run (no Jira API token)",
    )
    return report


TICKET_ORDER = {w.key: i for i, w in enumerate(TICKETS)}


def _revoked(store: Store, works: list[Work]) -> bool:
    keys = {w.key for w in works}
    return all(a.state == "revoked" for a in store.awards.list() if a.ticket_key in keys)


def approve(store: Store, manifest: Manifest) -> None:
    """Each award waiting for approval, approved by the person's manager, as `skillrelay
    awards approve ID --by MANAGER` does."""
    actions = AwardActions(store, manifest, EffectSettings.of(manifest), utc_now)
    for award in store.awards.list(state="pending_approval"):
        managers = manifest.managers_of(award.person_id)
        if not managers:
            say("approve", f"award {award.id}: {award.person_id} has no manager to approve it")
            continue
        result = actions.approve(award.id, managers[0], "demo: approved by the manager")
        say(
            "approve",
            f"award {award.id} {result.previous} -> {result.award.state} by {managers[0]}: "
            f"{award.person_id}, {award.skill_id} in {award.ticket_key}; "
            f"{result.effects} effect(s) queued",
        )


def dry_run(rendered: list[str]) -> str:
    lines = [f"{len(rendered)} writes Jira would get (dry run, not written):"]
    for text in rendered:
        first, *rest = text.splitlines()
        lines.append(f"  {first}")
        lines.extend(f"    {line}" for line in rest if line.strip())
    return "\n".join(lines)


def outcome_table(decisions: list[Decision], awards: list[Award], manifest: Manifest) -> str:
    by_key = {(a.person_id, a.skill_id, a.ticket_key): a for a in awards}
    head = ("PERSON", "SKILL", "TICKET", "REWARD", "POINTS", "STATE", "WHY")
    rows = [head]
    for d in sorted(decisions, key=lambda d: TICKET_ORDER.get(d.ticket, 99)):
        award = by_key.get((d.person or "", d.skill or "", d.ticket))
        verdict = explain_one(d).rsplit(" — ", 1)[-1]
        why = "awarded" if d.awarded else f"{d.reason}: {verdict.removeprefix('not awarded: ')}"
        if award is not None:
            reward = manifest.rewards_by_id.get(award.reward_id)
            rows.append(
                (
                    award.person_id,
                    award.skill_id,
                    award.ticket_key,
                    f"{award.reward_id} ({reward.kind})" if reward else award.reward_id,
                    str(award.points),
                    award.state,
                    why,
                )
            )
        else:
            rows.append(
                (
                    d.person or d.person_ref or "-",
                    d.skill or "-",
                    d.ticket,
                    "-",
                    "0",
                    "not awarded",
                    why,
                )
            )
    return table(rows)
