"""Signed Jira bodies and authenticated statements, mutated with hostile text, numbers and
nesting, posted to the app and then run through the pipeline, on SQLite and PostgreSQL (#10):
never a 5xx, never a traceback; each event is decided, or refused at the door, or quarantined
with its reason. Bounded: a few seconds a database."""

from __future__ import annotations

import copy
import itertools
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.jira_webhook import canonical_sha256
from plugin.manifest import Manifest
from plugin.pipeline import Pipeline
from plugin.store import Store
from tests.test_webhooks_support import (
    LOGSTORE,
    automation,
    bearer,
    fixture_json,
    make_app,
    manifest,
    signed,
)

__all__ = ["manifest"]  # fixture shared from the support module

MARK = "MARKER-5c1d"
WEBHOOK = fixture_json("cloud_issue_updated_status_done")
AUTOMATION = fixture_json("automation_format")
STATEMENT = json.loads((LOGSTORE / "completed.json").read_text())

TEXTS = [
    "\x00", "a\x00b", "\ud800", "x\udfff", "\udc00\ud800", "\ud83d\ude00", "\u202e", "", " ",
    "x" * 3000, "\\u0000", "'; DROP TABLE inbox; --", "%s%n", "\n\r\t", "\ufeff", "\U0010ffff",
    "2024-13-45T99:99:99Z", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00",
]  # fmt: skip
TOKENS = [
    b"1e999", b"-1e999", b"NaN", b"Infinity", b"-Infinity", b"1e308", b"-0", b"1e-400",
    b"123456789012345678901234567890", b"1" * 5000, b"9223372036854775808", b"-1",
    b"true", b"null", b"[]", b"{}", b'"\xed\xa0\x80"', b'"\xff"',
    b"[" * 62 + b"]" * 62, b"[" * 70 + b"]" * 70, b"[" * 900 + b"]" * 900,
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(TEXTS).map(lambda t: json.dumps(t).encode()),
    st.sampled_from(TOKENS),
    st.text(max_size=20).map(lambda t: json.dumps(t).encode()),
    st.integers().map(lambda n: str(n).encode()),
)


def paths(value: Any, where: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a body a value can be put: each member, element and container."""
    found = [where] if where else []
    if isinstance(value, dict):
        found += [p for k, v in value.items() for p in paths(v, (*where, k))]
    elif isinstance(value, list):
        found += [p for n, v in enumerate(value) for p in paths(v, (*where, n))]
    return found


# (where, a new key or None, the raw JSON put there)
Mutation = tuple[tuple[Any, ...], str | None, bytes]


def mutations(body: dict[str, Any]) -> st.SearchStrategy[list[Mutation]]:
    one = st.tuples(
        st.sampled_from(paths(body)), st.none() | st.sampled_from([*TEXTS[:6], "k"]), VALUES
    )
    return st.lists(one, max_size=2)


def mutated(body: dict[str, Any], changes: list[Mutation]) -> bytes:
    copied = copy.deepcopy(body)
    raws: list[bytes] = []
    for n, (where, key, raw) in enumerate(changes):
        target: Any = copied
        try:
            for name in where[:-1]:
                target = target[name]
            if key is not None and isinstance(target[where[-1]], dict):
                target, name = target[where[-1]], key
            else:
                name = where[-1]
            target[name] = f"{MARK}{n}"
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change replaced what this one points into
        raws.append(raw)
    data = json.dumps(copied).encode()
    for n, raw in enumerate(raws):
        data = data.replace(f'"{MARK}{n}"'.encode(), raw)
    return data


def natural_key(body: dict[str, Any]) -> str:
    """The inbox key a valid, unmutated body is stored under."""
    if "webhookEvent" in body:
        return f"jira:{body['issue']['id']}:{body['changelog']['id']}"
    if "verb" in body:
        return str(body["id"])
    return f"jira-automation:{canonical_sha256(body)}"


def unique(body: dict[str, Any], n: int) -> dict[str, Any]:
    """The body as a new event: its own ids, so a valid one is stored, never a duplicate."""
    copied = copy.deepcopy(body)
    if "webhookEvent" in copied:
        copied["changelog"]["id"] = str(900_000 + n)
    elif "verb" in copied:
        copied["id"] = str(uuid.UUID(int=n))
    else:
        copied["fields"]["summary"] = f"Automation run {n}"
    return copied


STORED = {"events": 1, "duplicates": 0, "ignored": 0}
SENDERS: list[tuple[str, dict[str, Any], Callable[[bytes], dict[str, str]]]] = [
    ("/webhooks/jira", WEBHOOK, signed),
    ("/webhooks/jira", AUTOMATION, lambda _: automation()),
    ("/webhooks/xapi", STATEMENT, lambda _: bearer()),
]


def test_hostile_bodies_are_decided_refused_or_quarantined(
    store: Store, manifest: Manifest, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_app(store, manifest).test_client()
    pipeline = Pipeline(store, manifest, worker_id="fuzz", deployment="cloud")
    numbers = itertools.count(1)
    strategy = st.tuples(*(mutations(body) for _, body, _ in SENDERS))
    statuses: set[int] = set()
    caplog.set_level(logging.WARNING)

    @given(changes=strategy)
    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(changes: tuple[list[Mutation], ...]) -> None:
        valid = []
        for (path, body, headers), change in zip(SENDERS, changes, strict=True):
            fresh = unique(body, next(numbers))
            data = mutated(fresh, change)
            response = client.post(path, data=data, headers=headers(data))
            statuses.add(response.status_code)
            assert response.status_code < 500, (path, data[:300], response.json)
            if not change:
                assert response.json == {**STORED, "status": "stored"}, response.json
                valid.append(natural_key(fresh))
        while pipeline.run_once().claimed:
            pass
        counts = store.inbox.count_by_status()
        assert counts["new"] == 0, counts
        items = {i.natural_key: i for i in store.inbox.list(limit=10_000)}
        assert all(i.error for i in items.values() if i.status == "failed")
        assert {items[key].status for key in valid} <= {"processed"}, valid
        tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
        assert not tracebacks, [r.getMessage() for r in tracebacks]

    check()
    assert {200, 400} <= statuses, statuses
    counts = store.inbox.count_by_status()
    assert counts["processed"] > 0, counts
