"""The report's plots as inline SVG: plain data in, one `<svg>` element out.

Every function draws on its own `Figure` (no pyplot, no global state) and returns markup
that can be pasted into an HTML page: no XML prolog, no DOCTYPE, no metadata. Text stays
`<text>` (rendered with the browser's fonts, Cyrillic included) and the same input gives
byte-identical output. Drawn elements carry a class (`sr-bar`, `sr-mark`, `sr-point`,
`sr-interval`, `sr-spent`, `sr-budget`, `sr-no-data`) so a page can style them and tests
can count them. Texts come from the caller, already translated.
"""

from __future__ import annotations

import io
import math
import re
import textwrap
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from itertools import accumulate
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import matplotlib
import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import text_to_path
from matplotlib.ticker import FuncFormatter, MaxNLocator

__all__ = ["Interval", "burndown", "funnel_bars", "histogram", "intervals", "no_data"]

WIDTH = 6.4  # inches; the SVG scales, this sets the text-to-plot proportions
BAR = "#4c72b0"
ACCENT = "#dd8452"
GREY = "#8c8c8c"
MARK_STYLES = ("--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))
MAX_BINS = 40
# Matplotlib measures with the first (it ships with it); a browser without it takes the next.
FONTS = ["DejaVu Sans", "Arial", "Helvetica"]
# None drops a key, and with every key dropped matplotlib writes no <metadata> at all.
NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


@dataclass(frozen=True)
class Interval:
    label: str  # e.g. "completers, before"
    value: float  # a median
    low: float  # bootstrap interval
    high: float
    note: str = ""  # e.g. "small sample": shown next to the point, greyed out


def funnel_bars(stages: Sequence[tuple[str, int]], title: str, empty: str = "no data") -> str:
    """One horizontal bar per stage, top to bottom, labelled "count (share of the first)"."""
    if not stages:
        return no_data(title, empty)
    if any(count < 0 for _, count in stages):
        raise ValueError(f"funnel counts must not be negative: {list(stages)}")
    names = [_wrap(name, 28) for name, _ in stages]
    counts = [count for _, count in stages]
    labels = [_count_label(count, counts[0]) for count in counts]
    left, right = _width(names) + 0.2, _width(labels) + 0.15
    with _figure(title, 0.4 * len(stages), left=left, right=right, bottom=0.1) as (fig, ax):
        bars = ax.barh(range(len(stages)), counts, color=BAR)
        for bar in bars:
            bar.set_gid("sr-bar")
        ax.bar_label(bars, labels, padding=3)  # past the bar end, into the right margin
        ax.set_yticks(range(len(stages)), names)
        ax.set_ylim(len(stages) - 0.5, -0.5)  # first stage on top
        ax.set_xlim(0, max(*counts, 1))
        ax.xaxis.set_visible(False)
        ax.spines["bottom"].set_visible(False)
        ax.tick_params(axis="y", length=0)
        return _svg(fig, title)


def histogram(
    values: Sequence[float],
    title: str,
    xlabel: str,
    marks: Mapping[str, float] = {},
    empty: str = "no data",
) -> str:
    """How many values fall in each bin (one bin per whole number when the values are whole
    and span fewer than MAX_BINS), with a vertical line per mark named in a legend.
    NaN and infinite values and marks are dropped."""
    finite: npt.NDArray[np.float64] = np.array([v for v in values if math.isfinite(v)], float)
    if finite.size == 0:
        return no_data(title, empty)
    whole = bool(np.all(finite == np.round(finite)))
    counts, edges = np.histogram(finite, bins=_bins(finite, whole))
    shown = [(name, v) for name, v in marks.items() if math.isfinite(v)]
    left = _width([str(counts.max())]) + 0.3
    with _figure(title, 2.2, left=left, legend=bool(shown)) as (fig, ax):
        bars = ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color=BAR)
        for bar in bars:
            bar.set_gid("sr-bar")
            bar.set_edgecolor("white")
        for i, (name, value) in enumerate(shown):
            style = MARK_STYLES[i % len(MARK_STYLES)]
            label = f"{name}: {_number(value)}"
            ax.axvline(value, color=ACCENT, linestyle=style, gid="sr-mark", label=label)
        if shown:
            # Above the plot, so it never hides a bar or a mark.
            ax.legend(loc="lower right", bbox_to_anchor=(1, 1), ncols=len(shown), frameon=False)
        ax.set_xlabel(xlabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=whole))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        return _svg(fig, title)


def intervals(rows: Sequence[Interval], title: str, unit: str, empty: str = "no data") -> str:
    """One row per interval, top to bottom: a dot at the value with its number above, a bar
    from low to high, the note in grey to the right. Rows whose value is not finite are
    dropped; a row whose bounds are not finite gets the dot alone."""
    shown = [row for row in rows if math.isfinite(row.value)]
    if not shown:
        return no_data(title, empty)
    names = [_wrap(row.label, 28) for row in shown]
    notes = _width([row.note for row in shown], size=9)
    height = 0.5 * len(shown) + 0.1
    with _figure(title, height, left=_width(names) + 0.2, right=notes + 0.25) as (fig, ax):
        for y, row in enumerate(shown):
            right = row.value
            if math.isfinite(row.low) and math.isfinite(row.high):
                low, high = sorted((row.low, row.high))
                ax.plot([low, high], [y, y], color=BAR, linewidth=2, gid="sr-interval")
                ax.plot([low, high], [y, y], "|", color=BAR, markersize=10)
                right = max(high, row.value)
            ax.plot([row.value], [y], "o", color=ACCENT, markersize=7, gid="sr-point")
            _note(ax, _number(row.value), (row.value, y), (0, 7), ha="center", va="bottom")
            if row.note:
                _note(ax, row.note, (right, y), (8, 0), ha="left", va="center", color=GREY)
        ax.set_yticks(range(len(shown)), names)
        ax.set_ylim(len(shown) - 0.4, -0.7)  # first row on top, room for the value above it
        ax.margins(x=0.1)
        ax.tick_params(axis="y", length=0)
        ax.set_xlabel(unit)
        return _svg(fig, title)


def burndown(
    budget: int | None,
    days: Sequence[date],
    spent: Sequence[int],
    title: str,
    empty: str = "no data",
) -> str:
    """The running total of `spent` (spent[i] is what was spent on days[i]) as a step line
    that holds each day's total until the next day; the budget as a horizontal line."""
    if len(days) != len(spent):
        raise ValueError(f"days and spent differ in length: {len(days)} != {len(spent)}")
    if not days:
        return no_data(title, empty)
    ordered = sorted(zip(days, spent, strict=True), key=lambda pair: pair[0])
    # Day numbers, not dates: whole-day ticks, shown as ISO dates (no month names to translate).
    xs = [day.toordinal() for day, _ in ordered]
    totals = list(accumulate(amount for _, amount in ordered))
    # One more day at the last total, so the last (or only) day is a visible step.
    xs.append(xs[-1] + 1)
    totals.append(totals[-1])
    levels = [0, *totals] if budget is None else [0, budget, *totals]
    left = _width([str(min(levels)), str(max(levels))]) + 0.3
    with _figure(title, 2.2, left=left, right=0.45, bottom=0.7) as (fig, ax):
        ax.plot(xs, totals, drawstyle="steps-post", color=BAR, linewidth=2, gid="sr-spent")
        if budget is not None:
            ax.axhline(budget, color=ACCENT, linestyle="--", gid="sr-budget")
            _note(
                ax,
                f"{budget}",
                (1, budget),
                (-4, 3),
                ha="right",
                va="bottom",
                color=ACCENT,
                xycoords=("axes fraction", "data"),
            )
        ax.set_ylim(min(levels), max(levels) * 1.08 or 1)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        ax.xaxis.set_major_locator(MaxNLocator(nbins=7, integer=True))
        ax.xaxis.set_major_formatter(FuncFormatter(_iso_day))
        ax.tick_params(axis="x", labelrotation=30)
        return _svg(fig, title)


def no_data(title: str, message: str) -> str:
    """A short plot-wide box with the title and why there is nothing to draw."""
    with _figure(title, 0.6, bottom=0.1) as (fig, ax):
        ax.set_axis_off()
        ax.text(
            0.5, 0.5, _wrap(message, 70), ha="center", va="center", color=GREY, gid="sr-no-data"
        )
        return _svg(fig, title)


@contextmanager
def _figure(
    title: str,
    plot_height: float,
    *,
    left: float = 0.3,
    right: float = 0.3,
    bottom: float = 0.6,
    legend: bool = False,
) -> Iterator[tuple[Figure, Axes]]:
    """One axes `plot_height` inches tall, margins in inches, the title on top.

    Margins come from measured text rather than a layout engine, which would draw the
    figure twice more and double the time a plot takes."""
    with matplotlib.rc_context(
        {
            "svg.fonttype": "none",  # keep <text>: browser fonts, small file
            "svg.hashsalt": "skillrelay-report",  # stable clip/marker ids: reproducible output
            "font.family": "sans-serif",
            "font.sans-serif": FONTS,
            "font.size": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        heading = _wrap(title, 70)
        top = 0.25 + 0.2 * heading.count("\n") + 0.2 + (0.3 if legend else 0)
        height = top + plot_height + bottom
        fig = Figure(figsize=(WIDTH, height))
        left = min(left, WIDTH * 0.45)  # labels are wrapped; this only bounds a pathological one
        fig.subplots_adjust(
            left=left / WIDTH, right=1 - right / WIDTH, bottom=bottom / height, top=1 - top / height
        )
        fig.text(0.12 / WIDTH, 1 - 0.12 / height, heading, ha="left", va="top", fontsize=12)
        yield fig, fig.add_subplot()


_ID = re.compile(r'(<[^>]*?) id="([^"]*)"')  # in a tag: text has "<" escaped, attributes ">"
_REFERENCE = re.compile(r'(?:url\(#|href="#)([^)"]+)')


def _svg(fig: Figure, title: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata=NO_METADATA)
    text = buffer.getvalue().decode("utf-8")
    text = text[text.index("<svg") :]
    # Several plots share one HTML page, so ids must not repeat: our gids become classes,
    # matplotlib's counters ("figure_1", ...) go unless something refers to them.
    referenced = set(_REFERENCE.findall(text))

    def rename(match: re.Match[str]) -> str:
        tag, name = match.groups()
        if name.startswith("sr-"):
            return f'{tag} class="{name}"'
        return match.group(0) if name in referenced else tag

    text = _ID.sub(rename, text)
    head_end = text.index(">") + 1
    head = text[: head_end - 1] + f' role="img" aria-label={quoteattr(title)}>'
    return f"{head}\n <title>{escape(title)}</title>{text[head_end:]}"


def _note(ax: Axes, text: str, xy: tuple[float, float], offset: tuple[int, int], **kw: Any) -> None:
    ax.annotate(text, xy, offset, textcoords="offset points", fontsize=9, **kw)


def _width(texts: Iterable[str], size: float = 10) -> float:
    """Inches the widest line of `texts` takes in the plots' font."""
    font = FontProperties(family=FONTS[0], size=size)
    lines = [line for text in texts for line in text.split("\n")]
    points = [text_to_path.get_text_width_height_descent(s, font, ismath=False)[0] for s in lines]
    return max(points, default=0.0) / 72


def _count_label(count: int, first: int) -> str:
    if first <= 0:
        return f"{count}"
    share = 100 * count / first
    percent = "<1" if 0 < share < 1 else f"{share:.0f}"
    return f"{count} ({percent}%)"


def _bins(values: npt.NDArray[np.float64], whole: bool) -> npt.NDArray[np.float64]:
    low, high = float(values.min()), float(values.max())
    if whole and high - low < MAX_BINS:
        return np.arange(low - 0.5, high + 1.5)  # one bar per whole number: days read as days
    # Sturges, not "auto": one far outlier cannot ask for millions of bins.
    return np.histogram_bin_edges(values, bins="sturges")


def _number(value: float) -> str:
    return f"{round(value, 1):g}"  # 6.5, 12, 3.1 (not 3.14159): days read at a glance


def _iso_day(value: float, _position: int | None = None) -> str:
    return date.fromordinal(int(value)).isoformat()


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text
