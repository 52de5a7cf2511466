"""GET /healthz (the process is up), /readyz (the store answers, the outbox and the inbox
move), /metrics.

/readyz answers 503 with a reason when the store does not answer, when the outbox holds dead
letters or a due effect older than OUTBOX_STUCK_SECONDS, when an inbox event has waited
undecided longer than INBOX_STUCK_SECONDS (no worker is running, or it is stuck), or when
INBOX_FAILED_LIMIT events or more received in that same window were quarantined.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError

from plugin.errors import StoreError
from webhooks.errors import error_body
from webhooks.inbox_health import failed_since, oldest_new
from webhooks.services import Services, services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    return jsonify(status="ok"), 200


@bp.get("/readyz")
def readyz() -> Response | tuple[Response, int]:
    found = services()
    store = found.store
    try:
        backlog = store.outbox.backlog()
    except (SQLAlchemyError, StoreError) as exc:
        reason = f"the store did not answer ({type(exc).__name__})"
        return error_body(503, "store_unreachable", reason).response()
    if backlog.dead:
        reason = f"{backlog.dead} outbox effect(s) are dead letters; retry or drop them"
        return error_body(503, "outbox_dead_letters", reason).response()
    limit = timedelta(seconds=found.outbox_stuck_seconds)
    if backlog.oldest_due is not None and store.clock() - backlog.oldest_due > limit:
        late = int((store.clock() - backlog.oldest_due).total_seconds())
        reason = f"the oldest due outbox effect waits for {late} s; is a worker running?"
        return error_body(503, "outbox_stuck", reason).response()
    try:
        problem = _inbox_problem(found)
    except (SQLAlchemyError, StoreError) as exc:
        reason = f"the store did not answer ({type(exc).__name__})"
        return error_body(503, "store_unreachable", reason).response()
    if problem is not None:
        return error_body(503, *problem).response()
    return jsonify(status="ready", pending=backlog.pending, in_flight=backlog.in_flight), 200


def _inbox_problem(found: Services) -> tuple[str, str] | None:
    store = found.store
    now = store.clock()
    window = timedelta(seconds=found.inbox_stuck_seconds)
    oldest = oldest_new(store)
    if oldest is not None and now - oldest > window:
        late = int((now - oldest).total_seconds())
        return "inbox_stuck", f"an inbox event waits undecided for {late} s; is a worker running?"
    failed = failed_since(store, now - window)
    if failed >= found.inbox_failed_limit:
        seconds = int(window.total_seconds())
        return "inbox_failing", (
            f"{failed} inbox events received in the last {seconds} s failed and were "
            "set aside: `skillrelay events --failed` (or the web UI's Set aside page) lists "
            "each with its reason, and gives them back once what failed them is fixed "
            "(skillrelay_inbox_failed_events counts them by reason)"
        )
    return None


@bp.get("/metrics")
def metrics() -> Response:
    return Response(services().metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
