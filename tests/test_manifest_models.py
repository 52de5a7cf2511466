"""The manifest models: strict, frozen, and every validator returns the value it checked."""

from __future__ import annotations

import inspect
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import plugin.manifest as manifest_pkg
from plugin.manifest import (
    JiraSource,
    Manifest,
    Module,
    Organisation,
    Person,
    QuietHours,
    Reward,
    Sprint,
    TicketMatch,
    load_manifest,
)

MINIMAL = Path(__file__).parent / "fixtures" / "manifests" / "minimal.yaml"
MODELS = [
    obj
    for _, obj in inspect.getmembers(manifest_pkg, inspect.isclass)
    if issubclass(obj, BaseModel)
]
JIRA = {
    "id": "jira",
    "type": "jira",
    "deployment": "datacenter",
    "base_url": "https://jira.acme.example/",
    "auth": {"type": "bearer", "token_env": "JIRA_PAT"},
    "webhook_secret_env": "JIRA_WEBHOOK_SECRET",
    "projects": ["ACME"],
}


@pytest.fixture(scope="module")
def minimal() -> Manifest:
    return load_manifest(MINIMAL)


@pytest.mark.parametrize("model", MODELS, ids=[m.__name__ for m in MODELS])
def test_every_model_is_strict_and_frozen(model: type[BaseModel]) -> None:
    assert model.model_config.get("extra") == "forbid"
    assert model.model_config.get("frozen") is True


@pytest.mark.parametrize(
    ("target", "attr", "value"),
    [
        (lambda m: m, "version", 2),
        (lambda m: m.skills[0], "name", "Other"),
        (lambda m: m.skills[0].modules[0], "moodle_cmid", 99),
        (lambda m: m.rules, "cooldown_days", 5),
        (lambda m: m.sources[0], "base_url", "https://elsewhere.example"),
    ],
    ids=["manifest", "skill", "module", "rules", "source"],
)
def test_assigning_raises(minimal: Manifest, target: Any, attr: str, value: object) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        setattr(target(minimal), attr, value)


def test_lists_are_tuples(minimal: Manifest) -> None:
    assert isinstance(minimal.skills, tuple)
    assert isinstance(minimal.skills[0].modules, tuple)
    assert isinstance(minimal.teams[0].members, tuple)


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (Module, {"id": "m", "title": "T", "minutes": 10, "moodle_cmid": 1, "colour": "x"}),
        (TicketMatch, {"labels": ["a"], "label": "a"}),
        (JiraSource, {**JIRA, "token": "abc"}),
    ],
    ids=["module", "ticket-match", "jira-source"],
)
def test_extra_keys_are_forbidden(model: type[BaseModel], data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(data)
    assert [e["type"] for e in raised.value.errors()] == ["extra_forbidden"]


MODULES = [
    ({"moodle_cmid": 7}, ("moodle:cm:7",)),
    ({"xapi_activity": "urn:acme:module:7"}, ("urn:acme:module:7",)),
    (
        {"moodle_cmid": 7, "xapi_activity": "https://lms.example/mod/page/view.php?id=7"},
        ("moodle:cm:7", "https://lms.example/mod/page/view.php?id=7"),
    ),
    (
        {"moodle_cmid": 7, "xapi_activity": "https://cdn.example/packages/7/index.html"},
        ("moodle:cm:7", "https://cdn.example/packages/7/index.html"),
    ),
]


@pytest.mark.parametrize(
    ("keys", "expected"), MODULES, ids=["cmid", "activity", "both", "both-not-moodle-iri"]
)
def test_module_validator_returns_the_module(keys: dict[str, Any], expected: tuple[str]) -> None:
    module = Module.model_validate({"id": "m", "title": "T", "minutes": 10, **keys})
    assert module.keys == expected
    assert module.moodle_cmid == keys.get("moodle_cmid")


@pytest.mark.parametrize(
    "matcher",
    [
        {"labels": ["skill-sql"]},
        {"components": ["DB"]},
        {"custom_field_value": "SQL"},
        {"jql": "project = ACME"},
    ],
    ids=["labels", "components", "custom-field", "jql"],
)
def test_ticket_match_validator_returns_the_match(matcher: dict[str, Any]) -> None:
    match = TicketMatch.model_validate(matcher)
    assert match.model_dump(exclude_defaults=True) == {
        k: tuple(v) if isinstance(v, list) else v for k, v in matcher.items()
    }


@pytest.mark.parametrize(
    ("data", "hours"),
    [
        ({"kind": "paid_hour", "hours": 1}, 1.0),
        ({"kind": "paid_hour", "hours": 0.5}, 0.5),
        ({"kind": "paid_hour"}, None),
        ({"kind": "badge"}, None),
    ],
    ids=["int-hours", "float-hours", "no-hours", "badge"],
)
def test_reward_validator_returns_the_reward(data: dict[str, Any], hours: float | None) -> None:
    reward = Reward.model_validate({"id": "r", "name": "R", **data})
    assert (reward.kind, reward.hours, reward.points) == (data["kind"], hours, 0)


@pytest.mark.parametrize(
    ("start", "end"), [("19:00", "08:00"), ("12:00", "13:30")], ids=["overnight", "same-day"]
)
def test_quiet_hours_validator_returns_the_value(start: str, end: str) -> None:
    quiet = QuietHours.model_validate({"start": start, "end": end})
    assert (quiet.start, quiet.end) == (start, end)


@pytest.mark.parametrize(
    "identity",
    [
        {},
        {"xapi_mbox": "mailto:ada@acme.example"},
        {"xapi_account": {"home_page": "https://lms.acme.example", "name": "2"}},
    ],
    ids=["email-only", "mbox", "account"],
)
def test_person_validator_returns_the_person(identity: dict[str, Any]) -> None:
    person = Person.model_validate(
        {"id": "ada", "name": "Ada", "email": "a@acme.example", **identity}
    )
    assert person.model_dump(exclude_defaults=True, include=set(identity)) == identity


@pytest.mark.parametrize("start", [date(2026, 11, 2), "2026-11-02"], ids=["date", "iso-string"])
def test_sprint_start_accepts_date_and_text(start: date | str) -> None:
    sprint = Sprint.model_validate({"id": "s", "start": start})
    assert sprint.start == date(2026, 11, 2)
    assert sprint.end == date(2026, 11, 16)
    assert sprint.contains(date(2026, 11, 15)) and not sprint.contains(sprint.end)


@pytest.mark.parametrize(
    "name", ["JIRA_PAT", "_PRIVATE_TOKEN", "TOKEN2"], ids=["plain", "underscore", "digit"]
)
def test_env_names_are_kept(name: str) -> None:
    source = JiraSource.model_validate({**JIRA, "auth": {"type": "bearer", "token_env": name}})
    assert source.auth.token_env == name
    assert source.base_url == "https://jira.acme.example"  # trailing slash dropped
    assert source.automation_header == "X-Skillrelay-Token"


def test_timezone_validator_returns_the_name() -> None:
    organisation = Organisation.model_validate({"name": "Acme", "timezone": "America/Sao_Paulo"})
    assert organisation.timezone == "America/Sao_Paulo"
    assert str(organisation.zone) == "America/Sao_Paulo"


def test_manifest_checks_references_without_the_loader(minimal: Manifest) -> None:
    data = minimal.model_dump()
    data["skills"][0]["reward"] = "nope"
    with pytest.raises(ValidationError, match=r"unknown reward 'nope'"):
        Manifest.model_validate(data)


def test_round_trip_and_cached_lookups(minimal: Manifest) -> None:
    assert minimal.modules_by_key is minimal.modules_by_key
    again = Manifest.model_validate(minimal.model_dump())
    assert again == minimal  # cached lookups are not part of equality
    assert set(minimal.modules_by_key) == {
        "moodle:cm:11",
        "https://lms.acme.example/mod/page/view.php?id=12",
        "moodle:cm:21",
    }
