"""Completion statements shaped exactly as Moodle's Logstore xAPI plugin emits them.

The demo writes these into a real local LRS, as a company's Moodle would, and skillrelay
then reads them back like any other LRS content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.xapi import statement_id
from plugin.manifest import Manifest

COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
UNCOMPLETED = "https://xapi.edlm/profiles/edlm-lms/concepts/verbs/uncompleted"
VIEWED = "http://id.tincanapi.com/verb/viewed"  # Logstore's course_module_viewed
MODULE_TYPE = "http://id.tincanapi.com/activitytype/lms/module"
COURSE_TYPE = "https://w3id.org/xapi/cmi5/activitytype/course"
LMS_TYPE = "http://id.tincanapi.com/activitytype/lms"


@dataclass(frozen=True)
class Step:
    """One learner event in the demo story: who, which module, what happened, when."""

    person: str
    module: str  # module id in the manifest
    outcome: str  # "complete" | "pass" | "fail" | "uncomplete" | "view"
    at: datetime


def logstore_statement(manifest: Manifest, step: Step) -> dict[str, Any]:
    moodle = manifest.moodle
    home = moodle.url if moodle else "https://lms.example"
    person = manifest.people_by_id[step.person]
    skill, module = next((s, m) for s in manifest.skills for m in s.modules if m.id == step.module)
    activity = module.xapi_activity or f"{home}/mod/page/view.php?id={module.moodle_cmid}"
    result: dict[str, Any] = {"completion": step.outcome != "uncomplete"}
    if step.outcome in ("pass", "fail"):
        result["success"] = step.outcome == "pass"
    verb = {"uncomplete": UNCOMPLETED, "view": VIEWED}.get(step.outcome, COMPLETED)
    course = module.moodle_course or 1
    statement: dict[str, Any] = {
        "id": statement_id(
            f"demo:{step.person}:{step.module}:{step.outcome}:{step.at.isoformat()}"
        ),
        "actor": {
            "objectType": "Agent",
            "name": person.name,
            "account": {"homePage": home, "name": str(person.moodle_user_id or person.id)},
        },
        "verb": {"id": verb, "display": {"en": verb.rsplit("/", 1)[-1]}},
        "object": {
            "id": activity,
            "objectType": "Activity",
            "definition": {"type": MODULE_TYPE, "name": {"en": module.title}},
        },
        "timestamp": step.at.isoformat(),
        "context": {
            "platform": "Moodle",
            "language": "en",
            "contextActivities": {
                "parent": [
                    {
                        "id": f"{home}/course/view.php?id={course}",
                        "objectType": "Activity",
                        "definition": {"type": COURSE_TYPE, "name": {"en": skill.name}},
                    }
                ],
                "category": [
                    {
                        "id": home,
                        "objectType": "Activity",
                        "definition": {"type": LMS_TYPE, "name": {"en": "Moodle"}},
                    }
                ],
            },
        },
    }
    if step.outcome not in ("uncomplete", "view"):
        statement["result"] = result
    return statement
