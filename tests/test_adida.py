"""adida_weekly: weekly totals smoothed and spread back over the weekdays (aggregate.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from test_forecasting_pipeline import CANDIDATES, synthetic_demand

from restock.forecasting import ForecastSettings, run_forecasting
from restock.forecasting.aggregate import adida_weekly_forecast, weekly_totals


def test_weekly_totals_end_on_the_cutoff_and_skip_partial_weeks():
    values = np.arange(20, dtype=float)[None, :]
    weekly, n = weekly_totals(values, np.array([0]))
    assert n[0] == 2 and np.allclose(weekly[0], [values[0, 6:13].sum(), values[0, 13:].sum()])


def test_orders_on_weekdays_only_spread_by_weekday_and_sum_to_the_weekly_level():
    dates = pd.date_range("2024-01-01", periods=26 * 7)  # a Monday
    orders = np.zeros(len(dates))
    orders[dates.weekday == 1] = 70.0  # one big order every Tuesday
    fc = adida_weekly_forecast(orders[None, :], np.array([0]), dates, 14)
    assert np.allclose(fc.reshape(2, 7).sum(axis=1), 70.0)
    tuesday = pd.date_range(dates[-1] + pd.Timedelta(days=1), periods=14).weekday == 1
    assert fc[0, tuesday].min() > 5 * fc[0, ~tuesday].max()  # its weekday gets most of it


def test_adida_weekly_is_a_backtested_candidate():
    demand = synthetic_demand(150).drop(columns="true_demand")
    settings = ForecastSettings(candidates=[*CANDIDATES, "adida_weekly"], sample_per_unit=10,
                                folds=2)
    result = run_forecasting(demand, demand["date"].max(), settings)
    scored = result.backtest_metrics.groupby("model")["rmsse"].mean()
    assert "adida_weekly" in scored.index and np.isfinite(scored["adida_weekly"])
