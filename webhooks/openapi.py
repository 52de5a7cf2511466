"""GET /openapi.json: an OpenAPI 3.0 description of the endpoints (bodies described loosely:
they are Jira's and the LRS's formats, read leniently)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from webhooks.services import services

bp = Blueprint("openapi", __name__)

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


# Who retries a 503: Jira retries its webhooks; an LRS forwarding statements is asked to.
RETRIED_BY = {
    "jira": "The store is unavailable (Jira retries)",
    "xapi": "The store is unavailable; the LRS should send the statements again later",
}


def _errors(sender: str, *statuses: int) -> dict[str, Any]:
    meaning = {
        400: "Malformed JSON, or a missing or invalid field (the message names it)",
        401: "Missing or wrong signature or credentials",
        404: "This sender is not configured",
        413: "Body larger than MAX_CONTENT_LENGTH",
        415: "Content-Type is not application/json",
        503: RETRIED_BY[sender],
    }
    return {
        str(s): {"description": meaning[s], "content": {JSON: {"schema": _ref("Error")}}}
        for s in statuses
    }


def _webhook(
    sender: str, summary: str, body: dict[str, Any], security: list[dict[str, list[str]]]
) -> Any:
    responses = {
        "200": {
            "description": "Stored, recognised as a duplicate, or ignored, before answering",
            "content": {JSON: {"schema": _ref("Accepted")}},
        },
        **_errors(sender, 400, 401, 404, 413, 415, 503),
    }
    if sender == "xapi":  # the challenges webhooks.errors sends with a 401
        responses["401"]["headers"] = {
            "WWW-Authenticate": {
                "description": 'Basic realm="skillrelay", charset="UTF-8" and '
                'Bearer realm="skillrelay"',
                "schema": {"type": "string"},
            }
        }
    return {
        "post": {
            "summary": summary,
            "security": security,
            "requestBody": {"required": True, "content": {JSON: {"schema": body}}},
            "responses": responses,
        }
    }


def _get(summary: str, responses: dict[str, Any]) -> Any:
    return {"get": {"summary": summary, "responses": responses}}


def document(automation_header: str = "X-Skillrelay-Token") -> dict[str, Any]:
    ok = {"description": "OK", "content": {JSON: {"schema": {"type": "object"}}}}
    statement = {"type": "object", "description": "An xAPI statement"}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "skillrelay webhooks",
            "version": "1",
            "description": "Receives Jira and LRS events into skillrelay's inbox.",
        },
        "paths": {
            "/webhooks/jira": _webhook(
                "jira",
                "Jira admin or Data Center webhook, or an Automation web request",
                {
                    "type": "object",
                    "description": "A Jira webhook body (webhookEvent, timestamp, user, "
                    "issue, changelog) or an Automation body (the issue, or {issue})",
                },
                [{"hubSignature": []}, {"automationToken": []}],
            ),
            "/webhooks/xapi": _webhook(
                "xapi",
                "xAPI statements forwarded by an LRS",
                {"oneOf": [statement, {"type": "array", "items": statement}]},
                [{"forwardBearer": []}, {"forwardBasic": []}],
            ),
            "/healthz": _get("The process is up", {"200": ok}),
            "/readyz": _get(
                "The store answers and the outbox is not stuck",
                {
                    "200": ok,
                    "503": {
                        "description": "Not ready: store unreachable, dead letters, or stuck",
                        "content": {JSON: {"schema": _ref("Error")}},
                    },
                },
            ),
            "/metrics": _get(
                "Prometheus metrics",
                {"200": {"description": "Text exposition", "content": {"text/plain": {}}}},
            ),
            "/openapi.json": _get("This document", {"200": ok}),
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string", "example": "bad_signature"},
                        "message": {"type": "string"},
                    },
                },
                "Accepted": {
                    "type": "object",
                    "required": ["status", "events"],
                    "properties": {
                        "status": {
                            "type": "string",
                            "enum": ["stored", "duplicate", "ignored"],
                            "description": "stored: new events; duplicate: nothing new; "
                            "ignored: nothing skillrelay reads (other events, projects, "
                            "statements)",
                        },
                        "events": {"type": "integer", "minimum": 0},
                        "duplicates": {"type": "integer", "minimum": 0},
                        "ignored": {"type": "integer", "minimum": 0},
                    },
                },
            },
            "securitySchemes": {
                "hubSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Hub-Signature",
                    "description": "<method>=<hex HMAC of the raw body with the webhook secret>",
                },
                "automationToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": automation_header,
                    "description": "The Jira source's automation_header, carrying the "
                    "automation secret",
                },
                "forwardBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The xAPI source's forward secret (forward_secret_env)",
                },
                "forwardBasic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "Any user name, and the xAPI source's forward secret "
                    "(forward_secret_env) as the password; never the credentials skillrelay "
                    "reads the LRS with",
                },
            },
        },
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    jira = services().jira
    return jsonify(document(jira.automation_header) if jira else document())
