"""The pure rules engine: identities, skill matching, the award rules and their evidence.

No I/O and no clock: a decision is a pure function of the manifest, the set of events and
the learned identities (see engine.py for the award/reopen rule).
"""

from plugin.engine.decision import AWARDED, REASONS, Decision, ModuleInfo, SkillInfo
from plugin.engine.engine import Engine, Event, evaluate_all
from plugin.engine.explain import explain
from plugin.engine.facts import (
    CompletionFact,
    Fact,
    Ref,
    TicketFact,
    TransitionFact,
    fact_of,
    from_us,
    to_us,
)
from plugin.engine.identity import IdentityResolver, Learned
from plugin.engine.jql import JqlError, check_jql, compile_jql, jql_fields
from plugin.engine.matching import SkillMatcher, ticket_fields
from plugin.engine.people import Unresolved

__all__ = [
    "AWARDED",
    "REASONS",
    "CompletionFact",
    "Decision",
    "Engine",
    "Event",
    "Fact",
    "IdentityResolver",
    "JqlError",
    "Learned",
    "ModuleInfo",
    "Ref",
    "SkillInfo",
    "SkillMatcher",
    "TicketFact",
    "TransitionFact",
    "Unresolved",
    "check_jql",
    "compile_jql",
    "evaluate_all",
    "explain",
    "fact_of",
    "from_us",
    "jql_fields",
    "ticket_fields",
    "to_us",
]
