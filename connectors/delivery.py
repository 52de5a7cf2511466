"""Senders that deliver outbox effects to their target (plugin.effects.EffectSender).

- `JiraSender` / `DryRunJiraSender` (connectors.delivery_jira): comments and labels, exactly
  once at the issue through the issue property `skillrelay.effects`.
- `LrsSender`: statements with deterministic ids, so the LRS keeps one copy however often
  they are sent (200 stored, 204 already stored; a 409 whose stored statement is the one we
  sent is success too, see connectors.xapi_client). A different statement stored under one
  of our ids should never happen (ids are per award cycle, bodies deterministic): a
  FatalError that dead-letters the effect and names the id, never the body.
  `send_many` sends the statements of many effects in one `send_statements` call (batches
  of the client's size) and reports each effect's outcome, so a conflict dead-letters only
  the effects that carry a refused id.

Errors are the connectors' own: RetriableError (429, 5xx, connection; with retry_after) is
retried later by the outbox worker; FatalError and AuthError dead-letter the effect.
Build the clients the senders use with `DELIVERY_POLICY`: the outbox is the one retry loop,
so a client must not sleep through a Retry-After inside a worker's lease.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def _conflict(ids: Sequence[str]) -> FatalError:
    return FatalError(
        LRS_SERVICE,
        f"the LRS holds a different statement under {_ids(ids)}; this should never happen "
        "(each award cycle has statement ids of its own)",
        409,
    )


def _clash(ids: Sequence[str]) -> FatalError:
    return FatalError(
        LRS_SERVICE,
        f"an earlier effect of the batch carries a different statement under {_ids(ids)}; "
        "this should never happen (each award cycle has statement ids of its own)",
    )


def _ids(ids: Sequence[str]) -> str:
    return ("id " if len(ids) == 1 else "ids ") + ", ".join(ids)


class LrsSender:
    def __init__(self, client: LrsClient) -> None:
        self.client = client

    def send(self, effect: Effect) -> None:
        [outcome] = self.send_many([effect])
        if outcome is not None:
            raise outcome

    def send_many(self, effects: Sequence[Effect]) -> list[Exception | None]:
        """Send the statements of `effects` in one `send_statements` call.

        Returns each effect's outcome, in order: None (its statements are stored) or the
        exception that dead-letters it (no LRS action or statement, or a conflict: the LRS
        or an earlier effect of `effects` holds different content under one of its ids).
        A RetriableError or AuthError of the call is raised: it holds for every effect.
        """
        outcomes: list[Exception | None] = [None] * len(effects)
        batch: dict[str, Mapping[str, Any]] = {}  # statement id -> statement, in order
        owned: list[list[str]] = [[] for _ in effects]  # each effect's statement ids
        for index, effect in enumerate(effects):
            try:
                mine = self._own(effect)
            except Exception as exc:
                outcomes[index] = exc
                continue
            clash = [sid for sid, s in mine.items() if sid in batch and batch[sid] != s]
            if clash:  # sent one at a time, the earlier effect would have stored its own
                outcomes[index] = _clash(clash)
                continue
            batch.update((sid, s) for sid, s in mine.items() if sid not in batch)
            owned[index] = list(mine)
        if not batch:
            return outcomes
        try:
            self.client.send_statements(list(batch.values()))
        except StatementConflict as exc:
            refused = set(exc.conflicts)
            for index, ids in enumerate(owned):
                hit = [sid for sid in ids if sid in refused]
                if hit and outcomes[index] is None:
                    outcomes[index] = _conflict(hit)
        return outcomes

    @staticmethod
    def _own(effect: Effect) -> dict[str, Mapping[str, Any]]:
        """The effect's statements by id (the checks `send_statements` makes of them)."""
        if effect.action not in LRS_ACTIONS:
            raise FatalError(LRS_SERVICE, f"no LRS action {effect.action!r}")
        mine: dict[str, Mapping[str, Any]] = {}
        for statement in _statements(effect):
            sid = statement.get("id")
            if not isinstance(sid, str) or not sid:
                raise ValueError("every statement sent needs its id: use statement_id()")
            if sid in mine and mine[sid] != statement:
                raise ValueError(f"two different statements share the id {sid}")
            mine.setdefault(sid, statement)
        return mine
