"""The xAPI LRS connector: read completions and progress from an LRS, write statements back to it.

- `xapi_client`: `LrsClient` (Statement resource, paging, batches, conflicts).
- `xapi_models`: lenient statement models and actor keys (`PersonRef.id` of xAPI people).
- `xapi_source`: `XapiSource`, the `EventSource` of module completions and progress, and its
  cursor.
- `xapi_statements`: the "performed" / "earned" / voiding statements and `statement_id()`.

Import from here; the split is only to keep each module small.
"""

from connectors.xapi_client import (
    SERVICE,
    XAPI_VERSIONS,
    BearerAuth,
    LrsClient,
    StatementConflict,
    StatementPage,
)
from connectors.xapi_models import (
    VERB_VOIDED,
    Actor,
    Statement,
    actor_key,
    agent,
    agent_for,
    person_ref,
)
from connectors.xapi_source import (
    PROGRESS_VERBS,
    STREAM,
    VERB_ATTEMPTED,
    VERB_COMPLETED,
    VERB_FAILED,
    VERB_INITIALIZED,
    VERB_LAUNCHED,
    VERB_PASSED,
    VERB_PROGRESSED,
    VERB_RESUMED,
    VERB_UNCOMPLETED,
    VERB_VIEWED,
    XapiSource,
    completion_state,
)
from connectors.xapi_statements import (
    STATEMENT_NAMESPACE,
    VERB_EARNED,
    VERB_PERFORMED,
    applied_statement,
    earned_statement,
    reward_iri,
    skill_iri,
    statement_id,
    voiding_statement,
)

__all__ = [
    "PROGRESS_VERBS",
    "SERVICE",
    "STATEMENT_NAMESPACE",
    "STREAM",
    "VERB_ATTEMPTED",
    "VERB_COMPLETED",
    "VERB_EARNED",
    "VERB_FAILED",
    "VERB_INITIALIZED",
    "VERB_LAUNCHED",
    "VERB_PASSED",
    "VERB_PERFORMED",
    "VERB_PROGRESSED",
    "VERB_RESUMED",
    "VERB_UNCOMPLETED",
    "VERB_VIEWED",
    "VERB_VOIDED",
    "XAPI_VERSIONS",
    "Actor",
    "BearerAuth",
    "LrsClient",
    "Statement",
    "StatementConflict",
    "StatementPage",
    "XapiSource",
    "actor_key",
    "agent",
    "agent_for",
    "applied_statement",
    "completion_state",
    "earned_statement",
    "person_ref",
    "reward_iri",
    "skill_iri",
    "statement_id",
    "voiding_statement",
]
