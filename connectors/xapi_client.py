"""The LRS Statement resource: read pages of statements, send statements in batches.

Built on the shared HTTP policy (`connectors.http`): retries of 429/5xx/connection errors,
Retry-After, time-outs, links only to the configured host. Every request carries
`X-Experience-API-Version` (1.0.3 by default, or 2.0.0). Bodies and credentials are never
logged, and errors carry no bodies.

Reading (`LrsClient.statements`) asks for `ascending=true` so a cursor saved after any page
never skips an older one, follows `more` (relative to the LRS root: `/xAPI/statements?...`)
with `paging.NextLink`, and yields one `StatementPage` per response. A statement id is
yielded at most once per call. A statement that does not parse goes to the page's `errors`.
Pages are decoded with msgspec, each statement straight from its JSON text into a
`StatementStruct` (`xapi_models.read_statement_json`, else `read_statement`): it accepts and
refuses what the pydantic models do. A page's `raw` keeps each statement's text as received
(`JsonText`); a page msgspec cannot read (NaN, another charset...) is decoded as a whole and
keeps the decoded objects.

Writing (`LrsClient.send_statements`): every statement must carry its id (use
`statement_id(natural_key)`), so a resend is a no-op. 200 (stored) and 204 (all of them
were already stored: Ralph) are success. A 409 refuses the batch because the LRS holds a
statement under one of its ids: the batch is split down to the refused statements, and each
one is fetched by id and compared with ours (`same_statement`: the fields an LRS adds and
the timestamp's notation aside). The same statement is success (the spec lets an LRS answer
409 to a repeat; Ralph does when only the timestamp is written differently). A different
one is a conflict: every other statement is still sent, and `StatementConflict` is raised
at the end listing `conflicts` and `accepted` (stored now or before). 401/403 raise
`AuthError`, other 4xx `FatalError`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import requests
from pydantic import ValidationError

from connectors.http import HttpClient, RetryPolicy
from connectors.paging import NextLink
from connectors.xapi_models import StatementStruct, as_utc, read_statement, read_statement_json
from connectors.xapi_statements import same_statement
from plugin.errors import FatalError
from plugin.logs import register_secret
from plugin.store.models import JsonText

log = logging.getLogger("skillrelay.xapi")

SERVICE = "xapi"
XAPI_VERSIONS = ("1.0.3", "2.0.0")
VERSION_HEADER = "X-Experience-API-Version"
CONSISTENT_THROUGH_HEADER = "X-Experience-API-Consistent-Through"


@dataclass(frozen=True)
class StatementPage:
    """One GET /statements response, parsed.

    `raw[i]` is the payload `statements[i]` was read from. `fetched` counts every item in
    the response; `duplicates` those skipped because this call already yielded their id.
    """

    statements: tuple[StatementStruct, ...]
    raw: tuple[Mapping[str, Any] | JsonText, ...]  # JsonText: the statement as received
    errors: tuple[str, ...]
    fetched: int
    duplicates: int
    consistent_through: datetime | None


class StatementConflict(FatalError):
    """The LRS holds different statements under some of our ids (HTTP 409).

    `conflicts`: the ids refused. `accepted`: every other id sent, now stored.
    """

    def __init__(self, conflicts: Sequence[str], accepted: Sequence[str]) -> None:
        super().__init__(
            SERVICE,
            f"{len(conflicts)} statement id(s) already stored with different content",
            409,
        )
        self.conflicts = tuple(conflicts)
        self.accepted = tuple(accepted)


class BearerAuth(requests.auth.AuthBase):
    """`Authorization: Bearer <token>` (an OIDC access token, for example)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(***)"


def iso(value: datetime) -> str:
    """An xAPI query timestamp: UTC with an explicit offset (Ralph fails on naive ones)."""
    return as_utc(value).isoformat()


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        return None


class LrsClient:
    """A client of one LRS's Statement resource. `endpoint` is the xAPI base, e.g. `.../xAPI/`.

    `auth` is a (username, password) pair for Basic auth or a bearer token string. The
    session, sleep and clock are injectable; the session is not modified (the version
    header and credentials go on each request).
    """

    def __init__(
        self,
        endpoint: str,
        *,
        auth: tuple[str, str] | str | None = None,
        version: str = "1.0.3",
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        policy: RetryPolicy | None = None,
        batch_size: int = 100,
    ) -> None:
        if version not in XAPI_VERSIONS:
            raise ValueError(f"xAPI version must be one of {', '.join(XAPI_VERSIONS)}")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.version = version
        self.batch_size = batch_size
        self.http = HttpClient(
            SERVICE, endpoint, session=session, policy=policy, sleep=sleep, clock=clock
        )
        self._auth: requests.auth.AuthBase | tuple[str, str] | None
        if isinstance(auth, str):
            register_secret(auth)
            self._auth = BearerAuth(auth)
        else:
            if auth is not None:
                register_secret(auth[1])
            self._auth = auth

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {VERSION_HEADER: self.version, "Accept": "application/json"}
        return self.http.request(method, path, headers=headers, auth=self._auth, **kwargs)

    # -- reading ------------------------------------------------------------------------

    def statements(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        verb: str | None = None,
        activity: str | None = None,
        limit: int | None = None,
        ascending: bool = True,
    ) -> Iterator[StatementPage]:
        """Pages of statements matching the filters, following `more` to the end."""
        params: dict[str, str] = {}
        if since is not None:
            params["since"] = iso(since)
        if until is not None:
            params["until"] = iso(until)
        if verb:
            params["verb"] = verb
        if activity:
            params["activity"] = activity
        if limit is not None:
            params["limit"] = str(limit)
        if ascending:
            params["ascending"] = "true"
        query: dict[str, str] | None = params
        pager = NextLink(SERVICE)
        seen: set[str] = set()
        path = "statements"
        while True:
            response = self._call("GET", path, params=query)
            result = _statement_result(response)
            if result is not None:  # the usual page: statements kept as the bytes received
                yield read_texts(result.statements, seen, response.headers)
                link = pager.next({"more": result.more})
            else:
                body = _page_json(response)
                if not isinstance(body, dict) or not isinstance(body.get("statements"), list):
                    raise FatalError(SERVICE, "unexpected response: not a StatementResult")
                yield read_page(body["statements"], seen, response.headers)
                link = pager.next(body)
            if link is None:
                return
            path, query = link, None  # the link carries the query

    def get_statement(self, statement_id: str) -> Mapping[str, Any] | None:
        """One statement by id, voided or not; None when the LRS does not have it.

        Asks `statementId`, then `voidedStatementId` (a voided statement is only returned
        by the latter). Only a statement with the asked id is returned: Ralph answers both
        with a StatementResult, and ignores `voidedStatementId` altogether.
        """
        for parameter in ("statementId", "voidedStatementId"):
            response = self._call("GET", "statements", params={parameter: statement_id}, ok=(404,))
            if response.status_code == 404:
                continue
            found = _find(_json(response), statement_id)
            if found is not None:
                return found
        return None

    # -- writing ------------------------------------------------------------------------

    def send_statements(self, statements: Sequence[Mapping[str, Any]]) -> list[str]:
        """Store statements (each with its `id`) in batches; return their ids, in order.

        Raises `StatementConflict` (after sending all the others) if the LRS holds
        different statements under some ids. Identical repeats in the input are sent once.
        """
        unique: dict[str, Mapping[str, Any]] = {}
        for statement in statements:
            sid = statement.get("id")
            if not isinstance(sid, str) or not sid:
                raise ValueError("every statement sent needs its id: use statement_id()")
            if sid in unique:
                if unique[sid] != statement:
                    raise ValueError(f"two different statements share the id {sid}")
                continue
            unique[sid] = statement
        items = list(unique.values())
        conflicts: list[str] = []
        for start in range(0, len(items), self.batch_size):
            conflicts += self._post(items[start : start + self.batch_size])
        ids = list(unique)
        log.info("%s: sent %d statements, %d conflicts", SERVICE, len(ids), len(conflicts))
        if conflicts:
            refused = set(conflicts)
            raise StatementConflict(conflicts, [sid for sid in ids if sid not in refused])
        return ids

    def _post(self, batch: list[Mapping[str, Any]]) -> list[str]:
        """POST one batch; on 409 split it to find the conflicting ids (returned)."""
        response = self._call("POST", "statements", json=batch, ok=(409,))
        if response.status_code != 409:
            return []
        if len(batch) == 1:
            return [] if self._holds(batch[0]) else [str(batch[0]["id"])]
        middle = len(batch) // 2
        return self._post(batch[:middle]) + self._post(batch[middle:])

    def _holds(self, statement: Mapping[str, Any]) -> bool:
        """Whether the LRS's statement under `statement`'s id is this very statement."""
        stored = self.get_statement(str(statement["id"]))
        same = stored is not None and same_statement(stored, statement)
        if same:
            log.info("%s: 409 for a statement already stored as sent: success", SERVICE)
        return same


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise FatalError(SERVICE, "response is not JSON", response.status_code) from None


_decode = msgspec.json.Decoder()


def _page_json(response: requests.Response) -> Any:
    """A page's body, decoded straight from its bytes (not via text). A charset other than
    UTF-8, or what msgspec refuses and `json` takes (NaN, a byte-order mark...), goes the
    way `_json` always went."""
    if (response.encoding or "utf-8").lower() in ("utf-8", "utf8"):
        try:
            return _decode.decode(response.content)
        except msgspec.DecodeError:
            pass
    return _json(response)


def _find(body: Any, statement_id: str) -> Mapping[str, Any] | None:
    candidates = (
        body.get("statements") if isinstance(body, dict) and "statements" in body else [body]
    )
    for item in candidates if isinstance(candidates, list) else []:
        if isinstance(item, dict) and item.get("id") == statement_id:
            return item
    return None


class _StatementResult(msgspec.Struct):
    statements: list[msgspec.Raw]
    more: str | None = None


_RESULT = msgspec.json.Decoder(_StatementResult)


def _statement_result(response: requests.Response) -> _StatementResult | None:
    """A StatementResult with each statement left as its JSON text; None for anything else
    (another charset, another shape, what msgspec refuses): `_page_json` then decides."""
    if (response.encoding or "utf-8").lower() not in ("utf-8", "utf8"):
        return None
    try:
        return _RESULT.decode(response.content)
    except msgspec.DecodeError:
        return None


class _PageReader:
    """Statements of one response, in order: each id once per call (`seen`), what does not
    parse to `errors`."""

    def __init__(self, seen: set[str]) -> None:
        self.seen = seen
        self.statements: list[StatementStruct] = []
        self.raw: list[Mapping[str, Any] | JsonText] = []
        self.errors: list[str] = []
        self.duplicates = 0

    def take(
        self,
        index: int,
        item: Any,
        payload: Mapping[str, Any] | JsonText,
        statement: StatementStruct | None = None,
    ) -> None:
        """`item`: the decoded statement (read here unless `statement` is given already)."""
        if statement is not None:
            sid: Any = statement.id
        else:
            sid = item.get("id") if isinstance(item, dict) else None
        label = sid if isinstance(sid, str) and sid else f"#{index} of the page"
        if isinstance(sid, str) and sid:
            if sid in self.seen:
                self.duplicates += 1
                return
            self.seen.add(sid)
        if statement is None:
            try:
                statement = read_statement(item)
            except ValidationError as exc:
                self.errors.append(f"statement {label}: {describe(exc)}")
                return
        self.statements.append(statement)
        self.raw.append(payload)

    def page(self, fetched: int, headers: Mapping[str, str]) -> StatementPage:
        return StatementPage(
            statements=tuple(self.statements),
            raw=tuple(self.raw),
            errors=tuple(self.errors),
            fetched=fetched,
            duplicates=self.duplicates,
            consistent_through=parse_time(headers.get(CONSISTENT_THROUGH_HEADER)),
        )


def read_page(items: list[Any], seen: set[str], headers: Mapping[str, str]) -> StatementPage:
    """Parse one response's decoded statements; skip ids in `seen` (and add the new ones)."""
    reader = _PageReader(seen)
    for index, item in enumerate(items):
        reader.take(index, item, item)
    return reader.page(len(items), headers)


def read_texts(
    items: Sequence[msgspec.Raw], seen: set[str], headers: Mapping[str, str]
) -> StatementPage:
    """As `read_page`, for statements given as their JSON text: each is read straight into
    a StatementStruct when msgspec can (`read_statement_json`), else decoded and read as
    `read_page` reads it; its `raw` is the text as received."""
    reader = _PageReader(seen)
    for index, item in enumerate(items):
        text = bytes(item)
        statement = read_statement_json(text)
        decoded = _decode.decode(text) if statement is None else None
        reader.take(index, decoded, JsonText(text.decode("utf-8")), statement)
    return reader.page(len(items), headers)


def describe(exc: ValidationError) -> str:
    """Where a payload is wrong, without echoing its values (they hold personal data)."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in error["loc"]) or "statement"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)[:500]
