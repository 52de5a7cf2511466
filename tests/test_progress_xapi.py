"""Progress on a module from xAPI: the verbs read, both paths (the LRS pull against a real
Ralph, and the forwarding webhook), and completions left exactly as they were."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from connectors.xapi import (
    PROGRESS_VERBS,
    VERB_ATTEMPTED,
    VERB_INITIALIZED,
    VERB_LAUNCHED,
    VERB_PROGRESSED,
    VERB_RESUMED,
    VERB_VIEWED,
    XapiSource,
)
from plugin.domain import Completion, CompletionState, Progress
from plugin.manifest import Manifest
from plugin.store import Store
from plugin.sync import sync_source
from tests.peers.ralph import RalphServer
from tests.test_webhooks_support import basic, make_app, manifest
from tests.test_xapi_ralph import client
from tests.test_xapi_source import ANA, PAGE, QUIZ, FakeLrs, load, pull
from webhooks.statements import parse_statements

__all__ = ["manifest"]  # the webhook tests' manifest fixture (it maps PAGE and QUIZ)

AU = "https://courses.example.org/cmi5/sql-indexing-basics/au/1"  # a cmi5 assignable unit
MODULES = {PAGE: "sql-indexing-basics", QUIZ: "sql-indexing-quiz", AU: "sql-indexing-basics"}
LEARNER = {"objectType": "Agent", "name": "Ben Builder", "mbox": "mailto:ben@example.org"}
CMI5 = "https://w3id.org/xapi/cmi5/context/categories/cmi5"
T = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def moodle_viewed(
    activity: str = PAGE, minutes: int = 0, event: str = "mod_page"
) -> dict[str, Any]:
    """What Logstore xAPI emits for `\\<module>\\event\\course_module_viewed`: tincan
    `viewed`, the course module's IRI as the object (as in its completions)."""
    statement = load("viewed")
    statement["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"viewed:{activity}:{minutes}"))
    statement["object"]["id"] = activity
    statement["timestamp"] = (T + timedelta(minutes=minutes)).isoformat()
    statement["stored"] = (T + timedelta(minutes=minutes, seconds=1)).isoformat()
    info = statement["context"]["extensions"][
        "http://lrs.learninglocker.net/define/extensions/info"
    ]
    info["event_name"] = f"\\{event}\\event\\course_module_viewed"
    return statement


def cmi5(verb: str, minutes: int, activity: str = AU) -> dict[str, Any]:
    """A cmi5 statement as an LMS (launched) or the AU (initialized, progressed) sends it."""
    name = verb.rsplit("/", 1)[-1]
    statement: dict[str, Any] = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cmi5:{name}:{activity}:{minutes}")),
        "actor": copy.deepcopy(LEARNER),
        "verb": {"id": verb, "display": {"en-US": name}},
        "object": {
            "id": activity,
            "objectType": "Activity",
            "definition": {"type": "https://w3id.org/xapi/cmi5/activitytype/block"},
        },
        "timestamp": (T + timedelta(minutes=minutes)).isoformat(),
        "context": {
            "registration": "ec231277-b27b-4c15-8291-d29225b2b8f7",
            "contextActivities": {"category": [{"id": CMI5, "objectType": "Activity"}]},
            "extensions": {
                "https://w3id.org/xapi/cmi5/context/extensions/sessionid": "458240298378231",
                "https://w3id.org/xapi/cmi5/context/extensions/launchmode": "Normal",
            },
        },
    }
    if name == "launched":
        statement["context"]["extensions"][
            "https://w3id.org/xapi/cmi5/context/extensions/moveon"
        ] = "Completed"
    if name == "progressed":
        statement["result"] = {
            "extensions": {"https://w3id.org/xapi/cmi5/result/extensions/progress": 40}
        }
    return statement


def adl(verb: str, minutes: int, activity: str = QUIZ) -> dict[str, Any]:
    """An ADL verb on an activity, as SCORM players and authoring tools send it."""
    name = verb.rsplit("/", 1)[-1]
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"adl:{name}:{activity}:{minutes}")),
        "actor": copy.deepcopy(LEARNER),
        "verb": {"id": verb, "display": {"en-US": name}},
        "object": {"id": activity, "objectType": "Activity"},
        "timestamp": (T + timedelta(minutes=minutes)).isoformat(),
    }


# (statement, verb, module, actor key)
SHAPES: list[tuple[str, dict[str, Any], str, str, str]] = [
    ("moodle-page-viewed", moodle_viewed(PAGE, 0), "viewed", "sql-indexing-basics", ANA),
    (
        "moodle-quiz-viewed",
        moodle_viewed(QUIZ, 1, "mod_quiz"),
        "viewed",
        "sql-indexing-quiz",
        ANA,
    ),
    ("cmi5-launched", cmi5(VERB_LAUNCHED, 2), "launched", "sql-indexing-basics", "mbox:"),
    ("cmi5-initialized", cmi5(VERB_INITIALIZED, 3), "initialized", "sql-indexing-basics", "mbox:"),
    ("cmi5-progressed", cmi5(VERB_PROGRESSED, 4), "progressed", "sql-indexing-basics", "mbox:"),
    ("adl-attempted", adl(VERB_ATTEMPTED, 5), "attempted", "sql-indexing-quiz", "mbox:"),
    ("adl-resumed", adl(VERB_RESUMED, 6), "resumed", "sql-indexing-quiz", "mbox:"),
]
BEN = "mbox:mailto:ben@example.org"


def actor(key: str) -> str:
    return BEN if key == "mbox:" else key


def source(lrs: Any, modules: dict[str, str] = MODULES) -> XapiSource:
    return XapiSource(lrs, modules)


# -- the mapping ----------------------------------------------------------------------------


def test_the_progress_verbs() -> None:
    assert PROGRESS_VERBS == {
        "http://adlnet.gov/expapi/verbs/attempted": "attempted",
        "http://adlnet.gov/expapi/verbs/launched": "launched",
        "http://adlnet.gov/expapi/verbs/initialized": "initialized",
        "http://adlnet.gov/expapi/verbs/progressed": "progressed",
        "http://adlnet.gov/expapi/verbs/resumed": "resumed",
        "http://id.tincanapi.com/verb/viewed": "viewed",
    }
    assert load("viewed")["verb"]["id"] == VERB_VIEWED  # what Logstore xAPI sends


@pytest.mark.parametrize(
    ("statement", "verb", "module", "person"),
    [shape[1:] for shape in SHAPES],
    ids=[shape[0] for shape in SHAPES],
)
def test_each_shape_becomes_progress(
    statement: dict[str, Any], verb: str, module: str, person: str
) -> None:
    src = source(FakeLrs([([statement], None)]))
    (batch,) = pull(src)
    (event,) = batch.events
    assert isinstance(event, Progress)
    assert (event.kind, event.source, event.verb, event.module) == (
        "progress",
        "xapi",
        verb,
        module,
    )
    assert event.person.id == actor(person)
    assert event.natural_key == statement["id"]
    assert event.at == datetime.fromisoformat(statement["timestamp"])
    assert batch.raw == (statement,)
    assert src.counts["progress"] == 1 and src.counts["completions"] == 0


@pytest.mark.parametrize(
    "name",
    ["completed", "completed_success", "completed_failure", "uncompleted", "passed", "failed"],
)
def test_completions_are_never_progress(name: str) -> None:
    (event,) = [e for b in pull(source(FakeLrs([([load(name)], None)]))) for e in b.events]
    assert isinstance(event, Completion)


def test_a_completed_statement_saying_not_complete_is_no_progress_either() -> None:
    statement = load("completed")
    statement["result"]["completion"] = False
    src = source(FakeLrs([([statement], None)]))
    assert [e for b in pull(src) for e in b.events] == []
    assert src.counts["ignored_verb"] == 1


def test_progress_on_activities_no_module_maps_is_ignored_like_completions() -> None:
    book = "https://moodle.example.org/mod/book/view.php?id=99"
    statements = [moodle_viewed(book, 0), adl(VERB_ATTEMPTED, 1, book), load("viewed")]
    statements[2]["actor"] = {"objectType": "Group", "mbox": "mailto:team@example.org"}
    src = source(FakeLrs([(statements, None)]))
    assert [e for b in pull(src) for e in b.events] == []
    assert src.counts["ignored_activity"] == 2
    assert src.counts["ignored_actor"] == 1
    assert "progress" not in src.counts


def test_other_verbs_are_still_ignored() -> None:
    statement = adl("http://adlnet.gov/expapi/verbs/answered", 0)
    started = adl("http://activitystrea.ms/schema/1.0/start", 1)  # Logstore: quiz attempt
    src = source(FakeLrs([([statement, started], None)]))
    assert [e for b in pull(src) for e in b.events] == []
    assert src.counts["ignored_verb"] == 2


def test_progress_without_a_time_is_a_batch_error() -> None:
    statement = moodle_viewed()
    del statement["timestamp"], statement["stored"]
    (batch,) = pull(source(FakeLrs([([statement], None)])))
    assert batch.events == ()
    assert len(batch.errors) == 1 and statement["id"] in batch.errors[0]


def test_voiding_a_progress_statement_changes_nothing() -> None:
    viewed = moodle_viewed()
    voided = load("voided")
    voided["object"]["id"] = viewed["id"]
    src = source(FakeLrs([([viewed, voided], None)], stored={viewed["id"]: viewed}))
    events = [e for b in pull(src) for e in b.events]
    assert [type(e) for e in events] == [Progress]
    assert src.counts["ignored_void"] == 1


def test_progress_and_completions_keep_time_order_in_a_batch() -> None:
    statements = [load("completed"), moodle_viewed(PAGE, 65), cmi5(VERB_LAUNCHED, 30)]
    (batch,) = pull(source(FakeLrs([(statements, None)])))
    assert [type(e).__name__ for e in batch.events] == ["Progress", "Completion", "Progress"]
    assert [r["id"] for r in batch.raw] == [e.natural_key for e in batch.events]


def test_the_webhook_reads_a_statement_as_the_pull_does() -> None:
    statements = [shape[1] for shape in SHAPES] + [load("completed"), load("passed")]
    pulled = [e for b in pull(source(FakeLrs([(statements, None)]))) for e in b.events]
    parsed = parse_statements(copy.deepcopy(statements), MODULES)
    key = lambda e: e.natural_key  # noqa: E731
    assert sorted(parsed.events, key=key) == sorted(pulled, key=key)
    assert parsed.ignored == {}


# -- the pull, against a real Ralph LRS -----------------------------------------------------


def recent(statement: dict[str, Any], minutes: int) -> dict[str, Any]:
    """The statement as the LRS takes it, happening `minutes` after six hours ago."""
    sent = copy.deepcopy(statement)
    for key in ("stored", "authority", "version"):  # set by the LRS
        sent.pop(key, None)
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6, minutes=-minutes)
    sent["timestamp"] = at.isoformat()
    return sent


@pytest.mark.ralph
def test_the_pull_stores_progress_from_ralph(ralph_lrs: RalphServer, store: Store) -> None:
    lrs = client(ralph_lrs)
    progress = [recent(shape[1], n) for n, shape in enumerate(SHAPES)]
    completed = recent(load("completed"), len(SHAPES))
    unmapped = recent(moodle_viewed("https://moodle.example.org/mod/book/view.php?id=99"), 40)
    lrs.send_statements([*progress, completed, unmapped])

    src = source(lrs)
    summary = sync_source(src, store, datetime.now(UTC))

    assert (summary.fetched, summary.new, summary.errors) == (len(SHAPES) + 2, len(SHAPES) + 1, [])
    assert (src.counts["progress"], src.counts["completions"]) == (len(SHAPES), 1)
    assert src.counts["ignored_activity"] == 1
    items = {i.natural_key: i for i in store.inbox.list(source="xapi")}
    assert items[completed["id"]].kind == "completion"
    assert items[completed["id"]].payload["state"] == CompletionState.COMPLETE
    for statement, (_, _, verb, module, person) in zip(progress, SHAPES, strict=True):
        item = items[statement["id"]]
        assert (item.kind, item.status) == ("progress", "new")
        event = Progress.model_validate(item.payload)
        assert (event.verb, event.module, event.natural_key) == (verb, module, statement["id"])
        assert event.at == datetime.fromisoformat(statement["timestamp"])
        assert item.payload["person"]["id"] == actor(person)
        assert item.raw is not None and item.raw["id"] == statement["id"]

    again = sync_source(source(lrs), store, datetime.now(UTC))
    assert again.new == 0  # the cursor, and the natural key for the overlap


# -- the webhook ----------------------------------------------------------------------------


@pytest.fixture
def stored_client(store: Store, manifest: Manifest) -> FlaskClient:
    return make_app(store, manifest).test_client()


def forwarded() -> list[dict[str, Any]]:
    """The shapes on the webhook manifest's activities (it maps PAGE and QUIZ only)."""
    statements = [copy.deepcopy(shape[1]) for shape in SHAPES]
    for statement in statements:
        if statement["object"]["id"] == AU:
            statement["object"]["id"] = PAGE
    return statements


def test_the_webhook_stores_progress(stored_client: FlaskClient, store: Store) -> None:
    statements = [*forwarded(), load("completed"), moodle_viewed(AU, 9)]  # AU: not mapped here
    body = json.dumps(statements)

    response = stored_client.post("/webhooks/xapi", data=body, headers=basic())

    assert response.status_code == 200
    assert response.json == {
        "status": "stored",
        "events": len(SHAPES) + 1,
        "duplicates": 0,
        "ignored": 1,
    }
    items = {i.natural_key: i for i in store.inbox.list(source="xapi")}
    assert items[load("completed")["id"]].kind == "completion"
    for statement, (_, _, verb, _, person) in zip(statements, SHAPES, strict=False):
        item = items[statement["id"]]
        assert (item.kind, item.payload["verb"]) == ("progress", verb)
        assert item.payload["module"] == statement["object"]["id"]  # the IRI is the key
        assert item.payload["person"]["id"] == actor(person)
        assert item.raw == statement

    again = stored_client.post("/webhooks/xapi", data=body, headers=basic())
    assert again.json is not None and again.json["status"] == "duplicate"


def test_the_webhook_ignores_progress_without_a_time(
    stored_client: FlaskClient, store: Store
) -> None:
    timeless = moodle_viewed()
    del timeless["timestamp"], timeless["stored"]
    body = json.dumps([timeless, load("completed")])
    response = stored_client.post("/webhooks/xapi", data=body, headers=basic())
    assert response.json == {"status": "stored", "events": 1, "duplicates": 0, "ignored": 1}
    assert [i.kind for i in store.inbox.list(source="xapi")] == ["completion"]
