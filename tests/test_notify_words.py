"""The words of support messages: every kind in both languages, plurals, escaping, the
sandbox, overrides and their problems, length and tone."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from plugin.notify.words import BUILTIN, KINDS, LANGUAGES, PARTS, Words, check_folder, plural

COMMON = {
    "person_name": "Chloe",
    "org_name": "Northwind Payments",
    "unsubscribe_url": "https://skillrelay.northwind.example/u/3f9a",
}
APPROVE = "skillrelay awards approve 42 --by amara.okafor"
CHECKIN = "skillrelay checkins done 42 --by amara.okafor"
MANAGER: dict[str, Any] = {
    "manager_name": "Amara",
    "learner_name": "Ben Carter",
    "skill_name": "SQL indexing",
    "ticket": "PAY-1432",
    "ticket_url": "https://northwind.atlassian.net/browse/PAY-1432",
    "reward_name": "One paid learning hour",
    "award_id": 42,
    "command": APPROVE,
}
MODULE: dict[str, Any] = {
    "title": "Indexes that pay off",
    "minutes": 15,
    "url": "https://lms.northwind.example/mod/page/view.php?id=311",
}
SAMPLES: dict[str, dict[str, Any]] = {
    "stalled_reminder": {
        "module_title": "Indexes that pay off",
        "module_minutes": 15,
        "module_url": MODULE["url"],
        "skill_name": "SQL indexing",
        "days_since_start": 5,
        "reminder_number": 1,
        "reminder_last": False,
        "apply_reward": "50 skill points",
    },
    "sprint_invitation": {
        "sprint_id": "2026-11-a",
        "start": date(2026, 11, 2),
        "end": date(2026, 11, 15),
        "days": 14,
        "focus_skills": [
            {"name": "SQL indexing", "modules": [MODULE]},
            {
                "name": "Feature flags",
                "modules": [
                    {
                        "title": "Flags without debt",
                        "minutes": 12,
                        "url": "https://lms.northwind.example/mod/page/view.php?id=312",
                    }
                ],
            },
            {
                "name": "Incident postmortems",
                "modules": [
                    {
                        "title": "Blameless postmortems",
                        "minutes": 20,
                        "url": "https://lms.northwind.example/mod/page/view.php?id=313",
                    }
                ],
            },
        ],
        "rewards": ["50 skill points", "One paid learning hour"],
    },
    "sprint_nudge": {"sprint_id": "2026-11-a", "days_left": 3, "modules": [MODULE]},
    "sprint_wrapup": {
        "sprint_id": "2026-11-a",
        "completed": ["Indexes that pay off", "Flags without debt"],
        "applied": [
            {
                "skill": "SQL indexing",
                "ticket": "PAY-1432",
                "url": "https://northwind.atlassian.net/browse/PAY-1432",
            }
        ],
        "points": 70,
        "awards": ["One paid learning hour"],
    },
    "apply_suggestion": {
        "skill_name": "SQL indexing",
        "module_title": "Indexes that pay off",
        "tickets": [
            {
                "key": "PAY-1501",
                "summary": "Slow refunds search",
                "url": "https://northwind.atlassian.net/browse/PAY-1501",
            },
            {
                "key": "PAY-1507",
                "summary": "Ledger export times out",
                "url": "https://northwind.atlassian.net/browse/PAY-1507",
            },
        ],
    },
    "checkin_prompt": {**MANAGER, "command": CHECKIN},
    "checkin_overdue": {**MANAGER, "command": CHECKIN, "days_overdue": 4},
    "approval_needed": {**MANAGER, "module_title": "Indexes that pay off"},
    "awarded": {
        "skill_name": "SQL indexing",
        "ticket": "PAY-1432",
        "ticket_url": "https://northwind.atlassian.net/browse/PAY-1432",
        "reward_name": "One paid learning hour",
        "points": 20,
        "state": "pending_approval",
        "needs_approval": True,
    },
    "revoked": {
        "skill_name": "SQL indexing",
        "ticket": "PAY-1432",
        "ticket_url": "https://northwind.atlassian.net/browse/PAY-1432",
        "reward_name": "50 skill points",
        "reason": "reopened",
    },
    "digest": {
        "items": [
            {
                "subject": "Where you could use SQL indexing",
                "text": "PAY-1501: Slow refunds search\nhttps://northwind.atlassian.net/browse/PAY-1501",
            },
            {
                "subject": "Sprint 2026-11-a: 3 days to go",
                "text": "Indexes that pay off (15 min)",
            },
        ]
    },
}
# What a person needs in each message, whatever the language.
ESSENTIALS: dict[str, list[str]] = {
    "stalled_reminder": ["Indexes that pay off", MODULE["url"], "15", "50 skill points"],
    "sprint_invitation": [
        "2026-11-a",
        "SQL indexing",
        "Feature flags",
        "Incident postmortems",
        "Indexes that pay off (15 ",
        "Flags without debt (12 ",
        "Blameless postmortems (20 ",
        "50 skill points",
        "One paid learning hour",
        "14",
    ],
    "sprint_nudge": ["2026-11-a", "3", "Indexes that pay off (15 ", MODULE["url"]],
    "sprint_wrapup": ["Indexes that pay off", "Flags without debt", "PAY-1432", "70"],
    "apply_suggestion": ["Indexes that pay off", "SQL indexing", "PAY-1501", "PAY-1507"],
    "checkin_prompt": ["Amara", "Ben Carter", "PAY-1432", CHECKIN, "42"],
    "checkin_overdue": ["Amara", "Ben Carter", "PAY-1432", CHECKIN, "4 "],
    "approval_needed": ["Ben Carter", "Indexes that pay off", "PAY-1432", APPROVE],
    "awarded": ["SQL indexing", "PAY-1432", "One paid learning hour", "20"],
    "revoked": ["SQL indexing", "PAY-1432", "50 skill points"],
    "digest": ["Where you could use SQL indexing", "PAY-1501", "3 days to go"],
}
TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def variables(kind: str, **changes: Any) -> dict[str, Any]:
    return {**COMMON, **SAMPLES[kind], **changes}


@pytest.fixture(scope="module")
def words() -> Words:
    return Words()


def test_the_samples_hold_exactly_the_variables_of_each_kind() -> None:
    assert set(SAMPLES) == set(KINDS)
    for kind in KINDS:
        assert set(variables(kind)) == KINDS[kind], kind


def test_builtin_templates_are_complete_and_pass_the_override_checks() -> None:
    problems, good = check_folder(BUILTIN)
    assert problems == []
    for lang in LANGUAGES:
        for kind in KINDS:
            assert {f"{kind}.{part}" for part in PARTS} <= good[lang], (lang, kind)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_renders_with_what_a_person_needs(words: Words, kind: str, lang: str) -> None:
    out = words.render(kind, lang, variables(kind))
    assert out.subject and "\n" not in out.subject and len(out.subject) <= 100
    for needed in ESSENTIALS[kind]:
        assert needed in out.text, (needed, out.text)
    assert not TAG.search(out.text), out.text
    assert out.html.startswith("<p>") and "</p>" in out.html
    # The unsubscribe line is the last thing in both bodies.
    assert out.text.endswith(COMMON["unsubscribe_url"])
    assert out.html.rstrip().endswith("</p>") and COMMON["unsubscribe_url"] in out.html
    assert len(out.text) <= 900, (kind, lang, len(out.text))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_without_an_unsubscribe_url_there_is_no_unsubscribe_line(words: Words, lang: str) -> None:
    out = words.render("sprint_nudge", lang, variables("sprint_nudge", unsubscribe_url=None))
    assert "None" not in out.text and "None" not in out.html
    assert "subscri" not in out.text.lower() + out.html.lower()  # unsubscribe / Отписаться
    assert "писаться" not in out.text + out.html
    assert out.text.splitlines()[-1].endswith("Northwind Payments")


def test_russian_is_russian(words: Words) -> None:
    out = words.render("sprint_invitation", "ru", variables("sprint_invitation"))
    assert out.subject == "Приглашаем в учебный спринт с 2 ноября"
    assert "Здравствуйте, Chloe!" in out.text
    assert "14 дней, с 2 ноября по 15 ноября" in out.text
    assert "Indexes that pay off (15 мин)" in out.text


@pytest.mark.parametrize(
    ("n", "word", "verb"),
    [
        (1, "день", "остался"),
        (2, "дня", "осталось"),
        (5, "дней", "осталось"),
        (11, "дней", "осталось"),
        (21, "день", "остался"),
        (22, "дня", "осталось"),
        (25, "дней", "осталось"),
    ],
)
def test_russian_plural_forms(words: Words, n: int, word: str, verb: str) -> None:
    assert plural("ru", n, ("день", "дня", "дней")) == word
    out = words.render("sprint_nudge", "ru", variables("sprint_nudge", days_left=n))
    assert f"{verb} {n} {word}." in out.text
    assert out.subject == f"Спринт 2026-11-a: {verb} {n} {word}"


@pytest.mark.parametrize(
    ("n", "minutes", "points"),
    [(1, "1 минуту", "1 балл"), (2, "2 минуты", "2 балла"), (5, "5 минут", "5 баллов")],
)
def test_russian_minutes_and_points_agree_with_their_number(
    words: Words, n: int, minutes: str, points: str
) -> None:
    reminder = words.render(
        "stalled_reminder", "ru", variables("stalled_reminder", module_minutes=n)
    )
    assert f"занимает {minutes}," in reminder.text
    wrapup = words.render("sprint_wrapup", "ru", variables("sprint_wrapup", points=n))
    assert f"Вы заработали {points}." in wrapup.text


def test_english_plural_forms(words: Words) -> None:
    assert [plural("en", n, ("day", "days")) for n in (0, 1, 2, 21)] == [
        "days",
        "day",
        "days",
        "days",
    ]
    one = words.render("sprint_nudge", "en", variables("sprint_nudge", days_left=1))
    assert "has 1 day to go" in one.text


def test_plural_refuses_a_wrong_number_of_forms_or_language() -> None:
    with pytest.raises(ValueError, match="one, few, many"):
        plural("ru", 2, ("день", "дня"))
    with pytest.raises(ValueError, match="'de'"):
        plural("de", 2, ("Tag", "Tage"))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_html_escapes_what_comes_from_outside(words: Words, lang: str) -> None:
    evil = '<script>alert("x")</script>'
    reminder = words.render(
        "stalled_reminder", lang, variables("stalled_reminder", module_title=evil)
    )
    assert "<script>" not in reminder.html and "&lt;script&gt;" in reminder.html
    assert evil in reminder.text  # plain text is not HTML: shown as typed
    ticket = {"key": "PAY-1", "summary": "<b>bold</b> & co", "url": "https://x.example/?a=1&b=2"}
    suggestion = words.render(
        "apply_suggestion", lang, variables("apply_suggestion", tickets=[ticket])
    )
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in suggestion.html
    assert 'href="https://x.example/?a=1&amp;b=2"' in suggestion.html
    digest = words.render(
        "digest", lang, variables("digest", items=[{"subject": "<i>", "text": "a<b\nc"}])
    )
    assert "&lt;i&gt;" in digest.html and "a&lt;b<br>\nc" in digest.html


@pytest.mark.parametrize("lang", LANGUAGES)
def test_apply_suggestion_links_each_ticket_key(words: Words, lang: str) -> None:
    out = words.render("apply_suggestion", lang, variables("apply_suggestion"))
    for ticket in SAMPLES["apply_suggestion"]["tickets"]:
        assert f'<a href="{ticket["url"]}">{ticket["key"]}</a>' in out.html
    assert ("2 tickets" if lang == "en" else "2 задачи") in out.text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_invitation_links_each_module(words: Words, lang: str) -> None:
    out = words.render("sprint_invitation", lang, variables("sprint_invitation"))
    assert f'<a href="{MODULE["url"]}">Indexes that pay off</a> (15 ' in out.html
    assert "<strong>Feature flags</strong>" in out.html


@pytest.mark.parametrize("lang", LANGUAGES)
def test_reminders_get_shorter_and_the_last_says_so(words: Words, lang: str) -> None:
    def reminder(number: int, last: bool) -> Any:
        return words.render(
            "stalled_reminder",
            lang,
            variables("stalled_reminder", reminder_number=number, reminder_last=last),
        )

    first, second, third = reminder(1, False), reminder(2, False), reminder(3, True)
    assert len({first.text, second.text, third.text}) == 3
    assert len({first.subject, second.subject, third.subject}) == 3
    assert len(second.text) < len(first.text) and len(third.text) < len(first.text)
    last_word = {"en": "last", "ru": "последнее"}[lang]
    assert last_word in third.subject.lower() and last_word in third.text.lower()
    assert last_word not in first.text.lower() + second.text.lower()
    assert MODULE["url"] in second.text and MODULE["url"] in third.text


# Words a caring learning-support team never uses with a learner.
PUSHY = {
    "en": ["still haven't", "don't forget", "must", "urgent", "asap", "overdue", "failed"],
    "ru": ["до сих пор", "не забудьте", "должны", "срочно", "обязательно", "просрочен"],
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_nothing_scolds_or_pushes(words: Words, lang: str) -> None:
    reminders = [
        variables("stalled_reminder", reminder_number=number, reminder_last=number == 3)
        for number in (1, 2, 3)
    ]
    messages = [("stalled_reminder", values) for values in reminders]
    messages += [(kind, variables(kind)) for kind in KINDS if kind != "stalled_reminder"]
    for kind, values in messages:
        out = words.render(kind, lang, values)
        text = (out.subject + " " + out.text).lower()
        for word in PUSHY[lang]:
            assert word not in text, (kind, word)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(
    ("state", "needs_approval", "en", "ru"),
    [
        ("pending_approval", True, "needs to confirm", "подтвердить руководителю"),
        ("approved", True, "has approved it", "уже её подтвердил"),
        ("approved", False, "yours", "уже ваша"),
        ("fulfilled", True, "handed out", "выдали"),
    ],
)
def test_awarded_says_where_the_reward_stands(
    words: Words, lang: str, state: str, needs_approval: bool, en: str, ru: str
) -> None:
    changes = {"state": state, "needs_approval": needs_approval}
    out = words.render("awarded", lang, variables("awarded", **changes))
    assert (en if lang == "en" else ru) in out.text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_points_reward_does_not_repeat_its_points(words: Words, lang: str) -> None:
    changes = {"reward_name": "50 skill points", "points": 50}
    out = words.render("awarded", lang, variables("awarded", **changes))
    assert out.text.count("50") == 1


def test_revoked_explains_a_reason_code_and_keeps_a_manager_note(words: Words) -> None:
    reopened = words.render("revoked", "ru", variables("revoked"))
    assert "задачу снова открыли" in reopened.text and "вернётся" in reopened.text
    budget = words.render("revoked", "en", variables("revoked", reason="budget"))
    assert "budget" in budget.text and "comes back" not in budget.text
    note = words.render("revoked", "en", variables("revoked", reason="Done by a pair, not solo"))
    assert "Done by a pair, not solo." in note.text


def test_unknown_kind_language_and_variables_are_refused(words: Words) -> None:
    with pytest.raises(ValueError, match="'praise'"):
        words.render("praise", "en", COMMON)
    with pytest.raises(ValueError, match="'de'"):
        words.render("sprint_nudge", "de", variables("sprint_nudge"))
    with pytest.raises(ValueError, match="days_left"):
        words.render("sprint_nudge", "en", {**COMMON, "sprint_id": "x", "modules": []})
    with pytest.raises(ValueError, match="colour"):
        words.render("sprint_nudge", "en", variables("sprint_nudge", colour="red"))


def test_an_unknown_language_is_english_only_when_asked(words: Words) -> None:
    german = words.render("sprint_nudge", "de", variables("sprint_nudge"), fallback=True)
    assert german == words.render("sprint_nudge", "en", variables("sprint_nudge"))
    assert words.render("sprint_nudge", "ru-RU", variables("sprint_nudge")).text.startswith(
        "Здравствуйте"
    )


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_an_override_replaces_only_its_own_file(tmp_path: Path) -> None:
    write(tmp_path, "en/sprint_nudge.subject", "{{ days_left }} days left in {{ sprint_id }}")
    write(tmp_path, "ru/_footer.txt", "\nС заботой, {{ org_name }}")
    words = Words(tmp_path)
    assert words.problems() == []
    en = words.render("sprint_nudge", "en", variables("sprint_nudge"))
    assert en.subject == "3 days left in 2026-11-a"
    assert en.text == Words().render("sprint_nudge", "en", variables("sprint_nudge")).text
    ru = words.render("sprint_nudge", "ru", variables("sprint_nudge"))
    assert ru.text.endswith("С заботой, Northwind Payments")


def test_override_problems_name_file_and_line_and_fall_back(tmp_path: Path) -> None:
    syntax = write(tmp_path, "en/awarded.txt", "Hi {{ person_name }},\n\n{% if points %}\n")
    unknown = write(
        tmp_path, "ru/revoked.txt", "Здравствуйте!\n{{ reason }}\n{{ colour }} {{ person_name }}"
    )
    footer = write(tmp_path, "en/_footer.html", "<p>{{ skill_name }}</p>")
    write(tmp_path, "de/awarded.txt", "Hallo")
    write(tmp_path, "en/awarded.md", "Hi")
    filters = write(tmp_path, "en/digest.subject", "{{ items|shout }}")
    words = Words(tmp_path)
    problems = words.problems()
    assert len(problems) == 6, problems
    assert any(p.startswith(f"{syntax}:3: ") for p in problems)
    assert f"{unknown}:3: unknown variable 'colour'" in "\n".join(problems)
    assert f"{footer}:1: unknown variable 'skill_name'" in "\n".join(problems)
    assert any(p.startswith(f"{tmp_path / 'de'}: unknown language folder") for p in problems)
    assert any(
        p.startswith(f"{tmp_path / 'en' / 'awarded.md'}:1: unknown template") for p in problems
    )
    assert any(p.startswith(f"{filters}:1: ") and "shout" in p for p in problems)
    # A file with a problem is not used: the built-in one is.
    builtin = Words()
    for kind, lang in (("awarded", "en"), ("revoked", "ru"), ("digest", "en")):
        assert words.render(kind, lang, variables(kind)) == builtin.render(
            kind, lang, variables(kind)
        )


def test_a_missing_override_folder_is_no_problem(tmp_path: Path) -> None:
    assert Words(tmp_path / "templates").problems() == []
    write(tmp_path, "file", "")
    assert Words(tmp_path / "file").problems() == [f"{tmp_path / 'file'}: not a folder"]


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ person_name.__class__.__mro__ }}",
        "{{ org_name.format.__globals__ }}",
    ],
)
def test_the_sandbox_refuses_unsafe_attributes(tmp_path: Path, source: str) -> None:
    write(tmp_path, "en/sprint_nudge.subject", source)
    words = Words(tmp_path)
    assert words.problems() == []  # unsafe access is only seen when it runs
    with pytest.raises(SecurityError):
        words.render("sprint_nudge", "en", variables("sprint_nudge"))


def test_the_sandbox_refuses_changing_what_it_is_given(tmp_path: Path) -> None:
    write(tmp_path, "en/sprint_nudge.subject", "{{ modules.append(1) }}")
    with pytest.raises(SecurityError):
        Words(tmp_path).render("sprint_nudge", "en", variables("sprint_nudge"))


def test_an_unknown_attribute_is_an_error_never_empty(words: Words) -> None:
    bad = variables("sprint_nudge", modules=[{"title": "x", "url": "https://x.example"}])
    with pytest.raises(UndefinedError, match="minutes"):
        words.render("sprint_nudge", "en", bad)
