"""Awards, changes and a fake Jira issue shared by the effects and outbox tests (no tests here)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from connectors.delivery import DELIVERY_POLICY
from plugin.effects import AwardChange, ChangeEvent, Deployment, Effect, effects_for
from plugin.manifest import Manifest, load_manifest
from plugin.settings import EXAMPLE_MANIFEST
from plugin.store import Award, AwardState, NewAward, Store
from tests.jira_contract import JiraHarness

MANIFEST = load_manifest(EXAMPLE_MANIFEST)
JIRA_BASE = "https://northwind.atlassian.net"
MOODLE = "https://lms.northwind.example"
DONE_AT = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)
COMPLETED_AT = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
PLAN_MODULE = f"{MOODLE}/mod/page/view.php?id=2101"

# The engine's evidence (plugin.engine.evidence) for Ben applying SQL indexing in PAY-101.
EVIDENCE: dict[str, Any] = {
    "reason": "awarded",
    "person": "ben.carter",
    "assignee": "jira:712020:4f6c1e2a-9b1d-4c3e-8a7f-2d5e6b8c9a01",
    "skill": "sql-indexing",
    "reward": "paid-learning-hour",
    "sprint": "2026-11-a",
    "ticket": {
        "id": "10001",
        "key": "PAY-101",
        "summary": "Ledger balance query takes 9 s",
        "project": "PAY",
        "status": "Done",
        "resolution": "Done",
        "labels": ["skill-sql-indexing"],
        "components": ["Ledger DB"],
        "assignee": "jira:712020:4f6c1e2a-9b1d-4c3e-8a7f-2d5e6b8c9a01",
        "matched": ["label skill-sql-indexing", "component Ledger DB"],
        "done_at": DONE_AT.isoformat(),
        "done_transition": "jira:10001:5001",
        "in_progress_minutes": 240,
    },
    "completion": {
        "key": "xapi:4b0e1c2d",
        "source": "xapi",
        "state": "complete",
        "at": COMPLETED_AT.isoformat(),
        "person": f"xapi:account:{MOODLE}|102",
        "module": PLAN_MODULE,
        "module_id": "sql-query-plans",
        "title": "Reading a query plan",
    },
    "reopened": None,
    "rules": None,
    "detail": {},
}


def make_award(
    *,
    id: int = 17,
    state: AwardState = "pending_approval",
    person: str = "ben.carter",
    skill: str = "sql-indexing",
    reward: str = "paid-learning-hour",
    points: int = 20,
    ticket: str = "PAY-101",
    evidence: dict[str, Any] | None = EVIDENCE,
) -> Award:
    return Award(
        id=id,
        person_id=person,
        skill_id=skill,
        ticket_key=ticket,
        reward_id=reward,
        sprint_id="2026-11-a",
        points=points,
        state=state,
        completion_key="xapi:4b0e1c2d",
        ticket_done_at=DONE_AT,
        created_at=DONE_AT,
        updated_at=DONE_AT,
        evidence=evidence,
    )


def flags_award(state: AwardState = "approved", id: int = 23) -> Award:
    """A reward needing no approval: 50 points for applying feature flags."""
    evidence = {
        "ticket": {"key": "PAY-202", "matched": ["label skill-feature-flags"]},
        "completion": {
            "module": f"{MOODLE}/mod/lesson/view.php?id=2201",
            "title": "Flag lifecycle and clean-up",
            "at": (DONE_AT - timedelta(hours=3)).isoformat(),
        },
    }
    return make_award(
        id=id,
        state=state,
        skill="feature-flags",
        reward="points-50",
        points=50,
        ticket="PAY-202",
        evidence=evidence,
    )


STATE_AFTER: dict[str, AwardState] = {
    "approved": "approved",
    "rejected": "rejected",
    "fulfilled": "fulfilled",
    "revoked": "revoked",
    "revocation_flagged": "revocation_flagged",
}


def change(
    award: Award,
    event: ChangeEvent,
    *,
    actor: str = "engine",
    note: str | None = None,
    previous: AwardState | None = None,
    at: datetime = DONE_AT + timedelta(days=1),
    cycle: int = 0,
) -> AwardChange:
    if event != "awarded":
        award = replace(award, state=STATE_AFTER[event])
    return AwardChange(award, event, actor, note, at, previous, cycle)


def plan(
    ch: AwardChange, manifest: Manifest = MANIFEST, deployment: Deployment = "cloud"
) -> list[Effect]:
    return effects_for(ch, manifest, jira_base_url=JIRA_BASE, deployment=deployment)


def store_award(store: Store, award: Award) -> Award:
    """Put `award` in the ledger (it gets the store's id) and return it as stored."""
    new = NewAward(
        person_id=award.person_id,
        skill_id=award.skill_id,
        ticket_key=award.ticket_key,
        reward_id=award.reward_id,
        points=award.points,
        state=award.state,
        ticket_done_at=award.ticket_done_at,
        sprint_id=award.sprint_id,
        completion_key=award.completion_key,
        evidence=award.evidence or {},
    )
    stored, _ = store.awards.insert(new)
    return stored


def enqueue(store: Store, effects: list[Effect], at: datetime | None = None) -> None:
    for effect in effects:
        store.outbox.enqueue(
            effect.idempotency_key, effect.target, effect.action, effect.payload, at
        )


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    lost_reply: bool = False  # the request takes effect, but its answer never arrives
    after: int = 0  # let this many requests of the kind through first


class FakeIssue:
    """One Jira issue behind the contract harness: its properties, comments and labels.

    `fail(method, what, status)` makes the next request(s) of that kind answer `status`
    (what: "property", "comment", "issue"). The client is set to the delivery policy (no
    retries inside a call), as the worker's clients are.
    """

    def __init__(self, harness: JiraHarness, issue: str = "PAY-101") -> None:
        self.harness = harness
        self.issue = issue
        self.cloud = harness.client.deployment == "cloud"
        self.properties: dict[str, Any] = {}
        self.comments: list[tuple[str, Any]] = []
        self.labels: set[str] = set()
        self.faults: dict[tuple[str, str], list[Fault]] = {}
        self.posts = 0
        self.edits = 0  # issue edits (label changes)
        harness.client.policy = DELIVERY_POLICY
        api = "rest/api/3" if self.cloud else "rest/api/2"
        base = harness.url(f"{api}/issue/{issue}")
        prop = f"{base}/properties/skillrelay.effects"
        mock = harness.mock
        mock.add_callback("GET", prop, self._get_property)
        mock.add_callback("PUT", prop, self._put_property)
        mock.add_callback("POST", f"{base}/comment", self._post_comment)
        mock.add_callback("GET", f"{base}/comment", self._get_comments)
        mock.add_callback("PUT", base, self._edit)

    def fail(
        self,
        method: str,
        what: str,
        status: int,
        times: int = 1,
        *,
        lost_reply: bool = False,
        after: int = 0,
        headers: dict[str, str] | None = None,
    ) -> None:
        fault = Fault(status, dict(headers or {}), times, lost_reply, after)
        self.faults.setdefault((method, what), []).append(fault)

    def sent(self, method: str | None = None) -> list[requests.PreparedRequest]:
        return [r for r in self.harness.sent() if method is None or r.method == method]

    @property
    def value(self) -> dict[str, Any]:
        found: dict[str, Any] = self.properties.get("skillrelay.effects", {})
        return found

    def comment_texts(self) -> list[Any]:
        return [body for _, body in self.comments]

    def _fault(self, method: str, what: str) -> tuple[int, dict[str, str], str] | None:
        queue = self.faults.get((method, what))
        if not queue or queue[0].lost_reply or self._passes(queue[0]):
            return None
        return self._take(queue)

    def _lost(self, method: str, what: str) -> tuple[int, dict[str, str], str] | None:
        queue = self.faults.get((method, what))
        if not queue or not queue[0].lost_reply or self._passes(queue[0]):
            return None
        return self._take(queue)

    @staticmethod
    def _passes(fault: Fault) -> bool:
        if fault.after > 0:
            fault.after -= 1
            return True
        return False

    def _take(self, queue: list[Fault]) -> tuple[int, dict[str, str], str]:
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        return fault.status, fault.headers, json.dumps({"errorMessages": ["injected"]})

    def _get_property(self, request: requests.PreparedRequest) -> Any:
        if (fault := self._fault("GET", "property")) is not None:
            return fault
        if "skillrelay.effects" not in self.properties:
            return 404, {}, json.dumps({"errorMessages": ["no such property"]})
        body = {"key": "skillrelay.effects", "value": self.properties["skillrelay.effects"]}
        return 200, {}, json.dumps(body)

    def _put_property(self, request: requests.PreparedRequest) -> Any:
        if (fault := self._fault("PUT", "property")) is not None:
            return fault
        created = "skillrelay.effects" not in self.properties
        self.properties["skillrelay.effects"] = json.loads(request.body or b"null")
        return (201 if created else 200), {}, ""

    def _post_comment(self, request: requests.PreparedRequest) -> Any:
        if (fault := self._fault("POST", "comment")) is not None:
            return fault
        self.posts += 1
        comment_id = str(10100 + len(self.comments))
        self.comments.append((comment_id, json.loads(request.body or b"{}")["body"]))
        if (lost := self._lost("POST", "comment")) is not None:
            return lost
        return 201, {}, json.dumps({"id": comment_id, "body": self.comments[-1][1]})

    def _get_comments(self, request: requests.PreparedRequest) -> Any:
        if (fault := self._fault("GET", "comment")) is not None:
            return fault
        query = parse_qs(urlsplit(request.url or "").query)
        start = int(query.get("startAt", ["0"])[0])
        size = int(query.get("maxResults", ["100"])[0])
        page = [{"id": i, "body": body} for i, body in self.comments[start : start + size]]
        body = {"startAt": start, "maxResults": size, "total": len(self.comments), "comments": page}
        return 200, {}, json.dumps(body)

    def _edit(self, request: requests.PreparedRequest) -> Any:
        if (fault := self._fault("PUT", "issue")) is not None:
            return fault
        self.edits += 1
        for op in json.loads(request.body or b"{}").get("update", {}).get("labels", []):
            if "add" in op:
                self.labels.add(op["add"])
            else:
                self.labels.discard(op["remove"])  # Jira: removing a missing label is a no-op
        return 204, {}, ""
