"""The report finds an effect that is there and none that is not.

A synthetic organisation (bench/report_org.py): completers' cycle time drops by a planted
share after their completion, people doing the same tickets without the module stay as they
were, with noise on people and tickets. The difference in differences must hold the planted
change inside its own interval, and hold zero when nothing was planted.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bench.report_org import SKILL, Org, fill, manifest
from plugin.report.facts import read_activity
from plugin.report.measures import Comparison, Report, build
from plugin.report.scope import make_scope
from plugin.store import Store

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def report_of(store: Store, org: Org) -> Report:
    fill(store, org)
    found = manifest(org)
    scope = make_scope(found, skill=SKILL, weeks=org.weeks)
    return build(read_activity(store, found), store.awards.list(), found, scope, NOW)


def comparison(report: Report) -> Comparison:
    [found] = report.comparisons
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_planted_25_percent_drop_is_recovered_within_its_interval(
    store: Store, seed: int
) -> None:
    c = comparison(report_of(store, Org(effect=0.75, seed=seed)))
    d = c.difference
    assert d.value is not None and d.low is not None and d.high is not None
    assert d.low <= -0.25 <= d.high  # the planted change is inside the interval
    assert d.high < 0  # and the interval tells a drop from no change
    assert -0.4 < d.value < -0.1
    assert not c.small_sample
    # The people and tickets behind each figure are stated.
    assert c.completed.people == 40 and c.completed.paired == 40
    assert c.completed.before.tickets == 240 and c.completed.after.tickets == 240
    assert c.comparison is not None and c.comparison.people == 40


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_planted_effect_gives_an_interval_around_zero(store: Store, seed: int) -> None:
    d = comparison(report_of(store, Org(effect=1.0, seed=seed))).difference
    assert d.low is not None and d.high is not None
    assert d.low <= 0 <= d.high


def test_the_completers_own_change_and_the_comparison_are_reported_apart(store: Store) -> None:
    c = comparison(report_of(store, Org(effect=0.75, seed=4)))
    mine, theirs = c.completed.change, c.comparison.change if c.comparison else None
    assert mine.value is not None and -0.35 < mine.value < -0.15
    assert theirs is not None and theirs.low is not None and theirs.high is not None
    assert theirs.low <= 0 <= theirs.high
    before, after = c.completed.before.cycle_days, c.completed.after.cycle_days
    assert before.value and after.value and after.value < before.value


def test_a_few_people_are_labelled_a_small_sample(store: Store) -> None:
    c = comparison(report_of(store, Org(completers=5, others=5, effect=0.75, seed=1)))
    assert c.small_sample
    assert c.completed.paired == 5


def test_nobody_without_the_module_leaves_no_comparison(store: Store) -> None:
    c = comparison(report_of(store, Org(completers=20, others=0, effect=0.75, seed=1)))
    assert c.comparison is None
    assert c.small_sample  # no comparison group: never shown as a finding
    assert c.difference.value is None


def test_reopen_rate_and_bug_share_come_with_their_counts(store: Store) -> None:
    c = comparison(report_of(store, Org(seed=5)))
    for side in (c.completed.before, c.completed.after):
        assert side.reopen_rate.value is not None and 0.03 < side.reopen_rate.value < 0.2
        assert side.bug_share.value is not None and 0.2 < side.bug_share.value < 0.4
        assert side.reopen_rate.low is not None and side.reopen_rate.high is not None
        assert side.reopen_rate.low <= side.reopen_rate.value <= side.reopen_rate.high
