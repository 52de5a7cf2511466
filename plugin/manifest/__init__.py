"""The admin manifest: models, the YAML loader with file:line errors, and the JSON Schema."""

from plugin.manifest.loader import load_manifest
from plugin.manifest.model import Manifest, Organisation
from plugin.manifest.notifications import (
    Channel,
    JiraCommentChannel,
    LrsStatementChannel,
    MoodleMessageChannel,
    NotificationBudget,
    Notifications,
    QuietHours,
)
from plugin.manifest.people import Identities, Person, Team, XapiAccount
from plugin.manifest.rewards import Reward, RewardBudget, RewardKind
from plugin.manifest.schedule import Rules, Sprint
from plugin.manifest.schema import manifest_json_schema, schema_text
from plugin.manifest.skills import Module, Skill, TicketMatch
from plugin.manifest.sources import (
    JiraBasicAuth,
    JiraBearerAuth,
    JiraSource,
    MoodleSource,
    Source,
    XapiBasicAuth,
    XapiBearerAuth,
    XapiSource,
)

__all__ = [
    "Channel",
    "Identities",
    "JiraBasicAuth",
    "JiraBearerAuth",
    "JiraCommentChannel",
    "JiraSource",
    "LrsStatementChannel",
    "Manifest",
    "Module",
    "MoodleMessageChannel",
    "MoodleSource",
    "NotificationBudget",
    "Notifications",
    "Organisation",
    "Person",
    "QuietHours",
    "Reward",
    "RewardBudget",
    "RewardKind",
    "Rules",
    "Skill",
    "Source",
    "Sprint",
    "Team",
    "TicketMatch",
    "XapiAccount",
    "XapiBasicAuth",
    "XapiBearerAuth",
    "XapiSource",
    "load_manifest",
    "manifest_json_schema",
    "schema_text",
]
