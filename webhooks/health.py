"""GET /healthz (the process is up), /readyz (the store answers, the outbox moves), /metrics."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError

from plugin.errors import StoreError
from webhooks.errors import error_body
from webhooks.services import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    return jsonify(status="ok"), 200


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    found = services()
    store = found.store
    try:
        backlog = store.outbox.backlog()
    except (SQLAlchemyError, StoreError) as exc:
        reason = f"the store did not answer ({type(exc).__name__})"
        return error_body(503, "store_unreachable", reason)
    if backlog.dead:
        reason = f"{backlog.dead} outbox effect(s) are dead letters; retry or drop them"
        return error_body(503, "outbox_dead_letters", reason)
    limit = timedelta(seconds=found.outbox_stuck_seconds)
    if backlog.oldest_due is not None and store.clock() - backlog.oldest_due > limit:
        late = int((store.clock() - backlog.oldest_due).total_seconds())
        reason = f"the oldest due outbox effect waits for {late} s; is a worker running?"
        return error_body(503, "outbox_stuck", reason)
    return jsonify(status="ready", pending=backlog.pending, in_flight=backlog.in_flight), 200


@bp.get("/metrics")
def metrics() -> Response:
    return Response(services().metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
