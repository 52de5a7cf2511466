"""The pipeline: inbox events through the rules engine into the decisions log, the awards
ledger and the outbox; the manual award actions; points and budget balances."""

from plugin.pipeline.actions import ActionResult, AwardActions, refusal
from plugin.pipeline.balances import (
    BudgetUse,
    budget_use,
    current_sprint,
    find_sprint,
    points,
    quarter,
    today_in,
)
from plugin.pipeline.effects import EffectSettings, enqueue_effects
from plugin.pipeline.lock import LOCK_KEY, hold_decider_lock
from plugin.pipeline.pipeline import Pipeline, PipelineStats, read_event
from plugin.pipeline.reconcile import Reconciler, Tally, award_evidence
from plugin.pipeline.sprint import Learned, SprintSummary, summarise

__all__ = [
    "LOCK_KEY",
    "ActionResult",
    "AwardActions",
    "BudgetUse",
    "EffectSettings",
    "Learned",
    "Pipeline",
    "PipelineStats",
    "Reconciler",
    "SprintSummary",
    "Tally",
    "award_evidence",
    "budget_use",
    "current_sprint",
    "enqueue_effects",
    "find_sprint",
    "hold_decider_lock",
    "points",
    "quarter",
    "read_event",
    "refusal",
    "summarise",
    "today_in",
]
