"""What managers do with an award: approve, reject, fulfil, or revoke a flagged one.

Only a manager of one of the person's teams may act (`Manifest.managers_of`), never on their
own award. Each action moves the award (the ledger checks the move is allowed and answers
InvalidTransition otherwise) and queues its effects in one transaction, under the decider
lock so it never races the pipeline moving the same award.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from plugin.effects import AwardChange, ChangeEvent
from plugin.errors import ConfigError
from plugin.manifest import Manifest
from plugin.pipeline.effects import EffectSettings, enqueue_effects
from plugin.pipeline.lock import hold_decider_lock
from plugin.store import Award, AwardState, InvalidTransition, Store, UnknownAward

# The states each action starts from. The ledger allows more moves (an award revoked by the
# engine comes back on its own), but a manager never brings back a revoked award by hand.
ACTS_ON: dict[str, tuple[AwardState, ...]] = {
    "approve": ("pending_approval",),
    "reject": ("pending_approval",),
    "fulfil": ("approved", "revocation_flagged"),
    "revoke": ("pending_approval", "approved", "revocation_flagged"),
}


@dataclass(frozen=True)
class ActionResult:
    award: Award  # after the move
    previous: AwardState
    effects: int  # outbox rows queued


def refusal(manifest: Manifest, by: str, person: str, verb: str) -> str | None:
    """Why `by` may not act on `person`'s award, or None when they may."""
    if by == person:
        return f"{by} cannot {verb} their own award"
    if by in manifest.managers_of(person):
        return None
    teams = manifest.teams_of(person)
    if not teams:
        return f"{by} is not a manager of {person}'s teams ({person} is in no team)"
    listed = "; ".join(f"{t.id}: {', '.join(t.managers) or 'no manager'}" for t in teams)
    return f"{by} is not a manager of {person}'s teams ({listed})"


class AwardActions:
    def __init__(
        self,
        store: Store,
        manifest: Manifest,
        settings: EffectSettings,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.manifest = manifest
        self.settings = settings
        self.clock = clock

    def approve(
        self, award_id: int, by: str, note: str | None = None, at: datetime | None = None
    ) -> ActionResult:
        return self._act("approve", award_id, "approved", "approved", by, note, at)

    def reject(
        self, award_id: int, by: str, note: str | None = None, at: datetime | None = None
    ) -> ActionResult:
        return self._act("reject", award_id, "rejected", "rejected", by, note, at)

    def fulfil(
        self, award_id: int, by: str, note: str | None = None, at: datetime | None = None
    ) -> ActionResult:
        """Handed out; also how a manager keeps a reward flagged for revocation."""
        return self._act("fulfil", award_id, "fulfilled", "fulfilled", by, note, at)

    def revoke(
        self, award_id: int, by: str, note: str | None = None, at: datetime | None = None
    ) -> ActionResult:
        """Take a reward back; for an award flagged for revocation, or not yet handed out."""
        return self._act("revoke", award_id, "revoked", "revoked", by, note, at)

    def _act(
        self,
        verb: str,
        award_id: int,
        to: AwardState,
        event: ChangeEvent,
        by: str,
        note: str | None,
        at: datetime | None,
    ) -> ActionResult:
        at = at or self.clock()
        with self.store.transaction() as conn:
            hold_decider_lock(conn)
            award = self.store.awards.get(award_id, conn=conn)
            if award is None:
                raise UnknownAward(f"no award {award_id}")
            why = refusal(self.manifest, by, award.person_id, verb)
            if why is not None:
                raise ConfigError(why)
            if award.state not in ACTS_ON[verb]:
                raise InvalidTransition(
                    f"award {award_id} is {award.state}: a manager can {verb} an award that "
                    f"is {' or '.join(ACTS_ON[verb])}"
                )
            moved = self.store.awards.transition(award_id, to, by, note, at, conn=conn)
            change = AwardChange(moved, event, by, note, at, previous=award.state)
            queued = enqueue_effects(self.store, self.manifest, self.settings, change, conn)
        return ActionResult(moved, award.state, queued)
