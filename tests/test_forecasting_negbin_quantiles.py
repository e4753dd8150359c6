"""Daily quantiles from a negative binomial with each series' own dispersion (calibration.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from feedkit import poisson_backtest
from scipy import stats

from restock.forecasting import ForecastSettings
from restock.forecasting.calibration import (
    fit_calibration,
    negbin_daily_quantiles,
    negbin_quantiles,
    series_dispersion,
    shrunk_dispersion,
)
from restock.forecasting.final import quantile_tables


def test_negbin_quantiles_match_scipy_on_small_and_large_means():
    rng = np.random.default_rng(3)
    mean = np.concatenate([rng.gamma(0.5, 4, 400) + 0.01, rng.uniform(50, 3000, 100)])
    alpha = rng.gamma(1.0, 0.4, 500) * (rng.random(500) < 0.8)  # a fifth Poisson
    levels = np.array([0.5, 0.9, 0.95, 0.99])
    got = negbin_quantiles(mean, alpha, levels)
    r = 1 / np.maximum(alpha, 1e-12)
    want = np.stack([np.where(alpha > 0, stats.nbinom.ppf(p, r, r / (r + mean)),
                              stats.poisson.ppf(p, mean)) for p in levels], axis=1)
    small = want < 100
    assert (got[small] == want[small]).all()  # exact where the pmf is summed
    assert np.abs(got - want).max() / np.maximum(want, 1).max() < 0.02
    assert np.mean(np.abs(got[~small] - want[~small]) / want[~small]) < 0.005


def test_negbin_quantiles_broadcast_levels_and_zero_mean():
    q = negbin_quantiles(np.array([[0.0, 2.0]]), np.array([[0.5]]), np.array([[[0.9], [0.99]]]))
    assert q.shape == (1, 2, 1)
    assert q[0, 0, 0] == 0
    assert q[0, 1, 0] == stats.nbinom.ppf(0.99, 2.0, 2.0 / 4.0)


def test_series_dispersion_is_poisson_zero_and_overdispersed_positive():
    rng = np.random.default_rng(5)
    poisson = rng.poisson(5.0, 2000).astype(float)
    nb = rng.negative_binomial(2.0, 2.0 / 7.0, 2000).astype(float)  # mean 5, alpha 0.5
    never = np.zeros(2000)
    young = np.full(2000, np.nan)
    young[-1] = 3.0
    alpha, days = series_dispersion(np.vstack([poisson, nb, never, young]), 1999, 2000)
    assert alpha[0] == pytest.approx(0.0, abs=0.02)
    assert alpha[1] == pytest.approx(0.5, rel=0.2)
    assert np.isnan(alpha[2]) and np.isnan(alpha[3])
    assert list(days) == [2000, 2000, 2000, 1]


def test_shrunk_dispersion_leans_on_the_unit_when_history_is_short():
    alpha = np.array([0.0, 1.0, 2.0, np.nan, 0.3])
    days = np.array([28, 28, 28, 0, 28])
    groups = np.array(["a", "a", "a", "a", "b"])
    out = shrunk_dispersion(alpha, days, groups, shrink_days=28.0)
    assert out[3] == pytest.approx(1.0)  # no estimate: the unit median
    assert out[0] == pytest.approx(0.5) and out[2] == pytest.approx(1.5)
    assert out[4] == pytest.approx(0.3)  # alone in its unit: its own median
    assert np.array_equal(shrunk_dispersion(alpha, days, groups, 0.0)[[0, 1, 2]], alpha[:3])


def test_negbin_daily_p90_covers_about_90_percent_and_is_sharper_for_fast_movers():
    rng = np.random.default_rng(11)
    n, h = 400, 28
    mean = np.repeat(rng.uniform(0.2, 40, n)[:, None], h, axis=1)
    alpha = np.full(n, 0.2)
    draws = rng.negative_binomial(1 / alpha[:, None], 1 / (1 + alpha[:, None] * mean))
    q = negbin_daily_quantiles(np.array([0.5, 0.9, 0.99]), mean, alpha)
    # integer quantiles: coverage at or just above nominal
    assert 0.89 <= (draws <= q[0.9]).mean() <= 0.95
    assert 0.985 <= (draws <= q[0.99]).mean()
    assert (q[0.5] <= q[0.9]).all() and (q[0.9] <= q[0.99]).all()
    assert np.array_equal(q[0.9], np.round(q[0.9]))


def test_quantile_tables_use_the_dispersion_when_given():
    n, folds, h = 40, 2, 7
    rng, fc, actual, sample = poisson_backtest(2, n, folds, h)
    cal = fit_calibration(sample, {"m": fc}, actual, actual, fc.mean(axis=2),
                          ForecastSettings(horizon=h))
    rows = pd.DataFrame({"sku": ["a", "b"], "location": ["L", "L"], "category": ["C", "C"],
                         "unit": ["C/smooth"] * 2, "demand_class": ["smooth"] * 2,
                         "model": ["m", "m"]})
    forecast = np.array([[2.0] * h, [50.0] * h])
    tables = quantile_tables(rows, forecast, np.array([2.0, 50.0]), cal, pd.Timestamp("2024-01-01"),
                             dispersion=np.array([0.0, 0.1]))
    daily = tables.daily
    first = daily[daily["sku"] == "a"].iloc[0]
    assert first["p90"] == stats.poisson.ppf(0.9, 2.0)
    second = daily[daily["sku"] == "b"].iloc[0]
    assert second["p99"] == pytest.approx(stats.nbinom.ppf(0.99, 10.0, 10.0 / 60.0), rel=0.01)
    assert len(tables.cumulative)  # the cumulative table is still built from the pools


def test_fractional_series_keep_the_scaled_pools():
    from restock.forecasting.calibration import daily_quantiles, is_count_series

    sales = np.array([[1.0, 0.0, np.nan, 3.0], [0.5, 1.25, 0.0, 2.0]])
    assert list(is_count_series(sales, 3, 4)) == [True, False]
    rng = np.random.default_rng(2)
    n, h = 30, 7
    fc = rng.uniform(0.5, 5, size=(n, 2, h))
    sample = pd.DataFrame({"unit": ["C/smooth"] * n, "demand_class": ["smooth"] * n})
    cal = fit_calibration(sample, {"m": fc}, rng.poisson(fc).astype(float),
                          rng.poisson(fc).astype(float), fc.mean(axis=2),
                          ForecastSettings(horizon=h))
    rows = pd.DataFrame({"sku": ["a", "b"], "location": ["L", "L"], "category": ["C", "C"],
                         "unit": ["C/smooth"] * 2, "demand_class": ["smooth"] * 2,
                         "model": ["m", "m"]})
    forecast = np.array([[2.0] * h, [1.3] * h])
    level = np.array([2.0, 1.3])
    tables = quantile_tables(rows, forecast, level, cal, pd.Timestamp("2024-01-01"),
                             dispersion=np.array([0.0, np.nan]))
    scaled = daily_quantiles(cal, rows[["unit", "demand_class", "model"]], forecast, level)
    b = tables.daily[tables.daily["sku"] == "b"]
    assert np.allclose(b["p90"].to_numpy(), scaled[0.9][1])
    a = tables.daily[tables.daily["sku"] == "a"]
    assert (a["p90"] == stats.poisson.ppf(0.9, 2.0)).all()


def test_daily_quantiles_are_held_to_the_multiple_of_the_best_day_or_the_forecast():
    from restock.forecasting.calibration import daily_history_cap

    # a: best day 2 units; b: best day 10 units, forecast above it on the last day
    history = np.array([[1.0, 2.0, 0.0, np.nan], [10.0, 3.0, 4.0, 99.0]])
    forecast = np.array([[1.0, 1.0, 1.0], [4.0, 5.0, 12.0]])
    cap = daily_history_cap(history, 2, forecast, 3.0)  # column 3 is after ``end``
    assert cap.tolist() == [[6.0, 6.0, 6.0], [30.0, 30.0, 36.0]]
    # a fractional series with a wide pool: its scaled-pool daily p99 is cut to the cap, the
    # lower quantiles keep their order
    rng = np.random.default_rng(3)
    n, h = 30, 3
    fc = rng.uniform(0.5, 5, size=(n, 2, h))
    sample = pd.DataFrame({"unit": ["C/smooth"] * n, "demand_class": ["smooth"] * n})
    actual = (rng.poisson(fc) * rng.choice([1.0, 40.0], p=[0.9, 0.1], size=fc.shape))
    cal = fit_calibration(sample, {"m": fc}, actual, actual, fc.mean(axis=2),
                          ForecastSettings(horizon=h))
    rows = pd.DataFrame({"sku": ["a", "b"], "location": ["L", "L"], "category": ["C", "C"],
                         "unit": ["C/smooth"] * 2, "demand_class": ["smooth"] * 2,
                         "model": ["m", "m"]})
    args = (rows, forecast, np.array([1.0, 5.0]), cal, pd.Timestamp("2024-01-01"))
    free = quantile_tables(*args, dispersion=np.array([np.nan, np.nan])).daily
    held = quantile_tables(*args, dispersion=np.array([np.nan, np.nan]), daily_cap=cap).daily
    assert (free.loc[free["sku"] == "a", "p99"] > 6.0).any()  # the pool's tail, uncapped
    assert (held["p99"].to_numpy() <= cap.ravel() + 1e-9).all()
    cols = ["p50", "p90", "p95", "p99"]
    assert (np.diff(held[cols].to_numpy(), axis=1) >= -1e-9).all()
