"""Notification effects as the planner queues them, shared by the channel tests (no tests here)."""

from __future__ import annotations

import copy
from typing import Any

from plugin.effects import Effect

KEY = "notify:41:awarded:ben.carter"
ACCOUNT_ID = "5b10ac8d82e05b22cc7d4ef5"

EN: dict[str, Any] = {
    "person": "ben.carter",
    "kind": "awarded",
    "lang": "en",
    "subject": "You earned a paid learning hour",
    "text": (
        "Hi Ben,\n\nYou applied SQL indexing in PAY-101 & it shows.\n"
        "Your manager approved the reward.\n\nKeep going!"
    ),
    "html": (
        "<p>Hi Ben,</p><p>You applied SQL indexing in PAY-101 &amp; it shows.<br>"
        "Your manager approved the reward.</p><p>Keep going!</p>"
    ),
    "to": {
        "name": "Ben Carter",
        "email": "ben@x.example",
        "jira_account_id": ACCOUNT_ID,
        "jira_username": "bcarter",
        "moodle_user_id": 102,
    },
    "ticket": "PAY-101",
    "links": [
        {"text": "PAY-7 Fix the slow query", "url": "https://northwind.atlassian.net/browse/PAY-7"},
        {
            "text": "SQL indexing <module>",
            "url": "https://lms.northwind.example/mod/page/view.php?id=2101",
        },
    ],
    "unsubscribe_url": "https://relay.example/unsubscribe/tok-123",
}

RU: dict[str, Any] = {
    **copy.deepcopy(EN),
    "person": "olga.ivanova",
    "lang": "ru",
    "subject": "Вы заработали оплачиваемый час обучения",
    "text": "Здравствуйте, Ольга!\n\nВы применили навык «Индексы SQL» в PAY-101.",
    "html": "<p>Здравствуйте, Ольга!</p><p>Вы применили навык «Индексы SQL» в PAY-101.</p>",
    "to": {
        "name": "Ольга Иванова",
        "email": "olga@x.example",
        "jira_account_id": "5b10ac8d82e05b22cc7d4ef6",
        "jira_username": "oivanova",
        "moodle_user_id": 103,
    },
}


def notification(
    target: str,
    action: str = "send",
    *,
    key: str = KEY,
    base: dict[str, Any] | None = None,
    to: dict[str, Any] | None = None,
    **changes: Any,
) -> Effect:
    """A notification effect: `base` (EN) with top-level `changes` and `to` fields merged."""
    payload = copy.deepcopy(base if base is not None else EN)
    payload.update(changes)
    if to is not None:
        payload["to"] = {**payload["to"], **to}
    return Effect(key, target, action, payload)
