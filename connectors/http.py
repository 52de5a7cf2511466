"""The one HTTP policy every connector uses: time-outs, retries, response classes, safe links.

Retries come from tenacity (retry 429, 5xx and connection errors; honour Retry-After in both
its forms; otherwise capped exponential backoff with jitter). Sleep and clock are injectable so
tests never sleep. Bodies are never logged: they carry learners' personal data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import tenacity

from plugin.errors import AuthError, FatalError, RetriableError
from plugin.logs import redact

log = logging.getLogger("skillrelay.http")

RETRIABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
AUTH_STATUSES = frozenset({401, 403})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # total tries, the first included
    backoff_base: float = 0.5  # seconds before the first retry
    backoff_cap: float = 30.0  # no single wait is longer
    max_retry_after: float = 300.0  # a longer Retry-After ends the call as retriable instead
    timeout: tuple[float, float] = (5.0, 30.0)  # connect, read


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


def classify(service: str, response: requests.Response, now: float) -> None:
    """Raise the right error class for a failed response; return quietly for a success."""
    status = response.status_code
    if status < 300:
        return
    if status < 400:
        where = urlsplit(response.headers.get("Location", "")).netloc or "elsewhere"
        raise FatalError(
            service, f"unexpected redirect to {where}; check the configured URL", status
        )
    reason = response.reason or "error"
    if status in AUTH_STATUSES:
        raise AuthError(service, f"{reason}: check the credentials and permissions", status)
    if status in RETRIABLE_STATUSES or status >= 500:
        wait = parse_retry_after(response.headers.get("Retry-After"), now)
        raise RetriableError(service, reason, status, retry_after=wait)
    raise FatalError(service, reason, status)


class HttpClient:
    """A requests.Session bound to one service's base URL, with the shared policy applied."""

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        session: requests.Session | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
    ) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/") + "/"
        self.session = session or requests.Session()
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.clock = clock
        # Kept on the client, not the session: an injected session may be shared by connectors.
        self.headers = dict(headers or {})
        self.auth = auth
        base = urlsplit(self.base_url)
        self._origin = (base.scheme, base.netloc)

    def url(self, path_or_link: str) -> str:
        """Resolve a path or a server-given link; refuse links to any other host."""
        url = urljoin(self.base_url, path_or_link)
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != self._origin:
            raise FatalError(
                self.service, f"refusing to follow a link to another host: {parts.netloc}"
            )
        return url

    def request(
        self,
        method: str,
        path: str,
        *,
        ok: Iterable[int] = (),
        classify_body: Callable[[requests.Response], None] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send with retries. `ok` lists extra statuses that are not errors (e.g. 409 to report).

        `classify_body` lets a connector raise for errors a service hides in a 200 (Moodle).
        """
        url = self.url(path)
        accepted = frozenset(ok)
        kwargs.setdefault("timeout", self.policy.timeout)
        # A redirect could lead to another host with our credentials: treat 3xx as an answer.
        kwargs.setdefault("allow_redirects", False)
        if self.headers:
            kwargs["headers"] = {**self.headers, **(kwargs.get("headers") or {})}
        if self.auth is not None:
            kwargs.setdefault("auth", self.auth)

        def once() -> requests.Response:
            started = self.clock()
            try:
                response = self.session.request(method, url, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                log.info("%s %s %s -> %s", self.service, method, redact(url), type(exc).__name__)
                raise RetriableError(
                    self.service, f"connection failed: {type(exc).__name__}"
                ) from None
            log.debug(
                "%s %s %s -> %s in %.0f ms",
                self.service,
                method,
                redact(url),
                response.status_code,
                (self.clock() - started) * 1000,
            )
            if response.status_code not in accepted:
                classify(self.service, response, self.clock())
            if classify_body is not None:
                classify_body(response)
            return response

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(self._should_retry),
            stop=tenacity.stop_after_attempt(self.policy.attempts),
            wait=self._wait,
            sleep=self.sleep,
            reraise=True,
        )
        result: requests.Response = retrying(once)
        return result

    def _should_retry(self, exc: BaseException) -> bool:
        if not isinstance(exc, RetriableError):
            return False
        # A server asking for a longer pause than we allow: give up now, retry on a later run.
        return exc.retry_after is None or exc.retry_after <= self.policy.max_retry_after

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetriableError) and exc.retry_after is not None:
            return exc.retry_after
        backoff = tenacity.wait_exponential_jitter(
            multiplier=self.policy.backoff_base,
            max=self.policy.backoff_cap,
            jitter=self.policy.backoff_base,
        )
        return float(backoff(state))
