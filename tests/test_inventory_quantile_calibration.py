"""The cumulative quantiles the reorder maths reads: scale of the errors and tail pools."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from restock.forecasting import ForecastSettings
from restock.forecasting.calibration import (
    MIN_TAIL,
    Calibration,
    cumulative_quantiles,
    cumulative_scale,
    fit_calibration,
)


def test_cumulative_scale_grows_with_the_root_of_the_total_then_linearly():
    got = cumulative_scale(np.array([4.0]), np.array([1, 4, 28, 56]), 28)
    assert got[0] == pytest.approx([2.0, 4.0, np.sqrt(112.0), 2 * np.sqrt(112.0)])


def test_each_level_comes_from_a_pool_with_enough_errors_beyond_it():
    levels = np.array([0.5, 0.9, 0.99])
    cal = Calibration(np.array([0.5]), levels, 2)
    band, unit, model = ("band", "U", "m", 0), ("unit", "U", "m"), ("model", "m")
    cal.cumulative[band] = np.array([[0.0, 1.0, 9.0], [0.0, 1.0, 9.0]])
    cal.cumulative[unit] = np.array([[0.1, 1.5, 3.0], [0.1, 1.5, 3.0]])
    cal.cumulative[("all",)] = np.array([[0.2, 2.0, 4.0], [0.2, 2.0, 4.0]])
    cal.counts.update({band: 50, unit: 600, ("all",): 5000})
    assert MIN_TAIL == 5
    # 0.5 and 0.9 have 25 and 5 errors beyond them in the band pool; 0.99 has 0.5 there, 6 in
    # the unit pool.
    table = cal.tail_table("U", "smooth", "m", 0)
    assert table.tolist() == [[0.0, 1.0, 3.0], [0.0, 1.0, 3.0]]
    assert model not in cal.cumulative  # skipped pools are fine
    # the quantity: F_k + sqrt(s k) z
    pools = pd.DataFrame({"unit": ["U"], "demand_class": ["smooth"], "model": ["m"]})
    q = cumulative_quantiles(cal, pools, np.array([[2.0, 2.0]]), np.array([2.0]))
    assert q[0, 1].tolist() == pytest.approx([4.0, 4.0 + 2.0 * 1.0, 4.0 + 2.0 * 3.0])


def test_slow_and_fast_series_in_one_pool_are_both_covered():
    """Poisson demand, levels 0.2-5 per day in one unit: the 0.9 quantile of the 14-day total
    covers about 90% of new totals for the slowest and for the fastest series alike."""
    rng = np.random.default_rng(3)
    n, folds, h = 600, 3, 14
    rate = np.exp(rng.uniform(np.log(0.2), np.log(5.0), n))
    fc = np.broadcast_to(rate[:, None, None], (n, folds, h)).copy()
    actual = rng.poisson(fc).astype(float)
    sample = pd.DataFrame({"unit": ["C/smooth"] * n, "demand_class": ["smooth"] * n})
    settings = ForecastSettings(horizon=h, cumulative_levels=[0.5, 0.8, 0.9, 0.95])
    level = fc[:, :, 0]
    cal = fit_calibration(sample, {"m": fc}, actual, actual, level, settings)
    pools = sample.assign(model="m")
    q90 = cumulative_quantiles(cal, pools, fc[:, 0], rate)[:, -1, 2]
    new = rng.poisson(rate[:, None] * h, size=(n, 400)).astype(float)
    covered = (new <= q90[:, None]).mean(axis=1)
    slow, fast = rate < np.quantile(rate, 0.2), rate > np.quantile(rate, 0.8)
    assert 0.85 <= covered[slow].mean() <= 0.96
    assert 0.85 <= covered[fast].mean() <= 0.96
