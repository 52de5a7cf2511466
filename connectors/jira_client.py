"""Jira REST: Cloud v3 and Data Center v2 behind one client, typed answers, no business rules.

Plain `requests` through connectors.http rather than the `jira` library: one retry policy for
every connector (`jira` has its own 429/503 loop) and every request visible to our checks.

Cloud searches with `POST /rest/api/3/search/jql` (token pages). Data Center searches with
`GET /rest/api/2/search` (offset pages) and splits a time window whose `total` passes the
10,000-result search window. Changelogs: Cloud reads many issues' at once with
`POST /rest/api/3/changelog/bulkfetch` (token pages, filtered by field), or one issue's with
`GET /rest/api/3/issue/{key}/changelog` (offset pages); Data Center has neither, so
`GET /rest/api/2/issue/{key}?expand=changelog&fields=status`, which embeds the histories.
Cloud authenticates with basic email + API token, Data Center with `Authorization: Bearer
<PAT>`; both secrets are registered with the log redactor, and bodies are never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from pydantic import BaseModel, TypeAdapter, ValidationError

from connectors import jira_adf as adf
from connectors.http import HttpClient, RetryPolicy
from connectors.jira_jql import ceil_minute, floor_minute, split_window, updated_jql
from connectors.jira_models import (
    ISSUE_FIELDS,
    BulkChangelogPage,
    ChangeEntry,
    Deployment,
    JiraUser,
    ServerInfo,
    StatusDetails,
)
from connectors.paging import Offset, Token
from plugin.errors import AuthError, ConfigError, FatalError
from plugin.logs import register_secret

log = logging.getLogger("skillrelay.jira")

SERVICE = "jira"
DC_SEARCH_LIMIT = 10_000  # Data Center's search window (index max_result_window)
BULK_CHANGELOG_ISSUES = 1_000  # issues one bulk changelog request may name
BULK_CHANGELOG_FIELDS = 10  # fields it may filter by
BULK_PAGE_SIZE = 1_000  # entries a bulk changelog page asks for (the API's default; max 10,000)
SEARCH_REMOVED = (
    "{path} answered 410 Gone: Atlassian removed the old issue search from Jira Cloud "
    "(CHANGE-2046). skillrelay searches Cloud with POST /rest/api/3/search/jql; if this is "
    "a Cloud site (*.atlassian.net), set the Jira source's deployment to 'cloud'"
)
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
_STATUSES = TypeAdapter(list[StatusDetails])
_ENTRIES = TypeAdapter(list[ChangeEntry])


@dataclass(frozen=True)
class SearchPage:
    """One page of search results: the issues as Jira sent them, and the JQL that found them."""

    issues: tuple[Mapping[str, Any], ...]
    jql: str


@dataclass(frozen=True)
class Comment:
    """A comment's id and its text: ADF flattened to plain text (Cloud), wiki markup (DC)."""

    id: str
    text: str


class JiraClient(HttpClient):
    def __init__(
        self,
        base_url: str,
        deployment: Deployment = "cloud",
        *,
        email: str | None = None,
        token: str | None = None,
        pat: str | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        policy: RetryPolicy | None = None,
        jql_timezone: tzinfo | None = None,
        page_size: int = 100,
        bulk_page_size: int = BULK_PAGE_SIZE,
    ) -> None:
        if deployment == "cloud":
            if not (email and token):
                raise AuthError(SERVICE, "Jira Cloud needs the account email and an API token")
            headers = {"Accept": "application/json"}
            auth: Any = (email, token)
            register_secret(token)
        elif deployment == "datacenter":
            if not pat:
                raise AuthError(SERVICE, "Jira Data Center needs a personal access token")
            headers = {"Accept": "application/json", "Authorization": f"Bearer {pat}"}
            auth = None
            register_secret(pat)
        else:
            raise ConfigError(
                f"jira deployment must be 'cloud' or 'datacenter', not {deployment!r}"
            )
        super().__init__(
            SERVICE,
            base_url,
            session=session,
            policy=policy,
            sleep=sleep,
            clock=clock,
            headers=headers,
            auth=auth,
        )
        self.deployment: Deployment = deployment
        self.api = "rest/api/3/" if deployment == "cloud" else "rest/api/2/"
        self.page_size = page_size
        self.bulk_page_size = bulk_page_size  # changelog entries a bulk fetch page asks for
        self._tz = jql_timezone

    @property
    def site(self) -> str:
        """The base URL without its trailing slash (for browse links)."""
        return self.base_url.rstrip("/")

    # --- reads ------------------------------------------------------------------------------

    def server_info(self) -> ServerInfo:
        return self._model("serverInfo", ServerInfo, self._json("GET", "serverInfo"))

    def myself(self) -> JiraUser:
        return self._model("myself", JiraUser, self._json("GET", "myself"))

    def user(self, account_id: str) -> JiraUser:
        """A user's profile (Cloud: by account id; Data Center: by username)."""
        params = (
            {"accountId": account_id} if self.deployment == "cloud" else {"username": account_id}
        )
        return self._model("user", JiraUser, self._json("GET", "user", params=params))

    def status_categories(self) -> dict[str, str]:
        """Status id -> statusCategory.key (new | indeterminate | done) for every status."""
        statuses = self._adapt("status", _STATUSES, self._json("GET", "status"))
        return {s.id: s.category.key for s in statuses if s.category and s.category.key}

    def jql_timezone(self) -> tzinfo:
        """The zone JQL dates are read in: the searching user's profile zone (one lookup)."""
        if self._tz is None:
            name = self.myself().time_zone
            try:
                self._tz = ZoneInfo(name) if name else UTC
            except (ZoneInfoNotFoundError, ValueError):
                log.warning("jira: unknown user time zone %r; JQL dates taken as UTC", name)
                self._tz = UTC
        return self._tz

    def search_updated(
        self,
        since: datetime,
        *,
        until: datetime | None = None,
        projects: Sequence[str] = (),
        custom_fields: Sequence[str] = (),
    ) -> Iterator[SearchPage]:
        """Issues updated at or after `since` (and before `until`), oldest first, by page."""
        fields = [*ISSUE_FIELDS, *custom_fields]
        if self.deployment == "cloud":
            jql = updated_jql(since, until=until, projects=projects, tz=self.jql_timezone())
            yield from self._cloud_search(jql, fields)
        else:
            hi = ceil_minute(until or datetime.fromtimestamp(self.clock(), UTC))
            yield from self._dc_search(floor_minute(since), hi, projects, fields)

    def search_first(self, jql: str, fields: Sequence[str], limit: int) -> list[dict[str, Any]]:
        """The first `limit` issues of a JQL search (one request)."""
        if self.deployment == "cloud":
            body = {"jql": jql, "maxResults": limit, "fields": list(fields)}
            page = self._search("POST", "search/jql", json=body)
        else:
            params = {"jql": jql, "startAt": 0, "maxResults": limit, "fields": ",".join(fields)}
            page = self._search("GET", "search", params=params)
        return [i for i in page.get("issues") or () if isinstance(i, dict)][:limit]

    def changelog(self, issue: str) -> list[ChangeEntry]:
        """The issue's changelog entries, oldest first."""
        path = f"issue/{quote(issue, safe='')}"
        if self.deployment == "datacenter":
            expand = {"expand": "changelog", "fields": "status"}
            embedded = _object(self._json("GET", path, params=expand)).get("changelog") or {}
            histories = embedded.get("histories") or []
            if int(embedded.get("total") or 0) > len(histories):
                log.warning("jira: %s changelog truncated by the server", issue)
            return self._adapt("changelog", _ENTRIES, histories)
        entries: list[ChangeEntry] = []
        pager = Offset(SERVICE, "values")
        start: int | None = 0
        while start is not None:
            params = {"startAt": start, "maxResults": 100}
            page = _object(self._json("GET", f"{path}/changelog", params=params))
            values: list[ChangeEntry] = self._adapt("changelog", _ENTRIES, page.get("values") or [])
            entries.extend(values)
            start = pager.next(page)
        return entries

    def bulk_changelogs(
        self, issues: Sequence[str], *, fields: Sequence[str] = ("status",)
    ) -> dict[str, list[ChangeEntry]] | None:
        """Cloud: the changelog entries of many issues, by issue id, each list oldest first.

        `issues` are ids (the answer names issues by id). One request per 1,000 issues and
        per `nextPageToken`; only entries that touch one of `fields` come back (all entries
        when `fields` is empty), so an issue with none is absent. None when the site answers
        404 (a site without the bulk fetch): read `changelog()` issue by issue instead.
        """
        if self.deployment != "cloud":
            raise ValueError("the bulk changelog fetch is a Jira Cloud resource")
        if len(fields) > BULK_CHANGELOG_FIELDS:
            raise ValueError(f"a bulk changelog fetch filters by {BULK_CHANGELOG_FIELDS} fields")
        path = self.api + "changelog/bulkfetch"
        wanted = list(dict.fromkeys(issues))
        found: dict[str, list[ChangeEntry]] = {}
        for first in range(0, len(wanted), BULK_CHANGELOG_ISSUES):
            body: dict[str, Any] = {
                "issueIdsOrKeys": wanted[first : first + BULK_CHANGELOG_ISSUES],
                "maxResults": self.bulk_page_size,
            }
            if fields:
                body["fieldIds"] = list(dict.fromkeys(fields))
            pager = Token(SERVICE)
            while True:
                response = self.request("POST", path, json=body, ok=(404,))
                if response.status_code == 404:
                    return None
                data = _object(self._decode(response))
                page = self._model("changelog/bulkfetch", BulkChangelogPage, data)
                for issue in page.issues:
                    found.setdefault(issue.issue_id, []).extend(issue.histories)
                token = pager.next(data)
                if token is None:
                    break
                body["nextPageToken"] = token
        for entries in found.values():
            entries.sort(key=ChangeEntry.order)
        return found

    def get_property(self, issue: str, property_key: str) -> Any | None:
        """An issue property's value, or None when the issue has no such property (404)."""
        response = self.request("GET", self._property_path(issue, property_key), ok=(404,))
        if response.status_code == 404:
            return None
        return _object(self._decode(response)).get("value")

    def comments(self, issue: str) -> Iterator[Comment]:
        """The issue's comments, oldest first, fetched a page at a time as they are read."""
        path = f"issue/{quote(issue, safe='')}/comment"
        pager = Offset(SERVICE, "comments")
        start: int | None = 0
        while start is not None:
            params = {"startAt": start, "maxResults": 100}
            page = _object(self._json("GET", path, params=params))
            for item in page.get("comments") or []:
                if isinstance(item, dict):
                    body = item.get("body")
                    text = adf.to_plain_text(body) if isinstance(body, Mapping) else str(body or "")
                    yield Comment(str(item.get("id", "")), text)
            start = pager.next(page)

    # --- writes -----------------------------------------------------------------------------

    def add_comment(self, issue: str, content: str | Mapping[str, Any] | Sequence[adf.Node]) -> str:
        """Post a comment: ADF on Cloud v3, wiki markup on Data Center v2. Returns its id.

        `content` is plain text (blank lines split paragraphs, "- " lines are bullets), an
        ADF doc, or a sequence of ADF blocks built with connectors.jira_adf.
        """
        if isinstance(content, str):
            document = adf.from_text(content)
        elif isinstance(content, Mapping):
            document = dict(content)
        else:
            document = adf.doc(*content)
        body: Any = document if self.deployment == "cloud" else adf.to_wiki(document)
        path = f"{self.api}issue/{quote(issue, safe='')}/comment"
        created = _object(self._decode(self.request("POST", path, json={"body": body})))
        return str(created.get("id", ""))

    def add_label(self, issue: str, label: str) -> None:
        self._edit_label(issue, "add", label)

    def remove_label(self, issue: str, label: str) -> None:
        """Take a label off; Jira answers 204 whether or not the issue had it."""
        self._edit_label(issue, "remove", label)

    def _edit_label(self, issue: str, verb: str, label: str) -> None:
        if not label or any(ch.isspace() for ch in label):
            raise ValueError(f"a Jira label cannot be empty or contain spaces: {label!r}")
        path = f"{self.api}issue/{quote(issue, safe='')}"
        self.request("PUT", path, json={"update": {"labels": [{verb: label}]}})

    def set_property(self, issue: str, property_key: str, value: Any) -> None:
        self.request("PUT", self._property_path(issue, property_key), json=value)

    # --- internals --------------------------------------------------------------------------

    def _cloud_search(self, jql: str, fields: list[str]) -> Iterator[SearchPage]:
        pager = Token(SERVICE)
        token: str | None = None
        while True:
            body: dict[str, Any] = {"jql": jql, "maxResults": self.page_size, "fields": fields}
            if token:
                body["nextPageToken"] = token
            page = self._search("POST", "search/jql", json=body)
            yield SearchPage(tuple(page.get("issues") or ()), jql)
            token = pager.next(page)
            if token is None:
                return

    def _dc_search(
        self, lo: datetime, hi: datetime, projects: Sequence[str], fields: list[str]
    ) -> Iterator[SearchPage]:
        windows = [(lo, hi)]
        while windows:
            lo, hi = windows.pop()
            jql = updated_jql(lo, until=hi, projects=projects, tz=self.jql_timezone())
            page = self._dc_page(jql, fields, 0)
            if int(page.get("total") or 0) > DC_SEARCH_LIMIT:
                mid = split_window(lo, hi)
                if mid is None:
                    raise FatalError(
                        SERVICE,
                        f"more than {DC_SEARCH_LIMIT} issues were updated in one minute "
                        f"({lo.isoformat()}); narrow the Jira source's projects",
                    )
                windows += [(mid, hi), (lo, mid)]  # the earlier half is searched first
                continue
            pager = Offset(SERVICE, "issues")
            while True:
                yield SearchPage(tuple(page.get("issues") or ()), jql)
                start = pager.next(page)
                if start is None:
                    break
                page = self._dc_page(jql, fields, start)

    def _dc_page(self, jql: str, fields: list[str], start: int) -> dict[str, Any]:
        params = {"jql": jql, "startAt": start, "maxResults": self.page_size}
        return self._search("GET", "search", params={**params, "fields": ",".join(fields)})

    def _search(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return _object(self._json(method, path, **kwargs))
        except AuthError:
            raise
        except FatalError as exc:
            if exc.status == 410:
                raise FatalError(
                    SERVICE, SEARCH_REMOVED.format(path=self.api + path), 410
                ) from None
            if exc.status == 400:
                raise FatalError(
                    SERVICE,
                    "Jira rejected the search query; check the project keys and the skill "
                    "field named in the manifest",
                    400,
                ) from None
            raise

    def _property_path(self, issue: str, property_key: str) -> str:
        return f"{self.api}issue/{quote(issue, safe='')}/properties/{quote(property_key, safe='')}"

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._decode(self.request(method, self.api + path, **kwargs))

    def _decode(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise FatalError(SERVICE, "expected a JSON answer", response.status_code) from None

    def _model(self, what: str, model: type[M], data: Any) -> M:
        try:
            return model.model_validate(data)
        except ValidationError:
            raise FatalError(SERVICE, f"unexpected answer shape from {what}") from None

    def _adapt(self, what: str, adapter: TypeAdapter[T], data: Any) -> T:
        try:
            return adapter.validate_python(data)
        except ValidationError:
            raise FatalError(SERVICE, f"unexpected answer shape from {what}") from None


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise FatalError(SERVICE, "expected a JSON object in the answer")
    return data
