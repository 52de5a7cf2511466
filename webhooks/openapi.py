"""GET /openapi.json: an OpenAPI 3.1 description of the endpoints, as strict as the app.

Each request body schema says what the receiver accepts: a body the schema allows is
stored, recognised as a duplicate, or ignored (200); a body it does not allow is refused
with a 4xx in the JSON error shape. tests/test_webhooks_schemathesis.py holds the app and
this document to that, signed, with every schemathesis check.

OpenAPI 3.1, because its JSON Schema (2020-12) says what 3.0's cannot: `propertyNames` (no
key holds a NUL character), `const`, and types such as string-or-null. What no JSON Schema
says, the descriptions do: a body nests at most MAX_DEPTH levels, holds no number beyond a
double's range (`1e999`), and is UTF-8 text with no lone surrogate (webhooks.door).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from connectors.jira_webhook_structs import CREATED, MAX_EPOCH_MS, MAX_ID, UPDATED
from webhooks.door import MAX_DEPTH
from webhooks.jira import SIGNATURE_HEADER
from webhooks.services import services

bp = Blueprint("openapi", __name__)

JSON = "application/json"
Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


# Who retries a 503: Jira retries its webhooks; an LRS forwarding statements is asked to.
RETRIED_BY = {
    "jira": "The store is unavailable (Jira retries)",
    "xapi": "The store is unavailable; the LRS should send the statements again later",
}

# -- values: what webhooks.door lets in, and what the parsers read --------------------------

NO_NUL = "^[^\\u0000]*$"
TEXT: Schema = {"type": "string", "pattern": NO_NUL}
TEXT_OR_NULL: Schema = {"type": ["string", "null"], "pattern": NO_NUL}
IDENTIFIER: Schema = {**TEXT, "minLength": 1, "maxLength": MAX_ID}
SHORT_OR_NULL: Schema = {**TEXT_OR_NULL, "maxLength": MAX_ID}
INTEGER: Schema = {"type": "integer"}
# An id sent as a number is stored as its digits: at most MAX_ID of them, sign included.
ID_INTEGER: Schema = {
    "type": "integer",
    "minimum": 1 - 10 ** (MAX_ID - 1),
    "maximum": 10**MAX_ID - 1,
}

# What is read as a time (pydantic's lax datetime), as far as a pattern says it: an ISO 8601
# date-time of 1900-2199 with its offset (Z, +00:00, or +0000 as Jira writes it), Unix time
# in seconds or milliseconds (a number, or digits in a string), or null.
_DATE = (
    "(?:19|2[01])[0-9]{2}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    "|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
)
_TIME = "T(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\\.[0-9]{1,6})?)?"
_OFFSET = "(?:Z|[+-](?:0[0-9]|1[0-3]):?[0-5][0-9])"
TIME: Schema = {
    "description": "An ISO 8601 date-time with its offset, or Unix time in seconds "
    "(or milliseconds, past 2e10)",
    "anyOf": [
        {"type": "string", "pattern": f"^(?:{_DATE}{_TIME}{_OFFSET}|-?[0-9]{{1,13}})$"},
        {"type": "number", "minimum": -62135596800000, "maximum": 253402300799999},
        {"type": "null"},
    ],
}
# What is read as a boolean (pydantic's lax bool: true/false, 0/1, and their spellings).
FLAG: Schema = {
    "anyOf": [
        {"type": ["boolean", "null"]},
        {"enum": [0, 1]},
        {
            "type": "string",
            "pattern": "^(?:[tT][rR][uU][eE]|[fF][aA][lL][sS][eE]|[yY][eE][sS]|[nN][oO]"
            "|[oO][nN]|[oO][fF][fF]|[tTfFyYnN01])$",
        },
    ]
}


def _object(properties: Schema, *required: str) -> Schema:
    """An object with these fields read; any other field is kept as sent (a Value)."""
    schema: Schema = {
        "type": "object",
        "propertyNames": TEXT,
        "properties": properties,
        "additionalProperties": _ref("Value"),
    }
    if required:
        schema["required"] = list(required)
    return schema


def _either(*schemas: Schema) -> Schema:
    return {"anyOf": list(schemas)}


NULL: Schema = {"type": "null"}
NOT_NULL: Schema = {"not": NULL}
ABSENT: Schema = {"not": {}}


def _value_schemas() -> dict[str, Schema]:
    return {
        "Value": {
            "description": "Any JSON value the store can keep: no NUL character in a string "
            f"or key, no lone surrogate, finite numbers, at most {MAX_DEPTH} levels deep",
            "anyOf": [
                TEXT,
                {"type": ["number", "boolean", "null"]},
                {"type": "array", "items": _ref("Value")},
                {"type": "object", "propertyNames": TEXT, "additionalProperties": _ref("Value")},
            ],
        },
        "AnyObject": {
            "type": "object",
            "propertyNames": TEXT,
            "additionalProperties": _ref("Value"),
        },
    }


def _jira_schemas() -> dict[str, Schema]:
    user_ids = {k: SHORT_OR_NULL for k in ("accountId", "name", "key", "emailAddress")}
    named = _object({"name": TEXT_OR_NULL})
    id_or_integer = _either(IDENTIFIER, ID_INTEGER)
    status = _object(
        {
            "id": _either(TEXT_OR_NULL, INTEGER),
            "name": TEXT_OR_NULL,
            "statusCategory": _object({"key": {**TEXT, "minLength": 1}}, "key"),
        },
        "statusCategory",
    )
    fields = _object(
        {
            "status": status,
            "summary": TEXT_OR_NULL,
            "resolution": _either(named, NULL),
            "assignee": _either(_ref("JiraUser"), NULL),
            "labels": {"type": ["array", "null"], "items": TEXT},
            "components": {"type": ["array", "null"], "items": named},
            "project": _either(_object({"key": SHORT_OR_NULL, **user_ids}), NULL),
            "updated": TIME,
            "resolutiondate": TIME,
            "statuscategorychangedate": TIME,
        },
        "status",
    )
    item_value = _either(TEXT_OR_NULL, INTEGER)
    item = _object(
        {k: item_value for k in ("field", "fieldId", "from", "to", "fromString", "toString")}
    )
    # The change a changelog reports: its id and items; with no id, the newest of its REST
    # `histories`; with neither, no change (nothing is stored).
    changelog = _either(
        _object({"id": id_or_integer, "items": {"type": ["array", "null"], "items": item}}, "id"),
        _object({"id": NULL}, "id"),
        _object(
            {
                "id": ABSENT,
                "histories": {
                    "type": "array",
                    "items": _either(_ref("JiraChangelog"), {"not": {"type": "object"}}),
                },
            }
        ),
        _object({"id": ABSENT, "histories": {"not": {"type": "array"}}}),
    )
    # When it happened: `timestamp` (epoch milliseconds) or else the issue's `updated`.
    timestamp = {"type": "integer", "minimum": 0, "maximum": MAX_EPOCH_MS}
    sender = {"timestamp": timestamp, "user": _either(_ref("JiraUser"), NULL)}
    dated = {"properties": {"updated": NOT_NULL}, "required": ["updated"]}

    def when(issue: Schema) -> Schema:
        return _either({"required": ["timestamp"]}, issue)

    other_event = _object(
        {"webhookEvent": {**TEXT, "minLength": 1, "not": {"enum": [CREATED, UPDATED]}}},
        "webhookEvent",
    )
    comment_event = _object(
        {"webhookEvent": {"const": UPDATED}, "issue": _ref("AnyObject"), "changelog": NULL},
        "webhookEvent",
        "issue",
    )
    issue_dated = {"properties": {"issue": {"properties": {"fields": dated}}}}
    created = {
        "allOf": [
            _object(
                {"webhookEvent": {"const": CREATED}, "issue": _ref("JiraIssue"), **sender},
                "webhookEvent",
                "issue",
            ),
            when(issue_dated),
        ]
    }
    updated = {
        "allOf": [
            _object(
                {
                    "webhookEvent": {"const": UPDATED},
                    "issue": _ref("JiraIssue"),
                    "changelog": _ref("JiraChangelog"),
                    **sender,
                },
                "webhookEvent",
                "issue",
                "changelog",
            ),
            when(issue_dated),
        ]
    }
    nested = {
        "allOf": [
            _object(
                {
                    "webhookEvent": ABSENT,
                    "issue": {
                        "allOf": [
                            _ref("JiraIssue"),
                            {"properties": {"changelog": _either(_ref("JiraChangelog"), NULL)}},
                        ]
                    },
                    "changelog": _either(_ref("JiraChangelog"), NULL),
                    **sender,
                },
                "issue",
            ),
            when(issue_dated),
        ]
    }
    bare = {
        "allOf": [
            _object(
                {
                    "webhookEvent": ABSENT,
                    "issue": ABSENT,
                    "changelog": _either(_ref("JiraChangelog"), NULL),
                    **sender,
                }
            ),
            _ref("JiraIssue"),
            when({"properties": {"fields": dated}}),
        ]
    }
    return {
        "JiraUser": _object({**user_ids, "displayName": TEXT_OR_NULL, "timeZone": TEXT_OR_NULL}),
        "JiraIssue": _object(
            {"id": id_or_integer, "key": IDENTIFIER, "fields": fields}, "id", "key", "fields"
        ),
        "JiraChangelog": changelog,
        "JiraWebhook": {
            "description": f"An admin or Data Center webhook (sent with {SIGNATURE_HEADER}): "
            "an issue created or changed is stored; any other event is ignored, as is "
            "jira:issue_updated with no changelog (a comment, a work log)",
            "anyOf": [created, updated, comment_event, other_event],
        },
        "JiraAutomation": {
            "description": "An Automation web request (sent with the automation header): "
            "{issue} (Jira format) or the issue itself (Automation format), never "
            "webhookEvent",
            "anyOf": [nested, bare],
        },
    }


def _xapi_schemas() -> dict[str, Schema]:
    activity = _object({"id": TEXT}, "id")
    activities = _either(activity, {"type": "array", "items": activity})
    account = _object(
        {"homePage": {**TEXT, "maxLength": MAX_ID}, "name": {**TEXT, "maxLength": MAX_ID}},
        "homePage",
        "name",
    )
    actor = _object(
        {
            "objectType": TEXT,
            "name": TEXT_OR_NULL,
            "mbox": SHORT_OR_NULL,
            "mbox_sha1sum": SHORT_OR_NULL,
            "openid": SHORT_OR_NULL,
            "account": _either(account, NULL),
        }
    )
    context = _object(
        {
            "contextActivities": _either(
                _object({k: activities for k in ("parent", "grouping", "category", "other")}),
                NULL,
            )
        }
    )
    statement = _object(
        {
            "id": IDENTIFIER,
            "actor": actor,
            "verb": _object({"id": TEXT}, "id"),
            "object": _object({"objectType": TEXT, "id": TEXT_OR_NULL}),
            "result": _either(_object({"completion": FLAG, "success": FLAG}), NULL),
            "context": _either(context, NULL),
            "timestamp": TIME,
            "stored": TIME,
        },
        "id",
        "actor",
        "verb",
        "object",
    )
    statement["description"] = (
        "An xAPI statement. A completion (completed, passed, failed, uncompleted) of a "
        "module's activity by an agent needs a timestamp or stored time; progress on one "
        "(attempted, launched, initialized, progressed, resumed, viewed) is stored too, and "
        "ignored without a time; other statements are acknowledged and ignored"
    )
    return {
        "Statement": statement,
        "Statements": {"anyOf": [_ref("Statement"), {"type": "array", "items": _ref("Statement")}]},
    }


def _errors(sender: str, *statuses: int) -> dict[str, Any]:
    meaning = {
        400: "Malformed JSON, or a body the schema does not allow (the message names the field)",
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


def _webhook(sender: str, summary: str, body: Schema, security: list[dict[str, list[str]]]) -> Any:
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


def _json(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def document(automation_header: str = "X-Skillrelay-Token") -> dict[str, Any]:
    count = {"type": "integer", "minimum": 0}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "skillrelay webhooks",
            "version": "1",
            "description": "Receives Jira and LRS events into skillrelay's inbox. Request "
            "bodies are described as strictly as they are read: a body the schema allows is "
            "answered 200, any other a 4xx. Beyond the schemas: UTF-8 JSON with no lone "
            f"surrogate, no number beyond a double's range, nested at most {MAX_DEPTH} levels.",
        },
        "paths": {
            "/webhooks/jira": _webhook(
                "jira",
                "Jira admin or Data Center webhook, or an Automation web request",
                {
                    "description": f"A webhook body (it names webhookEvent; {SIGNATURE_HEADER}) "
                    f"or an Automation body (it does not; {automation_header})",
                    "anyOf": [_ref("JiraWebhook"), _ref("JiraAutomation")],
                },
                [{"hubSignature": []}, {"automationToken": []}],
            ),
            "/webhooks/xapi": _webhook(
                "xapi",
                "xAPI statements forwarded by an LRS",
                _ref("Statements"),
                [{"forwardBearer": []}, {"forwardBasic": []}],
            ),
            "/healthz": _get(
                "The process is up",
                {"200": _json("OK", _object({"status": {"const": "ok"}}, "status"))},
            ),
            "/readyz": _get(
                "The store answers and the outbox is not stuck",
                {
                    "200": _json(
                        "Ready",
                        _object(
                            {"status": {"const": "ready"}, "pending": count, "in_flight": count},
                            "status",
                        ),
                    ),
                    "503": _json(
                        "Not ready: store unreachable, dead letters, or stuck", _ref("Error")
                    ),
                },
            ),
            "/metrics": _get(
                "Prometheus metrics",
                {
                    "200": {
                        "description": "Text exposition",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            ),
            "/openapi.json": _get("This document", {"200": _json("OK", {"type": "object"})}),
        },
        "components": {
            "schemas": {
                **_value_schemas(),
                **_jira_schemas(),
                **_xapi_schemas(),
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string", "examples": ["bad_signature"]},
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
                        "events": count,
                        "duplicates": count,
                        "ignored": count,
                    },
                },
            },
            "securitySchemes": {
                "hubSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": SIGNATURE_HEADER,
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
