"""Which language a message is written in: the manifest, else the Moodle or Jira profile
(asked once per person), else English."""

from __future__ import annotations

from datetime import timedelta

import pytest

from plugin.manifest.people import Person
from plugin.notify.locale import Locales, jira_lookup, language, moodle_lookup
from plugin.notify.scheduler import Scheduler
from plugin.notify.words import Words
from plugin.store import Store
from tests.jira_contract import JiraHarness
from tests.test_notify_scheduler import manifest_with
from tests.test_pipeline_support import NOW, northwind

pytest_plugins = ["tests.jira_contract"]


def person(**extra: object) -> Person:
    return Person.model_validate({"id": "p1", "name": "P One", "email": "p1@example.org", **extra})


@pytest.mark.parametrize(
    ("code", "found"),
    [("ru", "ru"), ("ru_RU", "ru"), ("ru-RU", "ru"), ("en_us", "en"), ("de_DE", None), ("", None)],
)
def test_profile_codes_become_the_languages_we_write_in(code: str, found: str | None) -> None:
    assert language(code) == found


def test_the_manifest_wins_then_moodle_then_jira_then_english() -> None:
    asked: list[str] = []

    def moodle(user: int) -> str | None:
        asked.append(f"moodle {user}")
        return {7: "ru", 8: "de"}.get(user)

    def jira(account: str) -> str | None:
        asked.append(f"jira {account}")
        if account == "boom":
            raise RuntimeError("profile unreadable")
        return "ru_RU"

    locales = Locales((moodle_lookup(moodle), jira_lookup(jira)))
    assert locales(person(locale="en", moodle_user_id=7)) == "en"
    assert locales(person(id="a", moodle_user_id=7)) == "ru"
    assert locales(person(id="b", moodle_user_id=8, jira_account_id="acc-b")) == "ru"
    assert locales(person(id="c", jira_account_id="boom")) == "en"
    assert locales(person(id="a", moodle_user_id=7)) == "ru"  # asked once
    assert asked == ["moodle 7", "moodle 8", "jira acc-b", "jira boom"]


def test_the_jira_profile_language_comes_from_the_user_api(jira_cloud: JiraHarness) -> None:
    body = {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Ada", "locale": "ru_RU"}
    jira_cloud.mock.get(jira_cloud.url("rest/api/3/user"), json=body)
    assert jira_cloud.client.user("5b10ac8d82e05b22cc7d4ef5").locale == "ru_RU"
    assert jira_cloud.sent()[0].url.endswith("user?accountId=5b10ac8d82e05b22cc7d4ef5")


def test_the_planner_writes_in_the_profile_language(store: Store) -> None:
    northwind(store)
    locales = Locales((moodle_lookup(lambda user: "ru" if user == 106 else None),))
    manifest = manifest_with(budget={"per_person_per_day": 5, "per_person_per_week": 10})
    later = NOW + timedelta(hours=1)
    Scheduler(store, manifest, Words(), clock=lambda: later, locales=locales).tick()
    effects = {
        i.payload["person"]: i.payload
        for i in store.outbox.list(limit=100)
        if i.idempotency_key.startswith("notify:award:") and ":awarded:" in i.idempotency_key
    }
    assert effects["farah.haddad"]["lang"] == "ru"  # Moodle user 106 reads Russian
    assert effects["chloe.nguyen"]["lang"] == "en"
