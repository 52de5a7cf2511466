"""Helpers the webhook tests share: a manifest with every sender configured, secrets, bodies.

Imported by the other tests/test_webhooks_*.py modules; its own tests check the helpers.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from plugin.manifest import Manifest, load_manifest
from plugin.store import Store
from webhooks import create_app
from webhooks.signature import sign

FIXTURES = Path(__file__).parent / "fixtures"
WEBHOOKS = FIXTURES / "webhooks"
LOGSTORE = FIXTURES / "xapi" / "logstore"
PAGE = "https://moodle.example.org/mod/page/view.php?id=42"
QUIZ = "https://moodle.example.org/mod/quiz/view.php?id=43"

SECRET = "It's a Secret to Everybody"
AUTOMATION_SECRET = "automation-shared-secret"
LRS_USER, LRS_PASSWORD, FORWARD_SECRET = "lrs-user", "lrs-pässword", "forward-token-of-the-lrs"
ENV = {
    "JIRA_API_TOKEN": "unused",
    "JIRA_WEBHOOK_SECRET": SECRET,
    "JIRA_AUTOMATION_SECRET": AUTOMATION_SECRET,
    "LRS_USERNAME": LRS_USER,
    "LRS_PASSWORD": LRS_PASSWORD,
    "LRS_FORWARD_SECRET": FORWARD_SECRET,
}
AUTOMATION_HEADER = "X-Skillrelay-Token"
JSON_TYPE = "application/json"


def manifest_text() -> str:
    """tests/fixtures/manifests/minimal.yaml with the webhook senders configured."""
    text = (FIXTURES / "manifests" / "minimal.yaml").read_text()
    replacements = {
        "    webhook_secret_env: JIRA_WEBHOOK_SECRET\n": (
            "    webhook_secret_env: JIRA_WEBHOOK_SECRET\n"
            "    automation_secret_env: JIRA_AUTOMATION_SECRET\n"
            "    skill_field: customfield_10050\n"
        ),
        "      type: bearer\n      token_env: LRS_TOKEN\n": (
            "      type: basic\n      username_env: LRS_USERNAME\n"
            "      password_env: LRS_PASSWORD\n"
            "    forward_secret_env: LRS_FORWARD_SECRET\n"
        ),
        "xapi_activity: https://lms.acme.example/mod/page/view.php?id=12": (
            f"xapi_activity: {PAGE}\n"
            "      - id: sql-3\n        title: Index quiz\n        minutes: 10\n"
            f"        xapi_activity: {QUIZ}"
        ),
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def write_manifest(folder: Path, text: str | None = None) -> Manifest:
    path = folder / "manifest.yaml"
    path.write_text(manifest_text() if text is None else text)
    return load_manifest(path)


@pytest.fixture(scope="session")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    return write_manifest(tmp_path_factory.mktemp("webhook-manifest"))


@pytest.fixture
def sqlite_store(tmp_path: Path, sqlite_template: Path) -> Iterator[Store]:
    """A migrated SQLite store, for tests whose requests never reach the database."""
    shutil.copyfile(sqlite_template, tmp_path / "webhooks.db")
    with Store.open(f"sqlite:///{tmp_path / 'webhooks.db'}") as opened:
        yield opened


def make_app(
    store: Store,
    manifest: Manifest,
    env: Mapping[str, str] | None = None,
    **config: Any,
) -> Flask:
    app = create_app({"TESTING": True, **config}, store=store, manifest=manifest, env=env or ENV)
    return app


def fixture_bytes(name: str) -> bytes:
    return (WEBHOOKS / f"{name}.json").read_bytes()


def fixture_json(name: str, folder: Path = WEBHOOKS) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / f"{name}.json").read_text())
    return data


def signed(body: bytes, secret: str = SECRET, **extra: str) -> dict[str, str]:
    return {"Content-Type": JSON_TYPE, "X-Hub-Signature": sign(secret, body), **extra}


def automation(token: str = AUTOMATION_SECRET) -> dict[str, str]:
    return {"Content-Type": JSON_TYPE, AUTOMATION_HEADER: token}


def basic(user: str = "lrs", password: str = FORWARD_SECRET) -> dict[str, str]:
    """Basic auth as an LRS forwards: any user name, the forward secret as the password."""
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Content-Type": JSON_TYPE, "Authorization": f"Basic {pair}"}


def bearer(token: str = FORWARD_SECRET) -> dict[str, str]:
    return {"Content-Type": JSON_TYPE, "Authorization": f"Bearer {token}"}


def test_the_manifest_configures_every_sender(manifest: Manifest) -> None:
    assert manifest.jira is not None and manifest.jira.automation_secret_env
    assert manifest.xapi is not None and manifest.xapi.forward_secret_env
    assert {PAGE, QUIZ} <= manifest.modules_by_key.keys()


def test_the_fixtures_are_json_objects() -> None:
    for path in sorted(WEBHOOKS.glob("*.json")):
        assert isinstance(json.loads(path.read_text()), dict), path.name
