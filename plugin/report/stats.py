"""Medians, quantiles and bootstrap intervals over people (numpy, vectorised).

People, not tickets, are resampled: one person's tickets are not independent of each other,
so an interval over tickets would look surer than the data is. The seed is fixed: the same
events give the same report, figures and intervals alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

ROUNDS = 1000
SEED = 20260301
CHUNK = 2_000_000  # values drawn per chunk: memory stays flat for 100,000 people
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Estimate:
    value: float | None
    low: float | None
    high: float | None


NONE = Estimate(None, None, None)


def quantiles(values: Sequence[float], qs: Sequence[float]) -> list[float | None]:
    if not values:
        return [None for _ in qs]
    found = np.quantile(np.asarray(values, dtype=float), qs)
    return [float(v) for v in found]


def _rounds(
    n: int, statistic: Callable[[npt.NDArray[np.intp]], Floats], seed: int = SEED
) -> Floats:
    rng = np.random.default_rng(seed)
    per_chunk = max(1, CHUNK // max(n, 1))
    out: list[Floats] = []
    done = 0
    while done < ROUNDS:
        size = min(per_chunk, ROUNDS - done)
        out.append(statistic(rng.integers(0, n, size=(size, n))))
        done += size
    return np.concatenate(out)


def _interval(point: float, draws: Floats) -> Estimate:
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return Estimate(point, None, None)
    low, high = np.quantile(draws, [0.025, 0.975])
    return Estimate(point, float(low), float(high))


def median(values: Sequence[float]) -> Estimate:
    """The median over people (one value each) and its 95% bootstrap interval."""
    if not values:
        return NONE
    data = np.asarray(values, dtype=float)
    draws = _rounds(data.size, lambda idx: np.median(data[idx], axis=1))
    return _interval(float(np.median(data)), draws)


def rate(hits: Sequence[int], totals: Sequence[int]) -> Estimate:
    """Sum of hits over sum of totals (per person), with people resampled."""
    whole = sum(totals)
    if whole == 0:
        return NONE
    k, n = np.asarray(hits, dtype=float), np.asarray(totals, dtype=float)

    def statistic(idx: npt.NDArray[np.intp]) -> Floats:
        below = n[idx].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(k[idx].sum(axis=1) / below, dtype=float)

    return _interval(sum(hits) / whole, _rounds(len(totals), statistic))


def change(logs: Sequence[float]) -> Estimate:
    """Per-person log ratios (after / before) to a typical relative change: exp(median) - 1."""
    if not logs:
        return NONE
    data = np.asarray(logs, dtype=float)
    draws = _rounds(data.size, lambda idx: np.median(data[idx], axis=1))
    found = _interval(float(np.median(data)), draws)
    return _relative(found)


def difference(treated: Sequence[float], control: Sequence[float]) -> Estimate:
    """Difference in differences of the median log ratios, as a relative change; both groups
    resampled independently."""
    if not treated or not control:
        return NONE
    a, b = np.asarray(treated, dtype=float), np.asarray(control, dtype=float)
    draws_a = _rounds(a.size, lambda idx: np.median(a[idx], axis=1))
    draws_b = _rounds(b.size, lambda idx: np.median(b[idx], axis=1), SEED + 1)
    point = float(np.median(a) - np.median(b))
    return _relative(_interval(point, draws_a - draws_b))


def _relative(found: Estimate) -> Estimate:
    def rel(x: float | None) -> float | None:
        return None if x is None else float(np.expm1(x))

    return Estimate(rel(found.value), rel(found.low), rel(found.high))
