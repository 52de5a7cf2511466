"""Deliver Jira effects (comments, labels) exactly once at the issue, even across crashes.

The issue property `skillrelay.effects` is the record, kept on the issue itself:
`{<idempotency key>: {"comment_id": "10100", "at": <epoch s>} | {"label": ..., "at": ...}
| {"label_removed": ...} | {"label_kept": ..., "kept_for": [award ids]}
| {"state": "posting", "at": ...}}`. Delivering a comment:

1. the key is recorded with a comment id: done, nothing is posted;
2. the key says "posting" (an earlier attempt stopped between posting and recording):
   read the issue's comments for the line `skillrelay ref <key>`; found: record its id, done;
3. otherwise record "posting", post, record the comment id.

So a crash anywhere leaves either nothing posted, or a comment the next attempt finds.
A learner notification's mention (action "mention", connectors.notify_jira: the comment that
mentions the person on the payload's `ticket`) is a comment too and is delivered the same way.
Adding and removing a label are idempotent in Jira; each is recorded too, so a redelivery
sends nothing. A removal marks the entries that added the label `removed_by` its key, so
the property never says a label is on that is off; a removal planned while another award
still shows the skill removes nothing and records `label_kept` with those awards. The
property keeps the newest `max_entries` keys (Jira caps a property at 32 KB). Two workers
writing effects of one issue at the same moment can overwrite each other's entry (Jira
properties have no compare-and-set); the record is re-read right before every write to keep
that window small, and the outbox lease means one effect is only ever in one worker's hands.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from connectors import jira_adf as adf
from connectors import notify_jira
from connectors.jira_client import JiraClient
from plugin.effects import COMMENT, LABEL, REF_PREFIX, UNLABEL, Effect
from plugin.errors import AuthError, FatalError

SERVICE = "jira"
PROPERTY_KEY = "skillrelay.effects"
MAX_ENTRIES = 100
POSTING = "posting"
_REF = re.compile(re.escape(REF_PREFIX) + r"(\S+)")
MENTION = notify_jira.MENTION
COMMENT_ACTIONS = frozenset({COMMENT, MENTION})  # delivered once by the ref line and property

Entries = dict[str, dict[str, Any]]


def _issue(effect: Effect) -> str:
    if effect.action == MENTION:
        return notify_jira.ticket(effect)
    issue = effect.payload.get("issue")
    if not isinstance(issue, str) or not issue:
        raise FatalError(SERVICE, f"effect {effect.idempotency_key} names no issue")
    return issue


def _blocks(effect: Effect) -> list[dict[str, Any]]:
    blocks = effect.payload.get("blocks")
    if not isinstance(blocks, list) or not blocks:
        raise FatalError(SERVICE, f"effect {effect.idempotency_key} has no comment blocks")
    return blocks


def _label(effect: Effect) -> str:
    label = effect.payload.get("label")
    if not isinstance(label, str) or not label or any(c.isspace() for c in label):
        raise FatalError(SERVICE, f"effect {effect.idempotency_key} has no usable label")
    return label


def _kept_for(effect: Effect) -> list[int]:
    kept = effect.payload.get("kept_for", [])
    if not isinstance(kept, list) or not all(isinstance(k, int) for k in kept):
        raise FatalError(SERVICE, f"effect {effect.idempotency_key} has an unusable kept_for")
    return kept


# Answers that can never succeed as the effect stands: dead-lettered at once, with why.
REFUSED = {
    400: "Jira refused the request as invalid; it will not succeed as it is",
    404: "the issue does not exist or the account cannot see it",
    410: "the issue is gone",
}


def _reason(exc: FatalError) -> str:
    """The status's reason phrase of a connector error ("Not Found")."""
    return str(exc).split(": ", 1)[-1]


def refs_in(text: str) -> set[str]:
    """The idempotency keys named by `skillrelay ref` lines (wiki escapes removed)."""
    return set(_REF.findall(text.replace("\\", "")))


class JiraSender:
    def __init__(
        self,
        client: JiraClient,
        *,
        property_key: str = PROPERTY_KEY,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.property_key = property_key
        self.max_entries = max_entries
        self.clock = clock

    def send(self, effect: Effect) -> None:
        try:
            if effect.action in COMMENT_ACTIONS:
                self._comment(effect)
            elif effect.action == LABEL:
                self._add_label(effect)
            elif effect.action == UNLABEL:
                self._remove_label(effect)
            else:
                raise FatalError(SERVICE, f"no Jira action {effect.action!r}")
        except AuthError:
            raise
        except FatalError as exc:
            hint = REFUSED.get(exc.status or 0)
            if hint is None:
                raise
            # Jira's own words stay out (bodies carry personal data): say what was refused.
            issue = effect.payload.get("ticket" if effect.action == MENTION else "issue", "?")
            what = f"{effect.action} on {issue}"
            raise FatalError(SERVICE, f"{what}: {_reason(exc)}: {hint}", exc.status) from None

    def _comment(self, effect: Effect) -> None:
        issue, key = _issue(effect), effect.idempotency_key
        content = self._content(effect)  # a payload no comment can be made of fails first
        entries = self.entries(issue)
        entry = entries.get(key) or {}
        if entry.get("comment_id"):
            return
        if entry.get("state") == POSTING:
            found = self._find(issue, key)
            if found is not None:
                self._record(issue, key, {"comment_id": found})
                return
        else:
            self._record(issue, key, {"state": POSTING}, entries)
        comment_id = notify_jira.post(self.client, issue, content)
        self._record(issue, key, {"comment_id": comment_id or "unknown"})

    def _content(self, effect: Effect) -> notify_jira.Body:
        """The comment's body: a skillrelay comment's blocks as a document, or a mention."""
        if effect.action == MENTION:
            return notify_jira.body(effect, self.client.deployment)
        return adf.doc(*_blocks(effect))

    def _add_label(self, effect: Effect) -> None:
        issue, key, label = _issue(effect), effect.idempotency_key, _label(effect)
        if key in self.entries(issue):
            return
        self.client.add_label(issue, label)
        self._record(issue, key, {"label": label})

    def _remove_label(self, effect: Effect) -> None:
        issue, key, label = _issue(effect), effect.idempotency_key, _label(effect)
        kept = _kept_for(effect)
        entries = self.entries(issue)
        if key in entries:
            return
        if kept:
            self._record(issue, key, {"label_kept": label, "kept_for": kept}, entries)
            return
        self.client.remove_label(issue, label)
        entries = self.entries(issue)
        for entry in entries.values():
            if entry.get("label") == label and "removed_by" not in entry:
                entry["removed_by"] = key
        self._record(issue, key, {"label_removed": label}, entries)

    def _find(self, issue: str, key: str) -> str | None:
        for comment in self.client.comments(issue):
            if key in refs_in(comment.text):
                return comment.id
        return None

    def entries(self, issue: str) -> Entries:
        value = self.client.get_property(issue, self.property_key)
        if not isinstance(value, Mapping):
            return {}
        return {str(k): dict(v) for k, v in value.items() if isinstance(v, Mapping)}

    def _record(
        self, issue: str, key: str, entry: dict[str, Any], read: Entries | None = None
    ) -> None:
        # Re-read unless just read: another effect of this issue may have landed meanwhile.
        entries = self.entries(issue) if read is None else dict(read)
        entries.pop(key, None)
        entries[key] = {**entry, "at": int(self.clock())}
        if len(entries) > self.max_entries:
            newest = sorted(entries, key=lambda k: int(entries[k].get("at") or 0), reverse=True)
            keep = set(newest[: self.max_entries]) | {key}
            entries = {k: v for k, v in entries.items() if k in keep}
        self.client.set_property(issue, self.property_key, entries)


def render(effect: Effect, deployment: str | None = None) -> str:
    """What a Jira effect would write, as text: wiki markup for Data Center, else plain text."""
    issue = effect.payload.get("issue", "?")
    label = effect.payload.get("label", "?")
    if effect.action == LABEL:
        return f"label {issue} +{label}"
    if effect.action == UNLABEL:
        kept = effect.payload.get("kept_for") or []
        if kept:
            return f"label {issue} kept {label} (awards {', '.join(map(str, kept))})"
        return f"label {issue} -{label}"
    if effect.action == MENTION:
        return notify_jira.render(effect, deployment or effect.payload.get("deployment"))
    if effect.action != COMMENT:
        return f"{effect.action} {issue}"
    document = adf.doc(*_blocks(effect))
    wanted = deployment or effect.payload.get("deployment")
    body = adf.to_wiki(document) if wanted == "datacenter" else adf.to_plain_text(document)
    return f"comment on {issue}:\n{body}"


class DryRunJiraSender:
    """Writes nothing to Jira: renders each effect once (wiki text for Data Center, plain
    text for Cloud, or as `deployment` says) into `rendered` and to `out` if given."""

    def __init__(
        self, out: Callable[[str], None] | None = None, *, deployment: str | None = None
    ) -> None:
        self.out = out
        self.deployment = deployment
        self.rendered: list[str] = []
        self._seen: set[str] = set()

    def send(self, effect: Effect) -> None:
        if effect.idempotency_key in self._seen:
            return
        text = render(effect, self.deployment)
        self._seen.add(effect.idempotency_key)
        self.rendered.append(text)
        if self.out is not None:
            self.out(text)
