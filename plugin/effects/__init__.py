"""Effect planning: what an award change should write to Jira and to the LRS (no I/O).

`effects_for(change, manifest, jira_base_url=..., deployment=...)` turns an `AwardChange`
into `Effect`s, each with a deterministic idempotency key `<award id>:<event>:<target>:<action>`
(`<event>#<cycle>` once the award has come back after a revocation) that the outbox stores
once and `connectors.delivery` delivers once at the target:

- jira/comment on every event (who applied which skill from which module, the reward and
  its state; later a one-line update), ending with the line `skillrelay ref <key>`;
- jira/label `skill-applied:<skill id>` when the award is made (again after a return);
- jira/unlabel: that label taken off when the award is revoked, unless another live award
  of the skill stands on the ticket (`AwardChange.label_kept_by`; the effect then only
  records why the label stays);
- lrs/applied when the award is made; lrs/earned when the reward is granted (made without
  approval, approved, fulfilled; the same statement each time); lrs/voided when revoked.
  Each cycle has its own statement ids (plugin.effects.statements), so the "earned"
  statement of a returned award is live again and each revocation voids its own cycle's.

xAPI verbs (no single standard verb exists for either; see connectors.xapi_statements):
- performed `https://w3id.org/xapi/dod-isd/verbs/performed`: "carry out, accomplish a task",
  the dod-isd verb for a Skill; its sibling `applied` means "be applicable or relevant".
- earned `http://id.tincanapi.com/verb/earned`: "has earned or has been awarded the object";
  `tla/verbs/achieved` is for competencies and Moodle badges, which a reward is not.
- voided `http://adlnet.gov/expapi/verbs/voided`: the only way xAPI takes a statement back.
"""

from plugin.effects.model import (
    APPLIED,
    CHANGE_EVENTS,
    COMMENT,
    EARNED,
    LABEL,
    REF_PREFIX,
    UNLABEL,
    VOIDED,
    AwardChange,
    ChangeEvent,
    Deployment,
    Effect,
    EffectSender,
    Target,
    effect_key,
)
from plugin.effects.plan import LABEL_PREFIX, effects_for, skill_label
from plugin.effects.statements import earned_statement_id, natural_key

__all__ = [
    "APPLIED",
    "CHANGE_EVENTS",
    "COMMENT",
    "EARNED",
    "LABEL",
    "LABEL_PREFIX",
    "REF_PREFIX",
    "UNLABEL",
    "VOIDED",
    "AwardChange",
    "ChangeEvent",
    "Deployment",
    "Effect",
    "EffectSender",
    "Target",
    "earned_statement_id",
    "effect_key",
    "effects_for",
    "natural_key",
    "skill_label",
]
