"""People, how each system names them, and the teams they work in."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, StrictBool, StrictInt, model_validator

from plugin.manifest.base import Email, Id, Iri, Mbox, Problems, Strict, Text
from plugin.manifest.schedule import check_timezone


class XapiAccount(Strict):
    """An xAPI actor account; Moodle's Logstore emits {homePage: <moodle url>, name: <user id>}."""

    home_page: Iri
    name: Text


class Person(Strict):
    """One person. The optional ids override matching by email for a system that hides emails."""

    id: Id
    name: Text
    email: Email
    jira_account_id: Text | None = None
    moodle_user_id: StrictInt | None = Field(default=None, ge=1)
    xapi_account: XapiAccount | None = None
    xapi_mbox: Mbox | None = None
    # For messages: quiet hours in their own zone (default the organisation's), their language.
    timezone: Annotated[str, AfterValidator(check_timezone)] | None = None
    locale: Literal["en", "ru"] | None = None

    @model_validator(mode="after")
    def _one_xapi_identity(self) -> Self:
        # An xAPI actor has exactly one identifier; two overrides would be ambiguous.
        if self.xapi_account is not None and self.xapi_mbox is not None:
            raise Problems([(("xapi_mbox",), "set xapi_account or xapi_mbox, not both")])
        return self


class Identities(Strict):
    # Match a Jira account, a Moodle user and an xAPI actor as one person by email where visible.
    match_by_email: StrictBool = True
    people: tuple[Person, ...] = ()


class Team(Strict):
    id: Id
    name: Text
    managers: tuple[Id, ...] = ()
    members: tuple[Id, ...] = Field(min_length=1)
