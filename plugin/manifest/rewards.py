"""The reward catalogue: what a person can earn for applying a skill."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, StrictBool, StrictInt, model_validator

from plugin.manifest.base import Id, Problems, Strict, Text

RewardKind = Literal[
    "points", "paid_hour", "project_priority", "leadership_demo", "masterclass_seat", "badge"
]


class RewardBudget(Strict):
    """The most awards of this reward per sprint and per quarter (none: unlimited)."""

    per_sprint: Annotated[StrictInt, Field(ge=1)] | None = None
    per_quarter: Annotated[StrictInt, Field(ge=1)] | None = None


class Reward(Strict):
    id: Id
    name: Text
    kind: RewardKind
    points: Annotated[StrictInt, Field(ge=0)] = 0
    approval: StrictBool = False  # a manager must approve before it is granted
    budget: RewardBudget = RewardBudget()
    hours: Annotated[float, Field(gt=0, le=40)] | None = None  # paid_hour only

    @model_validator(mode="after")
    def _hours_only_for_paid_hour(self) -> Self:
        if self.hours is not None and self.kind != "paid_hour":
            raise Problems([(("hours",), "hours is only for rewards of kind paid_hour")])
        return self
