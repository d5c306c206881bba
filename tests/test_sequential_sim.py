"""The fast refusal rule's statistics on simulated counts (agenttrace_whylogs.sequential_stats and
.sequential_sim): the issue's targets (an alias update at 1,000 runs/h that raises refusals from
0.5% to 3% is flagged within 60 minutes in at least 19 of 20 seeds; 30 stationary days × 10 seeds
raise no alert), the CUSUM recursion, and the threshold's false-alarm rate."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from agenttrace_whylogs.sequential_sim import simulate
from agenttrace_whylogs.sequential_stats import (SequentialConfig, arl0, baseline_rate, cusum, design_rate, evaluate, llr_weights,
                                                 threshold)

# the simulated deployment: a store of 10-minute profile windows, the rule on overall + 2 aliases
WINDOW = timedelta(minutes=10)
STREAMS = 3


def test_alias_update_at_1000_runs_per_hour_is_flagged_within_60_minutes_in_19_of_20_seeds():
    results = [simulate(1000, 0.005, 0.03, seed, window=WINDOW, streams=STREAMS) for seed in range(20)]
    delays = [r.delay_minutes for r in results]
    assert sum(1 for d in delays if d is not None and d <= 60) >= 19, delays
    assert all(d is not None for d in delays), delays  # the others within the day
    assert sum(r.false_alarms for r in results) == 0


def test_hourly_windows_flag_it_at_the_close_of_the_first_or_second_window_after_the_change():
    delays = [simulate(1000, 0.005, 0.03, seed, window=timedelta(hours=1), streams=STREAMS).delay_minutes
              for seed in range(20)]
    assert all(d is not None and d <= 120 for d in delays), delays


def test_30_stationary_days_raise_no_alert_in_10_seeds():
    results = [simulate(1000, 0.005, 0.005, seed, change=False, monitor=timedelta(days=30), window=WINDOW, streams=STREAMS)
               for seed in range(10)]
    assert [r.alarms for r in results] == [0] * 10
    assert all(r.passes >= 30 * 144 for r in results)


def test_the_cusum_recursion():
    p0, p1 = 0.01, 0.04
    a, b = llr_weights(p0, p1)
    assert a == pytest.approx(np.log(4) + np.log(0.99 / 0.96)) and b == pytest.approx(np.log(0.99 / 0.96))
    path = cusum([0, 3, 0, 0], [100, 100, 100, 100], p0, p1)
    expected, s = [], 0.0
    for k in (0, 3, 0, 0):
        s = max(0.0, s + k * a - 100 * b)
        expected.append(s)
    assert list(path) == pytest.approx(expected)
    assert path[0] == 0.0 and path[1] > 0 and path[2] < path[1]


def test_the_design_rate_is_the_larger_of_the_relative_and_absolute_rise():
    assert design_rate(0.005, 2.0, 0.015) == pytest.approx(0.02)
    assert design_rate(0.10, 2.0, 0.015) == pytest.approx(0.20)
    assert design_rate(0.9, 2.0, 0.015) < 1.0


def test_the_threshold_gives_the_target_run_length_and_a_monte_carlo_agrees():
    p0, p1, n, target = 0.01, 0.04, 50, 300.0
    h = threshold(p0, p1, n, target)
    assert arl0(h, p0, p1, n) >= target * 0.99  # the inputs are rounded to 2 significant digits
    assert arl0(h - 0.3, p0, p1, n) < target
    rng = np.random.default_rng(7)
    a, b = llr_weights(p0, p1)
    lengths = []
    for _ in range(1500):
        s, t = 0.0, 0
        while s < h:
            s = max(0.0, s + rng.binomial(n, p0) * a - n * b)
            t += 1
        lengths.append(t)
    assert np.mean(lengths) == pytest.approx(arl0(h, p0, p1, n), rel=0.12)


def test_a_stream_with_too_small_a_baseline_is_not_tested():
    cfg = SequentialConfig(min_baseline_runs=1000)
    assert evaluate([5], [100], 2, 900, 10, WINDOW, cfg, 1) is None
    got = evaluate([5], [100], 5, 1000, 10, WINDOW, cfg, 1)
    assert got is not None and 5 / 1000 < got.p0 < 0.01   # a little above the observed rate on a small baseline


def test_the_change_time_estimate_is_where_the_cusum_last_left_zero():
    cfg = SequentialConfig(min_baseline_runs=100)
    events = [0, 1, 0, 0, 0, 8, 9, 10]
    got = evaluate(events, [200] * len(events), 10, 2000 * 10, 10 * 30, WINDOW, cfg, 1)
    assert got.alarm and got.since == 5 and got.crossed is not None and got.crossed >= 5
    assert (got.events, got.runs) == (27, 600)


def test_the_baseline_rate_is_an_upper_credible_bound_that_vanishes_with_volume():
    assert baseline_rate(3600, 720_000) == pytest.approx(0.005, rel=0.03)   # 30 days at 1,000 runs/h
    small = baseline_rate(2, 400)                                            # 0.5% observed on 400 runs
    assert 0.005 < small < 0.02
    assert baseline_rate(0, 5000) > 0
    assert baseline_rate(2, 400, quantile=0.5) < small
