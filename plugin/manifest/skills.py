"""Skills, the micro-modules that teach them, and how a Jira ticket shows them."""

from __future__ import annotations

import re
from typing import Annotated, Self

from pydantic import Field, StrictInt, StringConstraints, model_validator

from plugin.manifest.base import Id, Iri, Loc, Problems, Strict, Text

# Moodle's Logstore xAPI names a course module <wwwroot>/mod/<modname>/view.php?id=<cmid>.
MOODLE_ACTIVITY = re.compile(r"/mod/[a-z0-9_]+/view\.php\?id=([0-9]+)$")

Label = Annotated[str, StringConstraints(pattern=r"^\S+$")]  # Jira labels have no spaces


class Module(Strict):
    """A 5-60 minute learning module, found by its Moodle cmid and/or its xAPI activity IRI."""

    id: Id
    title: Text
    minutes: Annotated[StrictInt, Field(ge=5, le=60)]
    moodle_cmid: Annotated[StrictInt, Field(ge=1)] | None = None
    # The Moodle course the cmid lives in; when absent, each sync asks Moodle for it
    # (core_course_get_course_module, one call per such module).
    moodle_course: Annotated[StrictInt, Field(ge=1)] | None = None
    xapi_activity: Iri | None = None

    @model_validator(mode="after")
    def _has_a_key(self) -> Self:
        problems: list[tuple[Loc, str]] = []
        if self.moodle_cmid is None and self.xapi_activity is None:
            problems.append(((), "a module needs moodle_cmid, xapi_activity or both"))
        if self.moodle_course is not None and self.moodle_cmid is None:
            problems.append((("moodle_course",), "moodle_course needs moodle_cmid"))
        elif self.moodle_cmid is not None and self.xapi_activity is not None:
            found = MOODLE_ACTIVITY.search(self.xapi_activity)
            if found and int(found.group(1)) != self.moodle_cmid:
                problems.append(
                    (
                        ("xapi_activity",),
                        f"activity id={found.group(1)} does not match "
                        f"moodle_cmid {self.moodle_cmid}",
                    )
                )
        if problems:
            raise Problems(problems)
        return self

    @property
    def keys(self) -> tuple[str, ...]:
        """The module keys completions carry (see plugin.domain.Completion.module)."""
        found: list[str] = []
        if self.moodle_cmid is not None:
            found.append(f"moodle:cm:{self.moodle_cmid}")
        if self.xapi_activity is not None:
            found.append(self.xapi_activity)
        return tuple(found)


class TicketMatch(Strict):
    """A ticket shows the skill if it has any of the labels, any of the components or the
    custom field value; `jql` narrows that further (alone, it selects the tickets itself)."""

    labels: tuple[Label, ...] = ()
    components: tuple[Text, ...] = ()
    custom_field_value: Text | None = None
    jql: Text | None = None

    @model_validator(mode="after")
    def _has_a_matcher(self) -> Self:
        if not (self.labels or self.components or self.custom_field_value or self.jql):
            raise Problems(
                [((), "needs at least one of labels, components, custom_field_value, jql")]
            )
        if self.jql is not None:
            # Imported here: the engine imports the manifest models at module level.
            from plugin.engine.jql import check_jql

            problem = check_jql(self.jql)
            if problem is not None:
                raise Problems([(("jql",), problem)])
        return self


class Skill(Strict):
    id: Id
    name: Text
    description: Text | None = None
    modules: tuple[Module, ...] = Field(min_length=1)
    tickets: TicketMatch
    experts: tuple[Id, ...] = ()
    reward: Id
    cooldown_days: Annotated[StrictInt, Field(ge=0)] | None = None  # overrides rules.cooldown_days
