"""Shared by every manifest model: the strict base class and checked string types."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from pydantic_core import PydanticCustomError

Loc = tuple[str | int, ...]

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
ENV_PATTERN = r"^[A-Z_][A-Z0-9_]*$"
URL_PATTERN = r"^https?://[^\s/?#]+[^\s?#]*$"
IRI_PATTERN = r"^(https?://[^\s/?#]+\S*|urn:\S+)$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
MBOX_PATTERN = r"^mailto:[^@\s]+@[^@\s]+\.[^@\s]+$"
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"

# What a pattern means, for error messages an admin can act on.
PATTERN_HELP = {
    ID_PATTERN: "ids use lowercase letters, digits, '.', '_' and '-', starting with a letter/digit",
    ENV_PATTERN: (
        "must be the NAME of an environment variable (A-Z, 0-9, _), not the secret itself; "
        "put the secret in an environment variable and name it here"
    ),
    URL_PATTERN: "must be an http(s) URL without query or fragment, e.g. https://example.atlassian.net",
    IRI_PATTERN: "must be an absolute IRI (https://... or urn:...)",
    EMAIL_PATTERN: "must be an email address",
    MBOX_PATTERN: "must be a mailto: IRI, e.g. mailto:ana@example.com",
    TIME_PATTERN: "must be a time of day as HH:MM (24-hour clock)",
}


class Strict(BaseModel):
    """Admin-written config: unknown keys are errors and loaded objects never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Problems(ValueError):
    """Several problems found by one validator, each with a path relative to the model.

    Pydantic wraps a validator's ValueError into a single error at the model's location;
    the loader unwraps this one so every problem keeps its own field path and YAML line.
    """

    def __init__(self, items: list[tuple[Loc, str]]) -> None:
        super().__init__("; ".join(message for _, message in items))
        self.items = items


def _not_a_secret(value: str) -> str:
    # An all-caps token with no underscore, long and with digits, is a secret, not a name.
    if "_" not in value and len(value) >= 20 and any(c.isdigit() for c in value):
        raise PydanticCustomError("inline_secret", PATTERN_HELP[ENV_PATTERN])
    return value


def _strip_slash(value: str) -> str:
    return value.rstrip("/")


Id = Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=64)]
EnvName = Annotated[str, StringConstraints(pattern=ENV_PATTERN), AfterValidator(_not_a_secret)]
Url = Annotated[str, StringConstraints(pattern=URL_PATTERN), AfterValidator(_strip_slash)]
Iri = Annotated[str, StringConstraints(pattern=IRI_PATTERN)]
Email = Annotated[str, StringConstraints(pattern=EMAIL_PATTERN)]
Mbox = Annotated[str, StringConstraints(pattern=MBOX_PATTERN)]
TimeOfDay = Annotated[str, StringConstraints(pattern=TIME_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
