"""Senders that deliver outbox effects to their target (plugin.effects.EffectSender).

- `JiraSender` / `DryRunJiraSender` (connectors.delivery_jira): comments and labels, exactly
  once at the issue through the issue property `skillrelay.effects`.
- `LrsSender`: statements with deterministic ids, so the LRS keeps one copy however often
  they are sent (200 stored, 204 already stored). A 409 means a statement with one of our
  ids but different content is stored: a FatalError that dead-letters the effect.

Errors are the connectors' own: RetriableError (429, 5xx, connection; with retry_after) is
retried later by the outbox worker; FatalError and AuthError dead-letter the effect.
Build the clients the senders use with `DELIVERY_POLICY`: the outbox is the one retry loop,
so a client must not sleep through a Retry-After inside a worker's lease.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.delivery_jira import (
    MAX_ENTRIES,
    POSTING,
    PROPERTY_KEY,
    DryRunJiraSender,
    JiraSender,
    refs_in,
    render,
)
from connectors.http import RetryPolicy
from connectors.xapi import SERVICE as LRS_SERVICE
from connectors.xapi import LrsClient, StatementConflict
from plugin.effects import APPLIED, EARNED, VOIDED, Effect
from plugin.errors import FatalError

DELIVERY_POLICY = RetryPolicy(attempts=1)
LRS_ACTIONS = frozenset({APPLIED, EARNED, VOIDED})

__all__ = [
    "DELIVERY_POLICY",
    "MAX_ENTRIES",
    "POSTING",
    "PROPERTY_KEY",
    "DryRunJiraSender",
    "JiraSender",
    "LrsSender",
    "refs_in",
    "render",
]


def _statements(effect: Effect) -> list[Mapping[str, Any]]:
    one = effect.payload.get("statement")
    many = effect.payload.get("statements")
    found = [one] if one is not None else many
    if not isinstance(found, list) or not found or not all(isinstance(s, Mapping) for s in found):
        raise FatalError(LRS_SERVICE, f"effect {effect.idempotency_key} carries no statement")
    return found


class LrsSender:
    def __init__(self, client: LrsClient) -> None:
        self.client = client

    def send(self, effect: Effect) -> None:
        if effect.action not in LRS_ACTIONS:
            raise FatalError(LRS_SERVICE, f"no LRS action {effect.action!r}")
        try:
            self.client.send_statements(_statements(effect))
        except StatementConflict as exc:
            raise FatalError(
                LRS_SERVICE,
                "the LRS already holds different content under statement id(s) "
                + ", ".join(exc.conflicts),
                409,
            ) from None
