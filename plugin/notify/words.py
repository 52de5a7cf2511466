"""The words of support messages: one subject, plain text and HTML per kind and language.

Templates live in `templates/<lang>/<kind>.subject|.txt|.html` (plus `_footer.txt` and
`_footer.html`, the sign-off and unsubscribe line every message includes). A `templates/`
folder next to the manifest with the same layout overrides them file by file. Admins write
overrides, so they run in Jinja's sandbox, and an unknown variable is an error, never an
empty string. An override with a problem is reported by `problems()` and the built-in file
is used instead, so a typo never stops messages.

Filters for template authors:
- `n|plural("day", "days")`, `n|plural("день", "дня", "дней")`: the word form for n (CLDR
  rules: English one/other, Russian one/few/many); write the number yourself: `{{ n }} ...`;
- `d|date`: a date as "November 2" / "2 ноября";
- `reason|reason_text`: a revocation reason code from the engine in words (other text as is);
- `text|nl2br`: plain text as escaped HTML lines (for digest items).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_skeleton
from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    meta,
    nodes,
    select_autoescape,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

BUILTIN = Path(__file__).resolve().parent / "templates"
LANGUAGES = ("en", "ru")
PARTS = ("subject", "txt", "html")
FOOTERS = ("_footer.txt", "_footer.html")

COMMON = frozenset({"person_name", "org_name", "unsubscribe_url"})
_TO_MANAGER = {"manager_name", "learner_name", "skill_name", "ticket", "ticket_url"}
_CHECKIN = _TO_MANAGER | {"reward_name", "award_id", "command"}
KINDS: dict[str, frozenset[str]] = {
    kind: COMMON | names
    for kind, names in {
        "stalled_reminder": {
            "module_title",
            "module_minutes",
            "module_url",
            "skill_name",
            "days_since_start",
            "reminder_number",  # 1, 2, ...: each later one is shorter
            "reminder_last",  # True on the last one: it says no more will follow
            "apply_reward",
        },
        "sprint_invitation": {"sprint_id", "start", "end", "days", "focus_skills", "rewards"},
        "sprint_nudge": {"sprint_id", "days_left", "modules"},
        "sprint_wrapup": {"sprint_id", "completed", "applied", "points", "awards"},
        "apply_suggestion": {"skill_name", "module_title", "tickets"},
        "checkin_prompt": _CHECKIN,
        "checkin_overdue": _CHECKIN | {"days_overdue"},
        "approval_needed": _CHECKIN | {"module_title"},
        "awarded": {
            "skill_name",
            "ticket",
            "ticket_url",
            "reward_name",
            "points",
            "state",  # pending_approval | approved | fulfilled
            "needs_approval",
        },
        "revoked": {"skill_name", "ticket", "ticket_url", "reward_name", "reason"},
        "digest": {"items"},
    }.items()
}

# The CLDR categories an integer can fall in, in the order `plural` takes its forms.
CATEGORIES = {"en": ("one", "other"), "ru": ("one", "few", "many")}

REASONS = {
    "en": {
        "reopened": "the ticket was reopened",
        "excluded_resolution": "the ticket was closed as one that does not count "
        "(for example Duplicate or Won't Do)",
        "completion_withdrawn": "the module completion was withdrawn in the learning system",
        "completion_failed": "the module is no longer marked as passed",
        "budget": "this period's budget for the reward went to earlier tickets",
        "cap": "this sprint's limit of rewards went to earlier tickets",
        "cooldown": "it came too soon after your last reward for this skill",
        "outside_window": "the ticket was finished outside the time allowed after the module",
    },
    "ru": {
        "reopened": "задачу снова открыли",
        "excluded_resolution": "задачу закрыли с резолюцией, которая не засчитывается "
        "(например, Duplicate или Won't Do)",
        "completion_withdrawn": "прохождение модуля отозвали в системе обучения",
        "completion_failed": "модуль больше не отмечен как пройденный",
        "budget": "бюджет этой награды на период уже ушёл на более ранние задачи",
        "cap": "лимит наград за спринт уже заняли более ранние задачи",
        "cooldown": "с прошлой награды за этот навык прошло слишком мало времени",
        "outside_window": "задачу завершили позже срока, отведённого после модуля",
    },
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@cache
def _locale(lang: str) -> Locale:
    return Locale.parse(lang)


def plural(lang: str, n: int, forms: Sequence[str]) -> str:
    """The form of a word for n: English takes (one, other), Russian (one, few, many), e.g.
    plural("ru", 21, ("день", "дня", "дней")) == "день"."""
    if lang not in CATEGORIES:
        raise ValueError(f"unknown language {lang!r} (known: {', '.join(LANGUAGES)})")
    categories = CATEGORIES[lang]
    if len(forms) != len(categories):
        raise ValueError(
            f"{lang} needs {len(categories)} forms ({', '.join(categories)}), got {len(forms)}"
        )
    category = _locale(lang).plural_form(n)
    return forms[categories.index(category)] if category in categories else forms[-1]


def _filters(lang: str) -> dict[str, Callable[..., Any]]:
    def plural_filter(n: int, *forms: str) -> str:
        return plural(lang, n, forms)

    def date_filter(value: date | str) -> str:
        day = date.fromisoformat(value) if isinstance(value, str) else value
        return str(format_skeleton("MMMMd", day, locale=lang))

    def reason_text(reason: str) -> str:
        return REASONS[lang].get(reason, reason)

    def nl2br(text: str) -> Markup:
        return Markup("<br>\n").join(escape(line) for line in str(text).splitlines())

    return {
        "plural": plural_filter,
        "date": date_filter,
        "reason_text": reason_text,
        "nl2br": nl2br,
    }


class _Only(FileSystemLoader):
    """An override folder, limited to the files that passed the checks."""

    def __init__(self, folder: Path, names: set[str]) -> None:
        super().__init__(folder)
        self.names = names

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        if template not in self.names:
            raise TemplateNotFound(template)
        return super().get_source(environment, template)


def _environment(lang: str, loaders: list[BaseLoader]) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        # By the file's extension: HTML is escaped, subject and plain text are not.
        autoescape=select_autoescape(
            enabled_extensions=("html",), disabled_extensions=("txt", "subject"), default=False
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(_filters(lang))
    return env


def _allowed(name: str) -> frozenset[str] | None:
    """The variables a template file may use, or None for a file name we do not know."""
    if name in FOOTERS:
        return COMMON
    kind, _, part = name.rpartition(".")
    return KINDS.get(kind) if part in PARTS else None


def _check_file(env: Environment, path: Path, allowed: frozenset[str]) -> list[str]:
    try:
        source = path.read_text(encoding="utf-8")
        tree = env.parse(source, path.name, str(path))
        env.compile(tree, path.name, str(path))  # unknown filters and tests
    except TemplateSyntaxError as exc:
        return [f"{path}:{exc.lineno}: {exc.message}"]
    except (OSError, UnicodeDecodeError) as exc:
        return [f"{path}:1: cannot read: {exc}"]
    found = []
    for name in sorted(meta.find_undeclared_variables(tree) - allowed):
        line = min(
            (n.lineno for n in tree.find_all(nodes.Name) if n.name == name and n.ctx == "load"),
            default=1,
        )
        known = ", ".join(sorted(allowed))
        found.append((line, f"{path}:{line}: unknown variable {name!r} (may use: {known})"))
    return [message for _, message in sorted(found)]


def check_folder(folder: Path) -> tuple[list[str], dict[str, set[str]]]:
    """The problems of a templates folder, and per language the files free of them."""
    env = _environment("en", [])
    problems: list[str] = []
    good: dict[str, set[str]] = {lang: set() for lang in LANGUAGES}
    if not folder.is_dir():
        return [f"{folder}: not a folder"], good
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.name not in LANGUAGES or not entry.is_dir():
            problems.append(f"{entry}: unknown language folder (known: {', '.join(LANGUAGES)})")
            continue
        for path in sorted(entry.iterdir()):
            if path.name.startswith("."):
                continue
            allowed = _allowed(path.name)
            if allowed is None or not path.is_file():
                problems.append(f"{path}:1: unknown template (expected <kind>.subject|txt|html)")
                continue
            found = _check_file(env, path, allowed)
            problems.extend(found)
            if not found:
                good[entry.name].add(path.name)
    return problems, good


def _language(lang: str, fallback: bool) -> str:
    code = lang.replace("_", "-").split("-")[0].lower()  # "ru-RU" is Russian
    if code in LANGUAGES:
        return code
    if fallback:
        return "en"
    raise ValueError(f"unknown language {lang!r} (known: {', '.join(LANGUAGES)})")


def _text(raw: str) -> str:
    lines = "\n".join(line.rstrip() for line in raw.strip().splitlines())
    return re.sub(r"\n{3,}", "\n\n", lines)


class Words:
    """Renders messages from the built-in templates and an optional override folder."""

    def __init__(self, overrides: Path | None = None) -> None:
        self._problems: list[str] = []
        good: dict[str, set[str]] = {lang: set() for lang in LANGUAGES}
        if overrides is not None and overrides.exists():
            self._problems, good = check_folder(overrides)
        self._envs = {}
        for lang in LANGUAGES:
            loaders: list[BaseLoader] = [FileSystemLoader(BUILTIN / lang)]
            if good[lang]:
                assert overrides is not None
                loaders.insert(0, _Only(overrides / lang, good[lang]))
            self._envs[lang] = _environment(lang, loaders)

    def problems(self) -> list[str]:
        """The override files' problems as "file:line: message"; those files are not used."""
        return list(self._problems)

    def render(
        self, kind: str, lang: str, variables: Mapping[str, Any], *, fallback: bool = False
    ) -> Rendered:
        """The message of `kind` in `lang` ("en", "ru"; "ru-RU" counts as "ru"). `variables`
        must hold exactly KINDS[kind]. An unknown kind or language is a ValueError; with
        fallback=True an unknown language is written in English instead."""
        if kind not in KINDS:
            raise ValueError(f"unknown message kind {kind!r} (known: {', '.join(KINDS)})")
        env = self._envs[_language(lang, fallback)]
        missing = KINDS[kind] - variables.keys()
        extra = variables.keys() - KINDS[kind]
        if missing or extra:
            raise ValueError(
                f"{kind}: missing variables {sorted(missing)}, unknown variables {sorted(extra)}"
            )
        values = dict(variables)
        subject = env.get_template(f"{kind}.subject").render(values)
        return Rendered(
            subject=" ".join(subject.split()),
            text=_text(env.get_template(f"{kind}.txt").render(values)),
            html=env.get_template(f"{kind}.html").render(values).strip(),
        )
