"""Contract checks for everything skillrelay sends to Jira, as a pytest plugin.

Cloud v3 requests and recorded responses are validated against Atlassian's own OpenAPI file
(openapi-core), loaded once per test session; Data Center v2 is not in that file, so its
requests are checked against the documented shapes (search: startAt/maxResults/jql/fields;
comment: a wiki-markup string body; ...) by explicit rules here.

Use it from a test module:

    pytest_plugins = ["tests.jira_contract"]

    def test_something(jira_cloud: JiraHarness) -> None:
        jira_cloud.mock.post(jira_cloud.url("rest/api/3/search/jql"), json=...)
        jira_cloud.client.search_updated(...)

Every request captured by the harness's `responses` mock is validated after the test body
(a `pytest_runtest_call` wrapper), so a request the contract rejects FAILS the test that
sent it. `jira_contract` is the session-wide CloudContract for direct checks.

The spec is `tests/contracts/jira-cloud-platform-v3.openapi.json` (vendored; its origin is in
the README beside it) unless the environment variable SKILLRELAY_JIRA_OPENAPI names another
file. A missing file fails the Cloud contract tests with that reason: they never skip.

Known gaps between the spec and what Jira sends, patched before validation (each is shown
by the spec's own examples or descriptions): `ChangeDetails.from/to/fromString/toString` may
be null, and date-times carry a `+0000` offset (no colon), which strict RFC 3339 rejects. The
bulk changelog fetch (getBulkChangelogs) answers `nextPageToken: null` on its last page, and
its example gives `created` as epoch seconds: only there (`IssueChangeLog.changeHistories`)
may `created` be an integer; the per-issue changelog stays a date-time string. The spec also
leaves `Comment.body` untyped, so comment bodies are checked against Atlassian's ADF JSON
Schema (tests/fixtures/jira/adf/full.json).

Test modules import names from here and list it in `pytest_plugins`, so pytest meets it
already imported: PYTEST_DONT_REWRITE (it raises its own AssertionErrors, with messages).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
import requests
import responses
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.validation.schemas import oas30_read_schema_validators_factory

from connectors.jira import JiraClient

SPEC_ENV = "SKILLRELAY_JIRA_OPENAPI"
REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "jira"
ADF_SCHEMA = FIXTURES / "adf" / "full.json"
CLOUD_BASE = "https://skillrelay-test.atlassian.net"
DC_BASE = "https://jira.example.test/jira"  # Data Center often runs under a context path
NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z, the harness clock

_JIRA_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$")
_NULLABLE = {
    "ChangeDetails": ("from", "fromString", "to", "toString"),
    "BulkChangelogResponseBean": ("nextPageToken",),
}
_BULK_HISTORY = "BulkChangelogHistory"  # Changelog as getBulkChangelogs sends it
COMMENT_OPERATIONS = frozenset({"addComment", "updateComment"})


def spec_path() -> Path:
    configured = os.environ.get(SPEC_ENV)
    if configured:
        return Path(configured)
    return REPO / "tests" / "contracts" / "jira-cloud-platform-v3.openapi.json"


def load_fixture(deployment: str, name: str) -> Any:
    return json.loads((FIXTURES / deployment / name).read_text(encoding="utf-8"))


def _jira_datetime(value: Any) -> bool:
    return not isinstance(value, str) or bool(_JIRA_TIME.match(value))


def _errors(exc: BaseException) -> list[str]:
    """The readable parts of an openapi-core error: its message and its schema errors."""
    parts = [f"{type(exc).__name__}: {exc}"]
    cause = exc.__cause__
    for error in getattr(cause, "schema_errors", None) or getattr(exc, "schema_errors", ()) or ():
        where = "/".join(str(p) for p in error.absolute_path)
        parts.append(f"  at '{where}': {error.message}")
    return parts


class _AsSpecServer(RequestsOpenAPIRequest):
    """A captured request, re-addressed to the spec's server (`your-domain.atlassian.net`)."""

    def __init__(self, request: requests.PreparedRequest, server: str, path: str) -> None:
        super().__init__(request)
        self._server = server
        self._path = path

    @property
    def host_url(self) -> str:
        return self._server

    @property
    def path(self) -> str:
        return self._path


@dataclass
class _Bare:
    """The request half of a recorded response: only the operation matters."""

    method: str
    host_url: str
    path: str
    body: bytes | None = None
    content_type: str = "application/json"
    parameters: RequestParameters = field(default_factory=RequestParameters)


@dataclass
class _Recorded:
    status_code: int
    data: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class CloudContract:
    """Atlassian's Jira Cloud platform OpenAPI file, loaded once, as request/response checks."""

    def __init__(self, path: Path) -> None:
        started = time.perf_counter()
        document = json.loads(path.read_text(encoding="utf-8"))
        for schema, props in _NULLABLE.items():
            for prop in props:
                document["components"]["schemas"][schema]["properties"][prop]["nullable"] = True
        _epoch_created_in_bulk(document["components"]["schemas"])
        config = Config(
            spec_validator_cls=None,  # the file fails strict spec validation (enum defaults)
            extra_format_validators={"date-time": _jira_datetime},
        )
        self.api = OpenAPI.from_dict(document, config=config)
        self.server = document["servers"][0]["url"]
        self.finder = APICallPathFinder(self.api.spec)
        self.adf = jsonschema.Draft4Validator(json.loads(ADF_SCHEMA.read_text(encoding="utf-8")))
        self.load_seconds = time.perf_counter() - started

    # --- requests ---------------------------------------------------------------------------

    def request_problems(self, request: requests.PreparedRequest, base_url: str) -> list[str]:
        """Why the spec rejects this request (method, path, query, body, auth); [] if none."""
        method = (request.method or "").lower()
        url = urlsplit(request.url or "")
        base_path = urlsplit(base_url).path.rstrip("/")
        path = url.path[len(base_path) :] if url.path.startswith(base_path) else url.path
        label = f"{method.upper()} {path}"
        try:
            found = self.finder.find(method, self.server + path)
        except Exception as exc:
            return [f"{label}: not an operation of the spec ({type(exc).__name__})"]
        operation = found.operation
        problems = [f"{label}: {p}" for p in self._unknown_query(found, url.query)]
        with warnings.catch_warnings():
            # openapi-core cannot evaluate the OAuth2 alternative; basic auth is checked below.
            warnings.filterwarnings("ignore", message="Unsupported scheme type")
            try:
                self.api.validate_request(_AsSpecServer(request, self.server, path))
            except Exception as exc:
                problems += [f"{label}: {line}" for line in _errors(exc)]
        if not str(request.headers.get("Authorization", "")).startswith("Basic "):
            problems.append(f"{label}: no basic-auth credentials (email + API token)")
        if operation["operationId"] in COMMENT_OPERATIONS and request.body:
            body = json.loads(request.body)
            problems += [f"{label}: comment body {p}" for p in self.adf_problems(body.get("body"))]
        return problems

    def _unknown_query(self, found: Any, query: str) -> list[str]:
        declared: set[str] = set()
        for owner in (found.path, found.operation):
            if "parameters" in owner:
                for param in owner / "parameters":
                    if param["in"] == "query":
                        declared.add(param["name"])
        sent = parse_qs(query, keep_blank_values=True)
        return [f"unknown query parameter {name!r}" for name in sorted(set(sent) - declared)]

    def adf_problems(self, document: Any) -> list[str]:
        """Why Atlassian's ADF schema rejects this document; [] if none."""
        errors = sorted(self.adf.iter_errors(document), key=lambda e: list(e.absolute_path))
        return [f"not ADF at '{'/'.join(map(str, e.absolute_path))}': {e.message}" for e in errors]

    # --- responses --------------------------------------------------------------------------

    def response_problems(self, method: str, path: str, status: int, body: Any) -> list[str]:
        """Why `body` is not the spec's response for (method, concrete path, status)."""
        request = _Bare(method.lower(), self.server, path)
        response = _Recorded(status, json.dumps(body).encode())
        try:
            self.api.validate_response(request, response)
        except Exception as exc:
            return [f"{method} {path} {status}: {line}" for line in _errors(exc)]
        return []

    def schema_problems(self, schema: str, instance: Any) -> list[str]:
        """Why `instance` is not a `components/schemas/<schema>` (e.g. ErrorCollection)."""
        path = self.api.spec / "components" / "schemas" / schema
        validator = oas30_read_schema_validators_factory.create(
            self.api.spec, path, extra_format_validators={"date-time": _jira_datetime}
        )
        try:
            validator.validate(instance)
        except Exception as exc:
            return [f"{schema}: {line}" for line in _errors(exc)]
        return []


def _epoch_created_in_bulk(schemas: dict[str, Any]) -> None:
    """Let `created` be epoch seconds in bulk fetch answers only (the operation's example)."""
    history = copy.deepcopy(schemas["Changelog"])
    created = history["properties"]["created"]
    history["properties"]["created"] = {
        "anyOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}],
        "description": created.get("description", ""),
        "readOnly": True,
    }
    schemas[_BULK_HISTORY] = history
    histories = schemas["IssueChangeLog"]["properties"]["changeHistories"]
    histories["items"] = {"$ref": f"#/components/schemas/{_BULK_HISTORY}"}


@functools.cache
def load_contract() -> CloudContract:
    """The session's CloudContract (cached: the file is 2.4 MB); FileNotFoundError if absent."""
    path = spec_path()
    if not path.is_file():
        raise FileNotFoundError(path)
    return CloudContract(path)


def require_contract() -> CloudContract:
    try:
        return load_contract()
    except FileNotFoundError as exc:
        pytest.fail(
            f"Jira Cloud OpenAPI file not found at {exc.args[0]}; restore "
            f"tests/contracts/ or set {SPEC_ENV} to the file's path",
            pytrace=False,
        )


# --- Data Center: the documented v2 shapes ---------------------------------------------------

_ISSUE = r"issue/[^/]+"
_SEARCH_PARAMS = frozenset({"jql", "startAt", "maxResults", "fields", "expand", "validateQuery"})
_DC_ROUTES: list[tuple[str, re.Pattern[str], frozenset[str], str]] = [
    # method, path under rest/api/2/, allowed query parameters, body kind
    ("GET", re.compile(r"search"), _SEARCH_PARAMS, "none"),
    ("GET", re.compile(_ISSUE), frozenset({"fields", "expand"}), "none"),
    ("POST", re.compile(_ISSUE + "/comment"), frozenset({"expand"}), "comment"),
    ("PUT", re.compile(_ISSUE), frozenset({"notifyUsers"}), "edit"),
    ("GET", re.compile(_ISSUE + r"/properties/[^/]+"), frozenset(), "none"),
    ("PUT", re.compile(_ISSUE + r"/properties/[^/]+"), frozenset(), "json"),
    ("GET", re.compile(r"status|serverInfo"), frozenset(), "none"),
    ("GET", re.compile(r"myself"), frozenset({"expand"}), "none"),
]
_INT_PARAMS = ("startAt", "maxResults")


def dc_request_problems(request: requests.PreparedRequest, base_url: str) -> list[str]:
    """Why a Data Center v2 request departs from the documented shapes; [] if none."""
    url = urlsplit(request.url or "")
    prefix = urlsplit(base_url).path.rstrip("/") + "/rest/api/2/"
    method = request.method or ""
    label = f"{method} {url.path}"
    if not url.path.startswith(prefix):
        return [f"{label}: not under {prefix}"]
    rest = url.path[len(prefix) :]
    route = next(
        (r for r in _DC_ROUTES if r[0] == method and r[1].fullmatch(rest)),
        None,
    )
    if route is None:
        return [f"{label}: not a documented Data Center v2 operation"]
    _, _, allowed, body_kind = route
    problems: list[str] = []
    query = parse_qs(url.query, keep_blank_values=True)
    problems += [f"{label}: unknown query parameter {n!r}" for n in sorted(set(query) - allowed)]
    problems += [f"{label}: {n} repeated" for n, values in query.items() if len(values) > 1]
    for name in _INT_PARAMS:
        if name in query and not query[name][0].isdigit():
            problems.append(f"{label}: {name} must be a non-negative integer")
    if rest == "search" and not query.get("jql", [""])[0].strip():
        problems.append(f"{label}: jql is required")
    if "fields" in query and " " in query["fields"][0]:
        problems.append(f"{label}: fields must be comma-separated without spaces")
    auth = str(request.headers.get("Authorization", ""))
    if not re.fullmatch(r"Bearer \S+", auth):
        problems.append(f"{label}: no 'Authorization: Bearer <PAT>' header")
    problems += [f"{label}: {p}" for p in _dc_body_problems(request, body_kind)]
    return problems


def _dc_body_problems(request: requests.PreparedRequest, kind: str) -> list[str]:
    if kind == "none":
        return ["unexpected request body"] if request.body else []
    if "application/json" not in str(request.headers.get("Content-Type", "")):
        return ["body is not sent as application/json"]
    try:
        body = json.loads(request.body or b"")
    except ValueError:
        return ["body is not JSON"]
    if kind == "comment":
        if not isinstance(body, dict) or set(body) - {"body", "visibility", "properties"}:
            return ["comment must be an object with 'body' (and optional 'visibility')"]
        if not isinstance(body.get("body"), str) or not body["body"].strip():
            return ["v2 comment 'body' must be a non-empty wiki-markup string"]
    if kind == "edit":
        labels = (body.get("update") or {}).get("labels") if isinstance(body, dict) else None
        ops = labels if isinstance(labels, list) else [None]
        if not all(_label_op(op) for op in ops):
            return ["update.labels must be a list of {'add'|'remove'|'set': <label>}"]
    return []


def _label_op(op: Any) -> bool:
    if not isinstance(op, dict) or len(op) != 1:
        return False
    ((verb, value),) = op.items()
    return verb in ("add", "remove", "set") and isinstance(value, str)


# --- the harness and its fixtures -------------------------------------------------------------

Checker = Callable[[requests.PreparedRequest, str], list[str]]


@dataclass
class JiraHarness:
    """A `responses` mock plus a JiraClient bound to it; sleeps are recorded, never slept."""

    mock: responses.RequestsMock
    client: JiraClient
    base_url: str
    check: Checker
    sleeps: list[float]
    checked: int = 0

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def sent(self) -> list[requests.PreparedRequest]:
        return [call.request for call in self.mock.calls]

    def sent_json(self, index: int = -1) -> Any:
        return json.loads(self.sent()[index].body or b"null")

    def problems(self) -> list[str]:
        """Contract problems of the requests sent since the last check."""
        calls = self.sent()[self.checked :]
        self.checked += len(calls)
        return [p for request in calls for p in self.check(request, self.base_url)]

    def verify(self) -> None:
        problems = self.problems()
        if problems:
            raise AssertionError(
                "requests the Jira contract rejects:\n" + "\n".join(f"  {p}" for p in problems)
            )


HARNESSES = pytest.StashKey[list[JiraHarness]]()


def _harness(
    request: pytest.FixtureRequest, deployment: str, base_url: str, check: Checker
) -> Iterator[JiraHarness]:
    sleeps: list[float] = []
    credentials: dict[str, Any] = (
        {"email": "bot@example.com", "token": "cloud-api-token-123"}
        if deployment == "cloud"
        else {"pat": "dc-personal-access-token-456"}
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        client = JiraClient(
            base_url,
            "cloud" if deployment == "cloud" else "datacenter",
            sleep=sleeps.append,
            clock=lambda: NOW,
            jql_timezone=UTC,
            **credentials,
        )
        harness = JiraHarness(mock, client, base_url, check, sleeps)
        request.node.stash.setdefault(HARNESSES, []).append(harness)
        yield harness


@pytest.fixture(scope="session")
def jira_contract() -> CloudContract:
    return require_contract()


@pytest.fixture
def jira_cloud(
    request: pytest.FixtureRequest, jira_contract: CloudContract
) -> Iterator[JiraHarness]:
    """A Cloud client on a mock whose every request is checked against the OpenAPI file."""
    yield from _harness(request, "cloud", CLOUD_BASE, jira_contract.request_problems)


@pytest.fixture
def jira_dc(request: pytest.FixtureRequest) -> Iterator[JiraHarness]:
    """A Data Center client on a mock whose every request is checked against the v2 shapes."""
    yield from _harness(request, "datacenter", DC_BASE, dc_request_problems)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After the test body: fail the test if any harness saw a request the contract rejects."""
    result = yield
    for harness in item.stash.get(HARNESSES, []):
        harness.verify()
    return result
