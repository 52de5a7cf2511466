"""The one error hierarchy, split by what the caller should do.

Errors carry a status and the service name, never response bodies (they hold personal data).
A duplicate event is a normal return value, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass


class SkillrelayError(Exception):
    """Base of every error skillrelay raises on purpose."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong in an admin-written file: where it is and what is wrong."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ConfigError(SkillrelayError):
    """Bad manifest, settings or command-line input: exit 2, one line per problem."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(file="", line=None, field="", message=problems)]
        self.problems = problems
        super().__init__("\n".join(str(p).removeprefix(": ") for p in problems))


class StoreError(SkillrelayError):
    """The database could not be reached or is not at the expected schema."""


class ConnectorError(SkillrelayError):
    """A call to Jira, Moodle or the LRS failed."""

    def __init__(self, service: str, message: str, status: int | None = None) -> None:
        self.service = service
        self.status = status
        code = f" (HTTP {status})" if status is not None else ""
        super().__init__(f"{service}{code}: {message}")


class RetriableError(ConnectorError):
    """Worth trying again later: 429, 5xx, connection errors, time-outs."""

    def __init__(
        self,
        service: str,
        message: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(service, message, status)
        self.retry_after = retry_after


class FatalError(ConnectorError):
    """Trying again will not help until someone changes something."""


class AuthError(FatalError):
    """Credentials missing, wrong or lacking a permission."""


class WebhookError(SkillrelayError):
    """A request to one of our endpoints is refused; maps to a JSON 4xx."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class SignatureError(WebhookError):
    status = 401
    code = "unauthorized"


class PayloadError(WebhookError):
    status = 400
    code = "bad_payload"
