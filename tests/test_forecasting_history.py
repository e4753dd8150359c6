"""Histories of any length: the backtest plan adapts, short feeds publish with the reason."""

from __future__ import annotations

import pandas as pd
import pytest
from test_forecasting_pipeline import CANDIDATES, synthetic_demand

from restock.forecasting import ForecastSettings, run_forecasting
from restock.forecasting.folds import plan_backtest


def test_configured_plan_is_kept_on_a_long_history():
    plan = plan_backtest(400, ForecastSettings())
    assert (plan.folds, plan.horizon, plan.step, plan.min_history) == (3, 28, 28, 56)
    assert plan.reductions == () and plan.reason is None


def test_folds_shrink_to_what_the_history_allows():
    plan = plan_backtest(120, ForecastSettings())  # 120 - 28 - 28 = 64 >= 56: two folds
    assert plan.folds == 2 and plan.horizon == 28
    assert "folds 3 -> 2" in plan.reductions[0]


def test_short_history_halves_the_fit_history_then_the_horizon():
    frn = plan_backtest(76, ForecastSettings())  # FreshRetailNet: 90 days, 14 held out
    assert (frn.folds, frn.horizon, frn.min_history) == (1, 28, 28)
    short = plan_backtest(40, ForecastSettings())
    assert (short.folds, short.horizon, short.step, short.min_history) == (1, 12, 12, 28)
    assert "horizon 28 -> 12" in short.reductions[0]


def test_no_room_for_a_fold_gives_the_reason():
    plan = plan_backtest(20, ForecastSettings())
    assert plan.folds == 0 and "20 days" in plan.reason and "35 days" in plan.reason


def _run(days: int):
    demand = synthetic_demand(days).drop(columns="true_demand")
    settings = ForecastSettings(candidates=CANDIDATES, sample_per_unit=20)
    return run_forecasting(demand, demand["date"].max(), settings), demand


@pytest.mark.parametrize("days", [60])
def test_a_60_day_feed_is_backtested(days):
    result, demand = _run(days)
    assert result.backtest_metrics["fold"].nunique() >= 1
    assert result.model_selection["score"].notna().all()
    assert any("folds 3 -> 1" in a for a in result.adaptations)
    n_series = demand[["sku", "location"]].drop_duplicates().shape[0]
    assert len(result.demand_forecasts) == n_series * 28


def test_a_20_day_feed_publishes_with_the_reason():
    result, demand = _run(20)
    assert result.backtest_metrics.empty
    sel = result.model_selection
    assert sel["reason"].str.startswith("No backtest: the history holds 20 days").all()
    assert set(sel["selected_model"]) <= {"auto_ets", "croston_sba", "moving_average"}
    fc = result.demand_forecasts
    assert len(fc) == demand[["sku", "location"]].drop_duplicates().shape[0] * 28
    assert fc["forecast"].notna().all() and (fc["p90"] >= fc["p50"]).all()
    assert not fc["is_cold_start"].all()  # two weeks of history forecast from their own demand
    assert any("cold-start threshold" in a for a in result.adaptations)
    assert pd.Series(result.cumulative_quantiles["quantity"]).notna().all()
