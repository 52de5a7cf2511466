"""`skillrelay review PERSON`: the performance-review export as CSV, HTML and PDF."""

from __future__ import annotations

import csv
import io
import os
import pty
import select
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from plugin import cli
from plugin.commands import review as review_command
from plugin.domain import CompletionState
from plugin.report.review_render import COLUMNS, STRINGS
from plugin.store import NewAward, Store
from tests.test_pipeline_support import (
    FLAGS,
    NOW,
    SQL,
    T0,
    completion,
    drain,
    northwind,
    pipeline,
    put,
)

Run = Callable[..., tuple[int, str, str]]
ROOT = Path(__file__).resolve().parent.parent
HOUR = timedelta(hours=1)
NOVEMBER = ("--from", "2026-11-01", "--to", "2026-11-30")
JIRA = "https://northwind.atlassian.net/browse"


def ben_story(url: str) -> int:
    """Ben's November on the example manifest; the id of his award on PAY-101.

    He completes "Reading a query plan" on 3 Nov (again on 10 Nov), "Flag lifecycle" on
    5 Nov, fails a postmortem quiz, and completed "Composite indexes" back in October. PAY-101
    (done 4 Nov) earns a paid hour, which Amara approves and then hands out, with notes.
    """
    with Store.open(url, clock=lambda: NOW) as store:
        ids = northwind(store)
        put(
            store,
            [
                completion("ben.carter", FLAGS, T0 + 2 * 24 * HOUR),
                completion("ben.carter", SQL, T0 + 7 * 24 * HOUR),
                completion("ben.carter", "moodle:cm:2102", datetime(2026, 10, 20, 9, tzinfo=UTC)),
                completion("ben.carter", "moodle:cm:2301", T0, CompletionState.FAILED),
            ],
        )
        drain(pipeline(store))
        award = ids["PAY-101"]
        note = "Solid query plan work, well explained."
        store.awards.transition(award, "approved", "amara.okafor", note, NOW + HOUR)
        store.awards.transition(
            award, "fulfilled", "amara.okafor", "- handed out in our 1:1", NOW + 2 * HOUR
        )
        return award


def golden(award: int) -> str:
    a = award
    return "\r\n".join(
        [
            "section,person,date,time,skill,module,minutes,ticket,ticket_url,award_id,"
            "reward,points,state,from_state,to_state,actor,note",
            "module,ben.carter,2026-11-03,,SQL indexing,Reading a query plan,15,,,,,,,,,,",
            "module,ben.carter,2026-11-05,,Feature flags,Flag lifecycle and clean-up,12,,,,,,,,,,",
            f"application,ben.carter,2026-11-04,,SQL indexing,Reading a query plan,,PAY-101,"
            f"{JIRA}/PAY-101,{a},,,,,,,",
            f"award,ben.carter,2026-11-04,,SQL indexing,,,PAY-101,,{a},One paid learning hour,"
            "20,fulfilled,,,,",
            f"award_event,ben.carter,2026-11-20,12:00,,,,PAY-101,,{a},,,,,pending_approval,engine,",
            f"award_event,ben.carter,2026-11-20,13:00,,,,PAY-101,,{a},,,,pending_approval,"
            'approved,amara.okafor,"Solid query plan work, well explained."',
            f"award_event,ben.carter,2026-11-20,14:00,,,,PAY-101,,{a},,,,approved,fulfilled,"
            "amara.okafor,'- handed out in our 1:1",
            f"note,ben.carter,2026-11-20,13:00,,,,PAY-101,,{a},,,,pending_approval,approved,"
            'amara.okafor,"Solid query plan work, well explained."',
            f"note,ben.carter,2026-11-20,14:00,,,,PAY-101,,{a},,,,approved,fulfilled,"
            "amara.okafor,'- handed out in our 1:1",
            "",
        ]
    )


def invoker(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str) -> Run:
    modules = [m for m in cli.COMMAND_MODULES if m != "review"] + ["review"]
    monkeypatch.setattr(cli, "COMMAND_MODULES", modules)
    monkeypatch.setattr(review_command, "now", lambda: NOW + 3 * HOUR)
    monkeypatch.setenv("SKILLRELAY_DATABASE_URL", url)
    monkeypatch.delenv("SKILLRELAY_MANIFEST", raising=False)  # the example manifest

    def invoke(*args: str) -> tuple[int, str, str]:
        code = cli.main(["review", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    shutil.copyfile(sqlite_template, tmp_path / "skillrelay.db")
    return f"sqlite:///{tmp_path / 'skillrelay.db'}"


@pytest.fixture
def award_id(sqlite_url: str) -> int:
    return ben_story(sqlite_url)


@pytest.fixture
def run(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sqlite_url: str,
    award_id: int,
) -> Run:
    return invoker(monkeypatch, capsys, sqlite_url)


# The core views on both databases.


def test_golden_csv(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    award = ben_story(store_url)
    run = invoker(monkeypatch, capsys, store_url)
    assert run("ben.carter", *NOVEMBER, "--format", "csv") == (0, golden(award), "")


def test_html_shows_the_review(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    ben_story(store_url)
    code, page, err = invoker(monkeypatch, capsys, store_url)("ben.carter", *NOVEMBER)
    assert (code, err) == (0, "")
    text = visible_text(page)
    for shown in [
        "Ben Carter (ben.carter)",
        "Payments Core (managers: Amara Okafor (amara.okafor))",
        "2026-11-01 – 2026-11-30 (Europe/London)",
        "Generated 2026-11-20 15:00 +00:00",
        "Modules completed (2)",
        "Reading a query plan SQL indexing 15 2026-11-03",
        "Flag lifecycle and clean-up Feature flags 12 2026-11-05",
        "PAY-101 2026-11-04 Reading a query plan",
        "One paid learning hour SQL indexing, PAY-101 (2026-11-04) 20 handed out",
        "awaiting approval → approved, Amara Okafor (amara.okafor), 2026-11-20 13:00 +00:00: "
        "Solid query plan work, well explained.",
        "Manager's notes (2)",
        "Awards by state handed out: 1",
        "Points earned 20",
    ]:
        assert shown in text
    assert links(page) == [f"{JIRA}/PAY-101"]
    # Not this person's, outside the period, or not a completion.
    for hidden in ["Composite and partial indexes", "Writing a blameless timeline", "RISK-7"]:
        assert hidden not in text


# The rest on SQLite.


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self.in_style = tag in ("style", "title")

    def handle_endtag(self, tag: str) -> None:
        self.in_style = False

    def handle_data(self, data: str) -> None:
        if not self.in_style:
            self.text.append(data)


def parsed(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    return parser


def visible_text(page: str) -> str:
    return " ".join(" ".join(parsed(page).text).split())


def links(page: str) -> list[str | None]:
    return [attrs.get("href") for tag, attrs in parsed(page).tags if tag == "a"]


def test_html_in_russian(run: Run) -> None:
    code, page, _ = run("ben.carter", *NOVEMBER, "--lang", "ru")
    assert code == 0
    text = visible_text(page)
    for shown in [
        "Оценка результатов",
        "Команда Payments Core (руководители: Amara Okafor (amara.okafor))",
        "Пройденные модули (2)",
        "Задачи, в которых применён каждый навык (1)",
        "одобрена",
        "выдана",
        "Заметки руководителя (2)",
        "Solid query plan work, well explained.",
        "Заработано баллов 20",
    ]:
        assert shown in text
    assert '<html lang="ru">' in page
    # Every fixed English string is translated (the product's name stays).
    english = [s for s in STRINGS["en"].values() if s != "skillrelay"]
    assert [s for s in english if s in text] == []


def test_html_is_self_contained_and_printable(run: Run) -> None:
    _, page, _ = run("ben.carter", *NOVEMBER)
    tags = {tag for tag, _ in parsed(page).tags}
    assert not tags & {"script", "link", "img", "iframe", "object"}
    assert "@import" not in page and "url(" not in page
    assert "@media print" in page and "size: A4" in page


def test_outside_values_are_escaped(run: Run, sqlite_url: str) -> None:
    key = 'PAY-9"><script>alert(1)</script>'
    with Store.open(sqlite_url, clock=lambda: NOW) as store:
        evidence = {
            "ticket_url": "javascript:alert(1)",
            "module": {"title": "<img src=x onerror=alert(2)>"},
        }
        new = NewAward(
            "ben.carter", "feature-flags", key, "points-50", 50, "pending_approval",
            T0 + 24 * HOUR, evidence=evidence,
        )  # fmt: skip
        award, _ = store.awards.insert(new)
        store.awards.transition(award.id, "approved", "amara.okafor", "<b>ok</b> & <script>x")
    code, page, _ = run("ben.carter", *NOVEMBER)
    assert code == 0
    tags = {tag for tag, _ in parsed(page).tags}
    assert "script" not in tags and "img" not in tags and "b" not in tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;ok&lt;/b&gt; &amp; &lt;script&gt;x" in page
    text = visible_text(page)
    assert "<img src=x onerror=alert(2)>" in text  # shown as text, not run
    # The stored link is no web link: the key links to Jira instead, its markup quoted.
    assert links(page) == [
        f"{JIRA}/PAY-9%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E",  # Feature flags
        f"{JIRA}/PAY-101",  # SQL indexing
    ]
    assert "Manager's notes (3)" in text


def test_csv_keeps_spreadsheets_from_running_formulas(run: Run, sqlite_url: str) -> None:
    with Store.open(sqlite_url, clock=lambda: NOW) as store:
        new = NewAward(
            "ben.carter", "feature-flags", "=HYPERLINK(\"http://x\")", "points-50", 50,
            "approved", T0 + 24 * HOUR,
        )  # fmt: skip
        store.awards.insert(new)
    code, out, _ = run("ben.carter", *NOVEMBER, "--format", "csv")
    assert code == 0
    rows = csv.DictReader(io.StringIO(out))
    tickets = {row["ticket"] for row in rows if row["section"] == "award"}
    assert tickets == {"PAY-101", '\'=HYPERLINK("http://x")'}


def test_period_bounds_are_local_days_both_included(run: Run) -> None:
    code, out, _ = run(
        "ben.carter", "--from", "2026-11-04", "--to", "2026-11-05", "--format", "csv"
    )
    assert code == 0
    found = [(r["section"], r["date"]) for r in csv.DictReader(io.StringIO(out))]
    assert found[:3] == [
        ("module", "2026-11-05"),
        ("application", "2026-11-04"),
        ("award", "2026-11-04"),
    ]


def test_default_period_is_90_days_to_today(run: Run) -> None:
    code, page, _ = run("ben.carter")
    assert code == 0
    assert "2026-08-22 – 2026-11-20 (Europe/London)" in visible_text(page)
    assert "Modules completed (3)" in visible_text(page)  # October's module counts too


@pytest.mark.parametrize("fmt", ["html", "csv"])
def test_empty_period(run: Run, fmt: str) -> None:
    code, out, err = run(
        "ben.carter", "--from", "2025-01-01", "--to", "2025-01-31", "--format", fmt
    )
    assert (code, err) == (0, "")
    if fmt == "csv":
        assert out.splitlines() == [",".join(COLUMNS)]
        return
    text = visible_text(out)
    assert "Nothing in this period: no modules completed, no skills applied, no rewards." in text
    assert "No manager's notes in this period." in text
    assert "Points earned 0" in text and "Awards by state 0" in text


def test_person_in_no_team_with_nothing(run: Run) -> None:
    code, page, _ = run("lena.fischer", *NOVEMBER)
    assert code == 0
    assert "Team in no team" in visible_text(page)


def test_output_file(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "ben.csv"
    assert run("ben.carter", *NOVEMBER, "--format", "csv", "--output", str(target)) == (0, "", "")
    assert target.read_bytes().decode("utf-8").split("\r\n")[1].startswith("module,ben.carter,")


# Bad input.


def test_unknown_person_suggests_the_closest(run: Run) -> None:
    assert run("ben.carte") == (
        2,
        "",
        "unknown person 'ben.carte': not in the manifest; did you mean ben.carter?\n",
    )
    code, _, err = run("nobody-at-all")
    assert code == 2 and "unknown person 'nobody-at-all'" in err and "did you mean" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--from", "2026-12-01", "--to", "2026-11-01"),
            "--from 2026-12-01 is after --to 2026-11-01",
        ),
        (("--from", "2026-02-30"), "--from: '2026-02-30' is not a date (YYYY-MM-DD)"),
        (("--to", "05/03/2026"), "--to: '05/03/2026' is not a date (YYYY-MM-DD)"),
        (("--to", "2026-1-5"), "--to: '2026-1-5' is not a date (YYYY-MM-DD)"),
    ],
    ids=["from-after-to", "no-such-day", "not-iso", "not-padded"],
)
def test_bad_dates(run: Run, args: tuple[str, ...], message: str) -> None:
    assert run("ben.carter", *args) == (2, "", message + "\n")


def test_missing_output_directory(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "nope" / "review.pdf"
    code, out, err = run("ben.carter", "--format", "pdf", "--output", str(target))
    assert (code, out) == (2, "")
    assert err == f"--output: directory {str(target.parent)!r} does not exist\n"
    assert not target.parent.exists()


def child_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SKILLRELAY_MANIFEST"}
    return env | {"SKILLRELAY_DATABASE_URL": url}


def test_pdf_to_a_terminal_is_refused(sqlite_url: str, award_id: int) -> None:
    leader, follower = pty.openpty()
    written = b""
    try:
        with subprocess.Popen(
            [sys.executable, "-m", "plugin", "review", "ben.carter", "--format", "pdf"],
            stdout=follower, stderr=subprocess.PIPE, cwd=ROOT, env=child_env(sqlite_url),
        ) as child:  # fmt: skip
            os.close(follower)
            # Read the terminal as it fills, so a child that does write to it never blocks.
            while True:
                ready, _, _ = select.select([leader], [], [], 0.1)
                if ready:
                    try:
                        written += os.read(leader, 65536)
                    except OSError:  # the child closed its end
                        break
                elif child.poll() is not None:
                    break
            stderr = child.stderr.read() if child.stderr else b""
            code = child.wait(timeout=60)
    finally:
        os.close(leader)
    assert (code, stderr, written) == (2, b"pdf needs --output FILE\n", b"")


def test_pdf_to_a_pipe(sqlite_url: str, award_id: int) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "plugin", "review", "ben.carter", *NOVEMBER, "--format", "pdf"],
        capture_output=True, cwd=ROOT, env=child_env(sqlite_url), timeout=120, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout.startswith(b"%PDF-") and done.stdout.rstrip().endswith(b"%%EOF")


# The PDF, looked at page by page.


def pages(pdf: Path, tmp_path: Path) -> list[Image.Image]:
    subprocess.run(
        ["/usr/bin/pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True
    )
    return [Image.open(p).convert("L") for p in sorted(tmp_path.glob("page-*.png"))]


def ink(page: Image.Image) -> float:
    """The share of pixels that are not paper."""
    histogram = page.histogram()
    return sum(histogram[:200]) / (page.width * page.height)


def pdf_text(pdf: Path) -> str:
    done = subprocess.run(
        ["/usr/bin/pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True
    )
    return " ".join(done.stdout.decode("utf-8").split())


def test_short_pdf_is_one_a4_page(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "ben.pdf"
    assert run("ben.carter", *NOVEMBER, "--format", "pdf", "--output", str(target)) == (0, "", "")
    [page] = pages(target, tmp_path)
    assert abs(page.height / page.width - 297 / 210) < 0.01
    assert ink(page) > 0.01
    text = pdf_text(target)
    assert "Ben Carter (ben.carter)" in text and "Page 1 of 1" in text
    assert "Solid query plan work, well explained." in text


def test_russian_pdf(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "ben.pdf"
    assert (
        run("ben.carter", *NOVEMBER, "--format", "pdf", "--lang", "ru", "--output", str(target))[0]
        == 0
    )
    text = pdf_text(target)
    assert "Оценка результатов" in text and "Страница 1 из 1" in text


def test_long_pdf_spills_onto_more_pages(run: Run, sqlite_url: str, tmp_path: Path) -> None:
    with Store.open(sqlite_url, clock=lambda: NOW) as store:
        for n in range(40):
            new = NewAward(
                "ben.carter", "feature-flags", f"PAY-{500 + n}", "points-50", 50,
                "pending_approval", T0 + n * HOUR, evidence={"ticket_url": f"{JIRA}/PAY-{500 + n}"},
            )  # fmt: skip
            award, _ = store.awards.insert(new)
            store.awards.transition(award.id, "approved", "amara.okafor", f"Good work on {n}")
    target = tmp_path / "long.pdf"
    assert run("ben.carter", *NOVEMBER, "--format", "pdf", "--output", str(target)) == (0, "", "")
    found = pages(target, tmp_path)
    assert len(found) >= 2
    assert all(ink(p) > 0.01 for p in found)
    text = pdf_text(target)
    assert f"Page {len(found)} of {len(found)}" in text
    assert "Good work on 39" in text and "Points earned 2020" in text
