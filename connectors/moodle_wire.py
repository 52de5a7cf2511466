"""Moodle REST wire format, free of I/O: PHP bracket encoding and the one error classifier.

Moodle's REST server reads GET and POST merged, so arguments travel in a form-encoded POST
body (never the URL, which proxies log). Arrays and structs use PHP bracket names:
`values[0]=a@x.org`, `options[0][name]=excludemodules&options[0][value]=1`.

Moodle reports failures with HTTP 200 and `{"exception", "errorcode", "message"}` (plus
`debuginfo` when the site has debugging on). `raise_for_body` turns that into our error
classes; `debuginfo` is never copied into an error, it can hold SQL and personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from plugin.errors import AuthError, FatalError, RetriableError

MAX_MESSAGE = 200  # a Moodle message is short; cap it anyway so no body ends up in a log
SERVICES_PAGE = "Site administration > Server > Web services > External services"

# errorcode -> what the admin should do. All of these are fixed by changing the token, its
# user or its service, so they are AuthError (the caller stops instead of retrying).
AUTH_HINTS: Mapping[str, str] = {
    "invalidtoken": "the token is unknown to Moodle: check the configured token",
    "invalidtimedtoken": "the token has expired: issue a new one",
    "invalidiptoken": "the token is IP-restricted and this host is not allowed",
    "invalidlogin": "invalid login: check the token's user",
    "wrongusernamepassword": "invalid login: check the token's user",
    "usernotallowed": "the token's user is not an authorised user of the service",
    "servicenotavailable": "the external service is disabled or does not exist",
    "servicerequireslogin": "the service requires a login: use a token for an enabled service",
    "webservicesnotenabled": "web services are disabled on the site",
    "enablewsdescription": "web services are disabled on the site",
    "missingrequiredcapability": "the token's user lacks the service's required capability",
    "wsaccessuserdeleted": "the token's user is deleted",
    "wsaccessusersuspended": "the token's user is suspended",
    "wsaccessusernologin": "the token's user has the 'nologin' authentication",
    "wsaccessuserunconfirmed": "the token's user is not confirmed",
    "passwordisexpired": "the token's user must change their password",
    "nopermissions": "the token's user lacks a capability for this call",
    "requireloginerror": "the token's user cannot access this course or module",
    "restrictedcontextexception": "the token is restricted to another context",
    "errorcoursecontextnotvalid": "the token's user cannot access this course",
}
# Codes about one course or module, not the token: the token's user lacks access or a
# capability there. A sync reports that course and goes on with the others.
CONTEXT_CODES = frozenset({"errorcoursecontextnotvalid", "requireloginerror", "nopermissions"})
RETRIABLE_CODES = frozenset({"sitemaintenance"})  # a non-admin during maintenance mode


class ContextAccessError(AuthError):
    """The token works, but its user may not do this in one course or module."""


def encode_params(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Flatten nested lists/dicts into PHP bracket form fields; bools are 1/0, None is left out."""
    fields: list[tuple[str, str]] = []
    for key, value in params.items():
        _encode(str(key), value, fields)
    return fields


def _encode(name: str, value: Any, fields: list[tuple[str, str]]) -> None:
    if value is None:
        return  # Moodle applies the parameter's default
    if isinstance(value, bool):
        fields.append((name, "1" if value else "0"))
    elif isinstance(value, int | float | str):
        fields.append((name, str(value)))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _encode(f"{name}[{key}]", item, fields)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _encode(f"{name}[{index}]", item, fields)
    else:
        raise TypeError(f"cannot encode {type(value).__name__} for Moodle parameter {name!r}")


def decode_json(service: str, wsfunction: str, response: requests.Response) -> Any:
    """The JSON body, or a FatalError that says what is probably wrong (never the body)."""
    try:
        return response.json()
    except ValueError:
        kind = response.headers.get("Content-Type", "unknown type").split(";")[0]
        raise FatalError(
            service,
            f"{wsfunction}: the answer is not JSON ({kind}); check the Moodle URL and that "
            "the REST protocol is enabled",
            response.status_code,
        ) from None


def raise_for_body(service: str, wsfunction: str, body: Any) -> None:
    """Raise the right error for a Moodle exception body; return quietly for a result."""
    if not isinstance(body, dict) or "exception" not in body:
        return
    code = str(body.get("errorcode") or "")
    message = _short(body.get("message"))
    where = f"{wsfunction}: {code or body.get('exception')}"
    if code == "accessexception":
        raise AuthError(service, _access_hint(wsfunction, body))
    if code in CONTEXT_CODES:
        raise ContextAccessError(service, f"{where}: {AUTH_HINTS[code]} ({message})")
    if code in AUTH_HINTS:
        raise AuthError(service, f"{where}: {AUTH_HINTS[code]} ({message})")
    if code in RETRIABLE_CODES:
        raise RetriableError(service, f"{where}: {message}")
    raise FatalError(service, f"{where}: {message}")


def _access_hint(wsfunction: str, body: Mapping[str, Any]) -> str:
    # Moodle's message is a bare "Access control exception" (translated); the reason is only in
    # debuginfo. Look at it to pick a hint, but never copy it.
    debug = str(body.get("debuginfo") or "")
    if "Access to the function" in debug or wsfunction in debug:
        return (
            f"accessexception: function {wsfunction} is not allowed for this token; add it "
            f"to the token's service ({SERVICES_PAGE})"
        )
    return (
        f"accessexception calling {wsfunction}: the function may be missing from the token's "
        f"service ({SERVICES_PAGE}), or the token is expired, IP-restricted, or its user "
        "lacks webservice/rest:use"
    )


def _short(value: Any) -> str:
    text = " ".join(str(value or "").split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
