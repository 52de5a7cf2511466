"""Import native payloads from files into the inbox: xAPI statements, Jira webhook bodies,
Jira search results. The same parsers and natural keys as sync and the webhooks, so an
import never counts twice what those also read (`skillrelay import`)."""

from plugin.importers.base import Format, WrongShape
from plugin.importers.jira_issues import JiraIssuesFormat, read_statuses
from plugin.importers.jira_webhooks import JiraWebhookFormat
from plugin.importers.output import BATCH, Output, Summary
from plugin.importers.reading import UnusableFile
from plugin.importers.run import import_file
from plugin.importers.xapi import XapiFormat

FORMATS = ("xapi", "jira-webhook", "jira-issues")

__all__ = [
    "BATCH",
    "FORMATS",
    "Format",
    "JiraIssuesFormat",
    "JiraWebhookFormat",
    "Output",
    "Summary",
    "UnusableFile",
    "WrongShape",
    "XapiFormat",
    "import_file",
    "read_statuses",
]
