"""Queue the effects of an award change in the outbox, in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import Connection, select

from plugin.effects import AwardChange, Deployment, effects_for
from plugin.manifest import Manifest
from plugin.store import Store
from plugin.store.models import Award, Json
from plugin.store.schema import awards

# States in which an award's label is on its ticket: a flag leaves it on too.
LABELLED = ("pending_approval", "approved", "fulfilled", "revocation_flagged")


@dataclass(frozen=True)
class EffectSettings:
    """Where the ticket links in comments point, and which Jira format comments use."""

    jira_base_url: str
    deployment: Deployment

    @classmethod
    def of(cls, manifest: Manifest) -> EffectSettings:
        jira = manifest.jira
        if jira is None:
            return cls("", "cloud")
        return cls(str(jira.base_url).rstrip("/"), jira.deployment)


EffectRow = tuple[str, str, str, Json]  # (idempotency key, target, action, payload)


def enqueue_effects(
    store: Store,
    manifest: Manifest,
    settings: EffectSettings,
    change: AwardChange,
    conn: Connection,
) -> int:
    """Queue what `change` writes to Jira and the LRS; how many effects were new."""
    rows = effect_rows(store, manifest, settings, change, conn)
    return store.outbox.enqueue_many(rows, conn=conn)


def effect_rows(
    store: Store,
    manifest: Manifest,
    settings: EffectSettings,
    change: AwardChange,
    conn: Connection,
    *,
    new_award: bool = False,
) -> list[EffectRow]:
    """The outbox rows of what `change` writes to Jira and the LRS.

    `new_award`: the award was created in this transaction, so it has never come back
    from a revocation (its cycle is 0) and its history need not be read."""
    if not new_award:
        history = store.awards.events(change.award.id, conn=conn)
        cycle = sum(1 for e in history if e.from_state == "revoked")
        if cycle != change.cycle:
            change = replace(change, cycle=cycle)
    if change.event == "revoked":
        change = replace(change, label_kept_by=label_kept_by(change.award, conn))
    effects = effects_for(
        change, manifest, jira_base_url=settings.jira_base_url, deployment=settings.deployment
    )
    return [(e.idempotency_key, e.target, e.action, e.payload) for e in effects]


def label_kept_by(award: Award, conn: Connection) -> tuple[int, ...]:
    """The other awards of `award`'s skill on its ticket that still show the label, as the
    ledger stands in this transaction (so two revocations in one see each other)."""
    query = select(awards.c.id).where(
        awards.c.skill_id == award.skill_id,
        awards.c.ticket_key == award.ticket_key,
        awards.c.id != award.id,
        awards.c.state.in_(LABELLED),
    )
    return tuple(sorted(int(i) for i in conn.execute(query).scalars()))
