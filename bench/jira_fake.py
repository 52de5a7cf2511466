"""A paged fake of Jira Cloud's REST API for benchmarks: a real HTTP server on 127.0.0.1.

It serves, in the documented Cloud shapes and under both `/rest/api/3/` and `/rest/api/2/`
(the `jira` library defaults to 2): `search/jql` (GET and POST, `nextPageToken` pages, at most
PAGE_CAP issues a page), `status`, `myself`, `serverInfo` (deploymentType "Cloud"), `field`,
`issue/{idOrKey}/changelog` (offset pages) and `changelog/bulkfetch` (POST; `maxResults`
entries a page, `nextPageToken` pages; 404 while `bulk_changelogs` is False, as on a site
without it). The old `search` answers 410, as on Cloud.

The JQL is not evaluated: every generated issue matches any query, oldest `updated` first.
A page token is bound to the JQL it came from. One issue in CHANGED_EVERY had its status
category changed inside the sync window (and has a changelog saying so); the others last
changed category long before it. The bulk fetch answers in the shape of its spec example:
`created` in epoch seconds, entries sorted by time then issue id across the requested issues,
grouped by issue within a page; `fieldIds` keeps the entries that touch one of the fields,
with only those items. Each issue is encoded once per (API version, field
selection), so answering a page costs little more than writing its bytes.

Every request is counted per route (`GET /rest/api/3/issue/{key}/changelog`), with the bytes
of its response body and the server thread's CPU time to build it (not to send it), before the
answer is written, so the client never sees an answer that is not counted yet.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PAGE_CAP = 100  # Cloud search "may return fewer items per page where many fields are requested"
DEFAULT_PAGE = 50  # search/jql's documented default maxResults
CHANGELOG_CAP = 100
BULK_ISSUES_CAP = 1_000  # getBulkChangelogs: issueIdsOrKeys 1..1000
BULK_FIELDS_CAP = 10  # fieldIds 0..10
BULK_DEFAULT, BULK_CAP = 1_000, 10_000  # maxResults default and maximum
SEARCH_GONE = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."
)
CHANGED_EVERY = 5  # 20% of the issues changed status category inside the window
WINDOW = timedelta(days=29)  # issues are spread over this span before `now`
TIME_ZONE = "Europe/Paris"  # the searching user's profile zone (JQL dates are read in it)
PROJECT = "SR"
MINUTE = timedelta(minutes=1)

# id, name, statusCategory (id, key, colorName, name)
STATUSES = (
    ("10000", "To Do", (2, "new", "blue-gray", "To Do")),
    ("3", "In Progress", (4, "indeterminate", "yellow", "In Progress")),
    ("10003", "In Review", (4, "indeterminate", "yellow", "In Progress")),
    ("10001", "Done", (3, "done", "green", "Done")),
    ("10002", "Won't Do", (3, "done", "green", "Done")),
)
TODO, IN_PROGRESS, DONE = "10000", "3", "10001"
USERS = (
    ("5b10a2844c20165700ede21g", "Ada Lovelace", "ada@example.com"),
    ("712020:0e3c1a5e-9d5b-4a37-9a53-3c6a4f1d2b7e", "Bob Hopper", None),
)
# system fields a Cloud site returns with `*all` (a real site adds many more custom fields)
SYSTEM_FIELDS = (
    "summary", "status", "resolution", "assignee", "reporter", "creator", "labels",
    "components", "project", "updated", "created", "resolutiondate", "statuscategorychangedate",
    "issuetype", "priority", "description", "environment", "duedate", "fixVersions", "versions",
    "issuelinks", "subtasks", "attachment", "watches", "votes", "timetracking", "timeestimate",
    "timeoriginalestimate", "timespent", "aggregatetimespent", "aggregatetimeestimate",
    "aggregatetimeoriginalestimate", "progress", "aggregateprogress", "workratio", "lastViewed",
    "security", "comment", "worklog",
)  # fmt: skip
CUSTOM_FIELDS = tuple(f"customfield_{10000 + n}" for n in range(60))
ALL_FIELDS = SYSTEM_FIELDS + CUSTOM_FIELDS


def jira_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.000%z")


@dataclass(frozen=True)
class Corpus:
    """The generated issues: issue i is `SR-{i+1}`, id `10001+i`, updated in ascending order."""

    n: int
    now: datetime
    base: str  # the site URL, for `self` links

    def updated(self, i: int) -> datetime:
        return self.now - WINDOW + (i + 1) * (WINDOW / (self.n + 1))

    def moves(self, i: int) -> int:
        """Status-category moves inside the window: 2 (to Done), 1 (to In Progress) or 0."""
        if i % CHANGED_EVERY:
            return 0
        return 2 if i % (2 * CHANGED_EVERY) == 0 else 1

    @property
    def changed(self) -> int:
        return sum(1 for i in range(self.n) if self.moves(i))

    @property
    def transitions(self) -> int:
        return sum(self.moves(i) for i in range(self.n))

    def index(self, id_or_key: str) -> int | None:
        if id_or_key.startswith(f"{PROJECT}-"):
            number = id_or_key.removeprefix(f"{PROJECT}-")
            i = int(number) - 1 if number.isdigit() else -1
        else:
            i = int(id_or_key) - 10001 if id_or_key.isdigit() else -1
        return i if 0 <= i < self.n else None

    def user(self, i: int) -> dict[str, Any]:
        account, name, email = USERS[i % len(USERS)]
        size = "https://avatar-management.example.com/default/{0}x{0}.png"
        avatars = {f"{px}x{px}": size.format(px) for px in (48, 24, 16, 32)}
        user = {
            "self": f"{self.base}/rest/api/3/user?accountId={account}",
            "accountId": account,
            "avatarUrls": avatars,
            "displayName": name,
            "active": True,
            "timeZone": TIME_ZONE,
            "accountType": "atlassian",
        }
        return user | ({"emailAddress": email} if email else {})

    def status(self, status_id: str) -> dict[str, Any]:
        _, name, (cat_id, key, colour, cat_name) = next(s for s in STATUSES if s[0] == status_id)
        return {
            "self": f"{self.base}/rest/api/3/status/{status_id}",
            "description": "",
            "iconUrl": f"{self.base}/images/icons/statuses/generic.png",
            "name": name,
            "id": status_id,
            "statusCategory": {
                "self": f"{self.base}/rest/api/3/statuscategory/{cat_id}",
                "id": cat_id,
                "key": key,
                "colorName": colour,
                "name": cat_name,
            },
        }

    def fields(self, i: int, version: str) -> dict[str, Any]:
        moves, updated = self.moves(i), self.updated(i)
        created = self.now - timedelta(days=120)
        status = {0: TODO, 1: IN_PROGRESS, 2: DONE}[moves]
        summary = f"{PROJECT}-{i + 1}: make the payment retry idempotent"
        text = "Retries must not charge twice. See the runbook for the payment service."
        description: Any = text
        if version == "3":
            paragraph = {"type": "paragraph", "content": [{"type": "text", "text": text}]}
            description = {"type": "doc", "version": 1, "content": [paragraph]}
        issue_url = f"{self.base}/rest/api/{version}/issue/{10001 + i}"
        none = dict.fromkeys(ALL_FIELDS)
        custom: dict[str, Any] = {
            "customfield_10019": f"0|i{i:05x}:",
            "customfield_10050": {
                "self": f"{self.base}/rest/api/3/customFieldOption/10100",
                "value": "python-testing",
                "id": "10100",
            },
        }
        progress = {"progress": 0, "total": 0}
        return (
            none
            | custom
            | {
                "summary": summary,
                "status": self.status(status),
                "resolution": None if moves < 2 else {"id": "10000", "name": "Done"},
                "assignee": self.user(i),
                "reporter": self.user(i + 1),
                "creator": self.user(i + 1),
                "labels": ["python-testing"] if i % 3 == 0 else [],
                "components": [
                    {
                        "self": f"{self.base}/rest/api/3/component/10000",
                        "id": "10000",
                        "name": "payments",
                    }
                ],
                "project": {
                    "self": f"{self.base}/rest/api/3/project/10000",
                    "id": "10000",
                    "key": PROJECT,
                    "name": "Skill Relay",
                    "projectTypeKey": "software",
                },
                "updated": jira_time(updated),
                "created": jira_time(created),
                "resolutiondate": jira_time(updated - timedelta(hours=1)) if moves == 2 else None,
                "statuscategorychangedate": jira_time(
                    updated - timedelta(hours=1) if moves else created
                ),
                "issuetype": {
                    "self": f"{self.base}/rest/api/3/issuetype/10001",
                    "id": "10001",
                    "name": "Task",
                    "subtask": False,
                    "hierarchyLevel": 0,
                },
                "priority": {
                    "self": f"{self.base}/rest/api/3/priority/3",
                    "id": "3",
                    "name": "Medium",
                },
                "description": description,
                "fixVersions": [],
                "versions": [],
                "issuelinks": [],
                "subtasks": [],
                "attachment": [],
                "watches": {"self": f"{issue_url}/watchers", "watchCount": 1, "isWatching": False},
                "votes": {"self": f"{issue_url}/votes", "votes": 0, "hasVoted": False},
                "timetracking": {},
                "progress": progress,
                "aggregateprogress": progress,
                "workratio": -1,
                "comment": {
                    "comments": [],
                    "self": f"{issue_url}/comment",
                    "maxResults": 0,
                    "total": 0,
                    "startAt": 0,
                },
                "worklog": {"startAt": 0, "maxResults": 20, "total": 0, "worklogs": []},
            }
        )

    def issue(self, i: int, version: str, wanted: Callable[[str], bool]) -> dict[str, Any]:
        fields = {k: v for k, v in self.fields(i, version).items() if wanted(k)}
        issue_id = str(10001 + i)
        return {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog",
            "id": issue_id,
            "self": f"{self.base}/rest/api/{version}/issue/{issue_id}",
            "key": f"{PROJECT}-{i + 1}",
            "fields": fields,
        }

    def changelog(self, i: int, *, epoch: bool = False) -> list[dict[str, Any]]:
        """Oldest first: a move to In Progress, a label change, then (for 2 moves) Done.

        `created` is a Jira time string, or with `epoch` whole epoch seconds (bulk fetch).
        """
        moves, updated = self.moves(i), self.updated(i)
        if not moves:
            return []

        def entry(n: int, at: datetime, item: dict[str, Any]) -> dict[str, Any]:
            item = {"fieldtype": "jira", "fieldId": item["field"]} | item
            return {
                "id": str(200_000 + 10 * i + n),
                "author": self.user(i),
                "created": int(at.timestamp()) if epoch else jira_time(at),
                "items": [item],
            }

        start = {
            "field": "status",
            "from": TODO,
            "fromString": "To Do",
            "to": IN_PROGRESS,
            "toString": "In Progress",
        }
        label = {
            "field": "labels",
            "from": None,
            "fromString": "",
            "to": None,
            "toString": "python-testing",
        }
        done = {
            "field": "status",
            "from": IN_PROGRESS,
            "fromString": "In Progress",
            "to": DONE,
            "toString": "Done",
        }
        last = updated - timedelta(hours=1)
        if moves == 1:
            return [entry(0, updated - timedelta(hours=2), label), entry(1, last, start)]
        return [
            entry(0, updated - timedelta(hours=2), start),
            entry(1, last - MINUTE, label),
            entry(2, last, done),
        ]


@dataclass
class Tally:
    """What the server answered since the last reset."""

    requests: Counter[str] = field(default_factory=Counter)
    bytes_out: Counter[str] = field(default_factory=Counter)
    cpu: float = 0.0  # server threads' CPU seconds
    jqls: set[str] = field(default_factory=set)

    def count(self, *words: str) -> int:
        """Requests whose route contains every word."""
        return sum(n for route, n in self.requests.items() if all(w in route for w in words))


def field_filter(selection: Sequence[str]) -> Callable[[str], bool]:
    """Jira's `fields`: names, `*all` / `*navigable`, `-name` exclusions; default `id` only."""
    names = {n.strip() for s in selection for n in s.split(",") if n.strip()} or {"id"}
    every = bool(names & {"*all", "*navigable"})
    dropped = {n[1:] for n in names if n.startswith("-")}
    return lambda name: (every or name in names) and name not in dropped


class FakeJira:
    """The server's state: the corpus, the per-selection encodings, and the tally."""

    def __init__(self, n_issues: int, now: datetime, base: str) -> None:
        self.n_issues, self.now = n_issues, now
        self.bulk_changelogs = True  # False: answer 404 for the bulk fetch
        self.latency = 0.0  # seconds each answer waits first: a real site's round trip
        self.corpus = Corpus(n_issues, now, base)
        self.tally = Tally()
        self._lock = threading.Lock()
        self._encoded: dict[tuple[str, tuple[str, ...]], list[bytes]] = {}

    def reset(self) -> Tally:
        with self._lock:
            tally, self.tally = self.tally, Tally()
        return tally

    def record(self, route: str, size: int, cpu: float, jql: str | None = None) -> None:
        with self._lock:
            self.tally.requests[route] += 1
            self.tally.bytes_out[route] += size
            self.tally.cpu += cpu
            if jql is not None:
                self.tally.jqls.add(jql)

    def encoded(self, version: str, selection: Sequence[str]) -> list[bytes]:
        key = (version, tuple(sorted(selection)))
        with self._lock:
            if key not in self._encoded:
                wanted = field_filter(selection)
                self._encoded[key] = [
                    json.dumps(self.corpus.issue(i, version, wanted)).encode()
                    for i in range(self.n_issues)
                ]
            return self._encoded[key]

    # --- answers: (status, body) ------------------------------------------------------------

    def search(self, version: str, args: dict[str, Any]) -> tuple[int, Any]:
        jql = str(args.get("jql") or "")
        if not jql:
            return 400, {"errorMessages": ["Unbounded JQL queries are not allowed here."]}
        start = 0
        if token := args.get("nextPageToken"):
            start, bound = _untoken(str(token))
            if bound != zlib.crc32(jql.encode()):
                return 400, {"errorMessages": ["The nextPageToken is not valid for this JQL."]}
        size = max(1, min(int(args.get("maxResults") or DEFAULT_PAGE), PAGE_CAP))
        issues = self.encoded(version, args.get("fields") or [])[start : start + size]
        end = start + len(issues)
        tail: dict[str, Any] = {"isLast": end >= self.n_issues}
        if end < self.n_issues:
            tail["nextPageToken"] = _token(end, zlib.crc32(jql.encode()))
        return 200, RawIssues(issues, tail)

    def changelog(self, version: str, key: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        i = self.corpus.index(key)
        if i is None:
            return 404, {"errorMessages": ["Issue does not exist or you do not have permission"]}
        start = int(query.get("startAt", ["0"])[0])
        size = max(1, min(int(query.get("maxResults", [str(CHANGELOG_CAP)])[0]), CHANGELOG_CAP))
        values = self.corpus.changelog(i)
        page = values[start : start + size]
        url = f"{self.corpus.base}/rest/api/{version}/issue/{10001 + i}/changelog"
        body: dict[str, Any] = {
            "self": f"{url}?startAt={start}&maxResults={size}",
            "maxResults": size,
            "startAt": start,
            "total": len(values),
            "isLast": start + len(page) >= len(values),
            "values": page,
        }
        if not body["isLast"]:
            body["nextPage"] = f"{url}?startAt={start + len(page)}&maxResults={size}"
        return 200, body

    def bulk_changelog(self, args: dict[str, Any]) -> tuple[int, Any]:
        if not self.bulk_changelogs:
            return 404, {"errorMessages": ["Not Found"]}
        ids, fields = args.get("issueIdsOrKeys"), args.get("fieldIds") or []
        size = args.get("maxResults", BULK_DEFAULT)
        if not isinstance(ids, list) or not 1 <= len(ids) <= BULK_ISSUES_CAP:
            return 400, {"errorMessages": [f"Name 1 to {BULK_ISSUES_CAP} issue ids or keys."]}
        if not isinstance(fields, list) or len(fields) > BULK_FIELDS_CAP:
            return 400, {"errorMessages": [f"Filter by at most {BULK_FIELDS_CAP} field ids."]}
        if not isinstance(size, int) or not 1 <= size <= BULK_CAP:
            return 400, {"errorMessages": [f"maxResults must be 1 to {BULK_CAP}."]}
        bound = zlib.crc32(json.dumps([ids, sorted(fields)]).encode())
        start = 0
        if token := args.get("nextPageToken"):
            start, token_bound = _untoken(str(token))
            if token_bound != bound:
                return 400, {"errorMessages": ["The nextPageToken is not valid for this request."]}
        found = {i for i in map(self.corpus.index, map(str, ids)) if i is not None}
        entries: list[tuple[int, dict[str, Any]]] = []
        for i in sorted(found):
            for entry in self.corpus.changelog(i, epoch=True):
                items = [it for it in entry["items"] if not fields or it["fieldId"] in fields]
                if items:
                    entries.append((10001 + i, entry | {"items": items}))
        entries.sort(key=lambda pair: (pair[1]["created"], pair[0]))
        groups: dict[str, list[dict[str, Any]]] = {}
        for issue_id, entry in entries[start : start + size]:
            groups.setdefault(str(issue_id), []).append(entry)
        end = start + size
        return 200, {
            "issueChangeLogs": [
                {"issueId": issue_id, "changeHistories": histories}
                for issue_id, histories in groups.items()
            ],
            "nextPageToken": _token(end, bound) if end < len(entries) else None,
        }

    def statuses(self) -> list[dict[str, Any]]:
        return [self.corpus.status(s[0]) for s in STATUSES]

    def myself(self) -> dict[str, Any]:
        account = "5b10a2844c20165700ede99z"
        return {
            "self": f"{self.corpus.base}/rest/api/3/user?accountId={account}",
            "accountId": account,
            "displayName": "skillrelay",
            "active": True,
            "timeZone": TIME_ZONE,
            "accountType": "atlassian",
            "emailAddress": "bot@example.com",
            "locale": "en_US",
        }

    def server_info(self) -> dict[str, Any]:
        return {
            "baseUrl": self.corpus.base,
            "deploymentType": "Cloud",
            "serverTitle": "Jira",
            "version": "1001.0.0-SNAPSHOT",
            "versionNumbers": [1001, 0, 0],
            "buildNumber": 100290,
            "serverTime": jira_time(self.now),
        }

    def fields(self) -> list[dict[str, Any]]:
        clauses = {"updated": ["updated", "updatedDate"], "created": ["created", "createdDate"]}
        return [
            {
                "id": name,
                "key": name,
                "name": name,
                "custom": name.startswith("customfield_"),
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": clauses.get(name, [name]),
            }
            for name in ALL_FIELDS
        ]


@dataclass(frozen=True)
class RawIssues:
    """A search page whose issues are already encoded."""

    issues: list[bytes]
    tail: dict[str, Any]

    def encode(self) -> bytes:
        rest = json.dumps(self.tail).encode()
        return b'{"issues":[' + b",".join(self.issues) + b"]," + rest[1:]


def _token(offset: int, bound: int) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{bound}".encode()).decode()


def _untoken(token: str) -> tuple[int, int]:
    try:
        offset, bound = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        return int(offset), int(bound)
    except ValueError:
        return 0, -1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a client's session expects
    disable_nagle_algorithm = True  # else headers and body wait on the client's delayed ACK
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: a sync is thousands of requests

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        if self.server.fake.latency:
            time.sleep(self.server.fake.latency)
        started = time.thread_time()
        length = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(length) if length else b""
        route, status, body, jql = self._route(method, payload)
        data = body.encode() if isinstance(body, RawIssues) else json.dumps(body).encode()
        # counted before the client can read the answer, so a reset after it returns is exact
        self.server.fake.record(route, len(data), time.thread_time() - started, jql)
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str, payload: bytes) -> tuple[str, int, Any, str | None]:
        fake = self.server.fake
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        parts = url.path.strip("/").split("/")
        if parts[:2] != ["rest", "api"] or len(parts) < 4 or parts[2] not in ("2", "3"):
            return f"{method} (other)", 404, {"errorMessages": ["Not found"]}, None
        version, rest = parts[2], parts[3:]
        prefix = f"{method} /rest/api/{version}/"
        if "Basic " not in (self.headers.get("Authorization") or ""):
            return prefix + "/".join(rest), 401, {"errorMessages": ["Unauthorized"]}, None
        if rest == ["search", "jql"] and method in ("GET", "POST"):
            args: dict[str, Any]
            if method == "POST":
                args = json.loads(payload or b"{}")
            else:
                args = {k: v[-1] for k, v in query.items()} | {"fields": query.get("fields")}
            status, body = fake.search(version, args)
            return prefix + "search/jql", status, body, str(args.get("jql") or "")
        if rest == ["changelog", "bulkfetch"] and method == "POST":
            status, body = fake.bulk_changelog(json.loads(payload or b"{}"))
            return prefix + "changelog/bulkfetch", status, body, None
        if len(rest) == 3 and rest[0] == "issue" and rest[2] == "changelog" and method == "GET":
            status, body = fake.changelog(version, rest[1], query)
            return prefix + "issue/{key}/changelog", status, body, None
        simple: dict[str, Callable[[], Any]] = {
            "status": fake.statuses,
            "myself": fake.myself,
            "serverInfo": fake.server_info,
            "field": fake.fields,
        }
        if len(rest) == 1 and rest[0] in simple and method == "GET":
            return prefix + rest[0], 200, simple[rest[0]](), None
        if rest == ["search"]:
            gone = {"errorMessages": [SEARCH_GONE], "errors": {}}
            return prefix + "search", 410, gone, None
        return prefix + "/".join(rest), 404, {"errorMessages": ["Not found"]}, None


class Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeJira


@contextmanager
def serve(n_issues: int, now: datetime) -> Iterator[tuple[str, FakeJira]]:
    """Start the fake on a free port; yield its base URL and state; stop it on exit."""
    server = Server(("127.0.0.1", 0), Handler)
    host, port = server.server_address[:2]
    url = f"http://{host!s}:{port}"
    fake = server.fake = FakeJira(n_issues, now, url)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield url, fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
