"""The report's plots: inline SVG that pastes into one HTML page and shows what the data says,
also on awkward data; and the page of all five as Chromium renders it."""

from __future__ import annotations

import asyncio
import math
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import date, timedelta

import matplotlib
import pytest
from playwright.sync_api import Page

from plugin.report.plots import Interval, burndown, funnel_bars, histogram, intervals, no_data
from tests.peers.browser import Chromium, save_screenshot

SVG = "{http://www.w3.org/2000/svg}"
DAYS = [date(2024, 3, 1) + timedelta(days=i) for i in range(5)]

PLOTS: dict[str, Callable[[], str]] = {
    "funnel": lambda: funnel_bars(
        [("Записались", 120), ("Завершили курс", 80), ("Применили в Jira", 31), ("Награда", 1)],
        "Воронка обучения",
    ),
    "histogram": lambda: histogram(
        [1, 1, 2, 3, 3, 3, 5, 8, 13],
        "Дни до применения",
        "дни",
        {"медиана": 3.0, "p75": 6.5, "p90": 12.0},
    ),
    "intervals": lambda: intervals(
        [
            Interval("завершившие, до", 5.2, 4.1, 6.8),
            Interval("завершившие, после", 3.9, 3.0, 4.4),
            Interval("остальные, после", 5.0, 5.0, 5.0, "малая выборка"),
        ],
        "Время цикла, медиана",
        "дни",
    ),
    "burndown": lambda: burndown(500, DAYS, [100, 0, 150, 50, 40], "Расход бюджета наград"),
    "no_data": lambda: no_data("Модули", "Нет данных за период"),
}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 (our own output, not untrusted input)


def drawn(root: ET.Element, name: str) -> list[ET.Element]:
    """Elements a plot marked with class `name` (one per bar, point, line...)."""
    return [el for el in root.iter() if name in el.get("class", "").split()]


def texts(root: ET.Element) -> list[str]:
    return ["".join(el.itertext()) for el in root.iter(f"{SVG}text")]


def said(root: ET.Element) -> list[str]:
    """What a no-data plot says instead of a plot."""
    return [text for element in drawn(root, "sr-no-data") for text in texts(element)]


def box(element: ET.Element) -> tuple[float, float, float, float]:
    """x0, y0, x1, y1 of the first path inside `element` (SVG user units, y down)."""
    path = next(element.iter(f"{SVG}path"))
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path.get("d", ""))]
    xs, ys = numbers[0::2], numbers[1::2]
    return min(xs), min(ys), max(xs), max(ys)


# -- every plot -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", PLOTS)
def test_plot_is_an_svg_element_to_paste_into_html(name: str) -> None:
    svg = PLOTS[name]()
    assert svg.startswith("<svg ") and svg.rstrip().endswith("</svg>")
    for unwanted in ("<?xml", "<!DOCTYPE", "<!--", "<metadata", "<image", "@font-face", "figure_1"):
        assert unwanted not in svg
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    title = root.find(f"{SVG}title")
    assert title is not None and root[0] is title
    assert root.get("aria-label") == title.text != ""
    assert title.text in texts(root)  # and shown on the plot
    assert len(svg) < 30_000


@pytest.mark.parametrize("name", PLOTS)
def test_same_input_gives_the_same_bytes_and_leaves_global_settings_alone(name: str) -> None:
    before = dict(matplotlib.rcParams)
    first, second = PLOTS[name](), PLOTS[name]()
    assert first == second
    assert dict(matplotlib.rcParams) == before


def test_plots_on_one_page_do_not_share_ids_with_different_meanings() -> None:
    definitions: dict[str, bytes] = {}
    for make in PLOTS.values():
        for element in parse(make()).iter():
            ident = element.get("id")
            if ident is None:
                continue
            assert not ident.startswith("sr-")  # ours are classes: a page may repeat them
            definition = ET.tostring(element)
            assert definitions.setdefault(ident, definition) == definition, ident


def test_text_is_escaped_and_stays_text() -> None:
    title = 'Отчёт <ROI> & "итоги"'
    stage = 'Этап <1> & id="sr-bar"'
    root = parse(funnel_bars([(stage, 3)], title))
    assert root.get("aria-label") == title
    assert title in texts(root)
    assert stage in texts(root)
    assert len(drawn(root, "sr-bar")) == 1


# -- funnel -----------------------------------------------------------------------------------


def test_funnel_has_a_bar_per_stage_sized_by_count_and_labelled_with_share() -> None:
    root = parse(PLOTS["funnel"]())
    bars = drawn(root, "sr-bar")
    assert len(bars) == 4
    widths = [box(bar)[2] - box(bar)[0] for bar in bars]
    assert widths[1] / widths[0] == pytest.approx(80 / 120, rel=1e-3)
    assert widths[3] / widths[0] == pytest.approx(1 / 120, rel=1e-2)
    tops = [box(bar)[1] for bar in bars]
    assert tops == sorted(tops)  # first stage on top
    shown = texts(root)
    for label in ("120 (100%)", "80 (67%)", "31 (26%)", "1 (<1%)", "Применили в Jira"):
        assert label in shown


def test_funnel_starting_at_zero_shows_counts_without_shares() -> None:
    root = parse(funnel_bars([("Записались", 0), ("Завершили", 0)], "Воронка"))
    assert len(drawn(root, "sr-bar")) == 2
    shown = texts(root)
    assert shown.count("0") >= 2
    assert not any("%" in text for text in shown)


def test_funnel_with_no_stages_says_so_and_rejects_negative_counts() -> None:
    root = parse(funnel_bars([], "Воронка", empty="Нет записей"))
    assert said(root) == ["Нет записей"]
    assert drawn(root, "sr-bar") == []
    with pytest.raises(ValueError, match="negative"):
        funnel_bars([("a", 3), ("b", -1)], "t")


# -- histogram --------------------------------------------------------------------------------


def test_histogram_has_a_bar_per_day_and_a_line_per_mark() -> None:
    root = parse(histogram([1, 1, 2, 5], "Дни", "дни", {"медиана": 1.5, "p90": 4.6666}))
    bars = drawn(root, "sr-bar")
    assert len(bars) == 5  # days 1..5, the empty days 3 and 4 included
    heights = [box(bar)[3] - box(bar)[1] for bar in bars]
    assert heights[0] == pytest.approx(2 * heights[1], rel=1e-3)
    assert heights[2] == heights[3] == 0
    assert heights[4] == pytest.approx(heights[1], rel=1e-3)
    assert len(drawn(root, "sr-mark")) == 2
    assert {"медиана: 1.5", "p90: 4.7", "дни"} <= set(texts(root))
    assert {"1", "2", "3", "4", "5"} <= set(texts(root))  # whole days on the axis
    assert "1.5" not in texts(root)


def test_histogram_drops_nan_and_infinite_values_and_marks() -> None:
    clean = histogram([1.0, 2.0], "t", "x", {"m": 1.0})
    dirty = histogram(
        [1.0, math.nan, 2.0, math.inf, -math.inf], "t", "x", {"m": 1.0, "n": math.nan}
    )
    assert dirty == clean
    root = parse(histogram([math.nan, math.inf], "t", "x", empty="Нет значений"))
    assert said(root) == ["Нет значений"]


def test_histogram_of_one_value_is_one_bar() -> None:
    assert len(drawn(parse(histogram([2.5], "t", "x", {"median": 2.5})), "sr-bar")) == 1
    assert len(drawn(parse(histogram([7.0] * 50, "t", "x")), "sr-bar")) == 1


def test_histogram_of_spread_out_values_keeps_a_readable_number_of_bins() -> None:
    spread = [i * 0.37 for i in range(1000)]
    assert 5 <= len(drawn(parse(histogram(spread, "t", "x")), "sr-bar")) <= 40
    started = time.perf_counter()
    outlier = parse(histogram([*spread, 1e12], "t", "x"))
    assert len(drawn(outlier, "sr-bar")) <= 40
    assert time.perf_counter() - started < 2  # an outlier cannot ask for millions of bins


# -- intervals --------------------------------------------------------------------------------


def test_intervals_have_a_point_and_a_bar_per_row_and_grey_notes() -> None:
    root = parse(PLOTS["intervals"]())
    points, bars = drawn(root, "sr-point"), drawn(root, "sr-interval")
    assert len(points) == 3
    assert len(bars) == 3  # low == high is still drawn (a zero-length bar), not an error
    first = box(bars[0])
    assert first[2] - first[0] > 0
    shown = texts(root)
    assert {"завершившие, до", "завершившие, после", "5.2", "3.9", "дни"} <= set(shown)
    note = next(el for el in root.iter(f"{SVG}text") if el.text == "малая выборка")
    assert "fill: #8c8c8c" in note.get("style", "")


def test_intervals_drop_rows_without_a_value_and_bars_without_bounds() -> None:
    rows = [
        Interval("до", 4.0, math.nan, 6.0),
        Interval("после", math.nan, 1.0, 2.0),
        Interval("все", 3.0, 3.5, 2.5),  # bounds swapped: drawn from the smaller one
    ]
    root = parse(intervals(rows, "t", "дни"))
    assert len(drawn(root, "sr-point")) == 2
    assert len(drawn(root, "sr-interval")) == 1
    assert "после" not in texts(root)
    empty = parse(intervals([Interval("x", math.inf, 0, 1)], "t", "u", empty="Мало данных"))
    assert said(empty) == ["Мало данных"]


# -- burndown ---------------------------------------------------------------------------------


def step_levels(root: ET.Element) -> list[float]:
    """The y of each horizontal stretch of the spent line."""
    path = next(drawn(root, "sr-spent")[0].iter(f"{SVG}path")).get("d", "")
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path)]
    return sorted(set(numbers[1::2]), reverse=True)


def test_burndown_steps_up_to_the_budget_line() -> None:
    root = parse(burndown(340, DAYS, [100, 0, 150, 50, 40], "Бюджет"))
    assert len(drawn(root, "sr-spent")) == 1
    budget = drawn(root, "sr-budget")
    assert len(budget) == 1
    levels = step_levels(root)
    assert len(levels) == 4  # totals 100, 250, 300, 340 (the 0 day adds no step)
    assert levels[-1] == pytest.approx(box(budget[0])[1], abs=0.01)  # 340 spent == budget
    assert "340" in texts(root)
    assert any(re.fullmatch(r"2024-03-0\d", text) for text in texts(root))


def test_burndown_without_budget_and_with_unsorted_days() -> None:
    root = parse(burndown(None, DAYS, [1, 2, 3, 4, 5], "t"))
    assert drawn(root, "sr-budget") == []
    shuffled = burndown(None, DAYS[::-1], [5, 4, 3, 2, 1], "t")
    assert shuffled == burndown(None, DAYS, [1, 2, 3, 4, 5], "t")


def test_burndown_of_one_day_is_a_visible_step() -> None:
    root = parse(burndown(0, DAYS[:1], [0], "t"))
    x0, _, x1, _ = box(drawn(root, "sr-spent")[0])
    assert x1 - x0 > 10
    assert len(drawn(root, "sr-budget")) == 1


def test_burndown_needs_a_spent_amount_per_day() -> None:
    with pytest.raises(ValueError, match="days and spent differ in length: 2 != 1"):
        burndown(10, DAYS[:2], [1], "t")
    root = parse(burndown(10, [], [], "t", empty="Наград ещё не было"))
    assert said(root) == ["Наград ещё не было"]


# -- in a real browser ------------------------------------------------------------------------


def test_browser_fixture_records_console_errors_and_uncaught_exceptions(
    page: Page, page_errors: list[str]
) -> None:
    page.set_content("<script>console.error('broken'); null.x;</script>")
    page.wait_for_load_state()
    assert len(page_errors) == 2
    assert page_errors[0] == "console error: broken"
    assert page_errors[1].startswith("page error: ")


def test_report_page_of_all_plots_renders_in_chromium(page: Page, page_errors: list[str]) -> None:
    sections = "".join(f"<section>{make()}</section>" for make in PLOTS.values())
    html = (
        '<!doctype html><html lang="ru"><meta charset="utf-8"><title>Отчёт</title>'
        f"<style>svg {{max-width: 100%; height: auto}}</style><body>{sections}</body></html>"
    )
    page.set_viewport_size({"width": 800, "height": 600})
    page.set_content(html)
    page.wait_for_load_state()
    svgs = page.locator("svg")
    assert svgs.count() == len(PLOTS)
    for i in range(svgs.count()):
        bounds = svgs.nth(i).bounding_box()
        assert bounds is not None and bounds["width"] > 100 and bounds["height"] > 50
    for title in ("Воронка обучения", "Дни до применения", "Расход бюджета наград"):
        assert page.get_by_role("img", name=title).count() == 1
        shown = page.locator("svg text").filter(has_text=re.compile(f"^{title}$"))
        assert shown.count() == 1 and shown.is_visible()
    assert page_errors == []
    assert save_screenshot(page, "report_plots").stat().st_size > 10_000


def test_no_event_loop_is_left_running_for_other_tests(_chromium: Chromium) -> None:
    # Playwright is up (the fixture started it), yet this test does not use the browser.
    async def answer() -> int:
        return 42

    assert asyncio.run(answer()) == 42
