"""Time grain: feed.yml, detection, and forecasts at week / month grain spread to days."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from feedkit import base_feed, write_feed

from restock.feed.errors import FeedError
from restock.feed.reader import load_feed
from restock.grain import detect_grain


def _weekly_sales(weeks: int = 12) -> list[dict]:
    rows, line = [], 0
    for w in range(weeks):
        day = pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=w)  # Mondays
        for sku, loc, qty in (("A", "S1", 30), ("B", "S1", 12), ("A", "S2", 7)):
            line += 1
            rows.append({"order_id": f"W{w}", "line_id": str(line), "date": day.date().isoformat(),
                         "sku": sku, "location": loc, "quantity": str(qty + w % 3),
                         "unit_price": "2.0", "promo": "false", "customer_id": ""})
    return rows


def test_feed_yml_grain_is_read_and_recorded(tmp_path):
    tables = base_feed()
    write_feed(tmp_path, tables)
    (tmp_path / "feed.yml").write_text("# totals per week\ngrain: week\n")
    con = duckdb.connect()
    result = load_feed(tmp_path, con)
    assert (result.grain, result.grain_source) == ("week", "feed.yml")
    assert con.execute("select grain, grain_source from raw._feed").fetchall() == [
        ("week", "feed.yml")]


def test_a_bad_grain_in_feed_yml_is_a_feed_error(tmp_path):
    write_feed(tmp_path, base_feed())
    (tmp_path / "feed.yml").write_text("grain: fortnight\n")
    with pytest.raises(FeedError, match="fortnight"):
        load_feed(tmp_path, duckdb.connect())


def test_weekly_dates_are_detected_without_feed_yml(tmp_path):
    tables = base_feed()
    tables = {"products": tables["products"], "locations": tables["locations"],
              "sales": _weekly_sales()}
    write_feed(tmp_path, tables)
    con = duckdb.connect()
    result = load_feed(tmp_path, con)
    assert (result.grain, result.grain_source) == ("week", "detected")
    daily = duckdb.connect()
    write_feed(tmp_path / "daily", base_feed())
    assert load_feed(tmp_path / "daily", daily).grain == "day"


def test_detect_grain_needs_evidence_and_agreement():
    mondays = pd.date_range("2024-01-01", periods=30, freq="7D")
    assert detect_grain(["a"] * 30, mondays) == "week"
    assert detect_grain(["a"] * 5, mondays[:5]) == "day"  # too little evidence
    firsts = pd.date_range("2022-01-01", periods=30, freq="MS")
    assert detect_grain(["a"] * 30, firsts) == "month"
    days = pd.date_range("2024-01-01", periods=30)
    assert detect_grain(["a"] * 30, days) == "day"
    # each series on its own weekday is still weekly
    tuesdays = mondays + pd.Timedelta(days=1)
    assert detect_grain(["a"] * 30 + ["b"] * 30, np.concatenate([mondays, tuesdays])) == "week"


def test_days_of_a_period_sum_to_its_forecast_and_cumulative_keeps_period_quantiles():
    from restock.forecasting.periods import cumulative_days, day_positions, spread_to_days

    idx, lengths = day_positions(28, pd.Timestamp("2024-03-11"), "week")
    assert list(idx) == [0] * 7 + [1] * 7 + [2] * 7 + [3] * 7
    weekly = np.array([[70.0, 35.0, 14.0, 7.0]])
    daily = spread_to_days(weekly, idx, lengths)
    assert np.allclose(daily.reshape(4, 7).sum(axis=1), weekly[0])
    cum_p90 = np.array([[90.0, 150.0, 180.0, 200.0]])
    cum = cumulative_days(cum_p90, idx, lengths)
    assert np.allclose(cum[0, [6, 13, 20, 27]], cum_p90[0])  # whole weeks: the period quantile
    assert np.isclose(cum[0, 2], 90.0 * 3 / 7)  # three days into the first week
    m_idx, m_len = day_positions(60, pd.Timestamp("2024-02-01"), "month")
    assert m_len[0] == 29 and m_idx[28] == 0 and m_idx[29] == 1 and m_len[29] == 31


def _weekly_demand(weeks: int = 60, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    mondays = pd.date_range("2023-01-02", periods=weeks, freq="7D")
    frames = []
    for j in range(12):
        lumpy = j % 2 == 1
        qty = (rng.binomial(1, 0.3, weeks) * rng.poisson(20, weeks) if lumpy
               else rng.poisson(50 + 5 * j, weeks)).astype(float)
        qty[0] = max(qty[0], 1.0)
        frames.append(pd.DataFrame({"sku": f"P{j}", "location": "W", "category": "SPARES",
                                    "date": mondays, "units_sold": qty}))
    return pd.concat(frames, ignore_index=True)


def test_a_weekly_feed_is_detected_forecast_weekly_and_spread_to_days():
    from restock.forecasting import ForecastSettings, run_forecasting

    demand = _weekly_demand()
    as_of = demand["date"].max()
    settings = ForecastSettings(candidates=["seasonal_naive", "moving_average", "croston_sba"],
                                horizon=28)
    result = run_forecasting(demand, as_of, settings)
    assert result.grain == "week"
    fc = result.demand_forecasts
    assert fc["date"].min() == as_of + pd.Timedelta(days=1)
    assert fc.groupby("sku").size().eq(28).all()
    # a smooth part selling ~50-105 a week: its daily rate is about a seventh of that
    one = fc[fc["sku"] == "P4"]
    assert 0.5 * 70 / 7 < one["forecast"].mean() < 1.5 * 70 / 7
    weekly_sum = one["forecast"].to_numpy().reshape(4, 7).sum(axis=1)
    assert np.allclose(weekly_sum, weekly_sum[0] * np.ones(4), rtol=0.5)
    assert (result.backtest_metrics["fold"].nunique() > 0)
    assert pd.DatetimeIndex(result.backtest_metrics["cutoff"]).weekday.unique().tolist() == [0]
    cum = result.cumulative_quantiles
    mean7 = cum[(cum["sku"] == "P4") & (cum["level"] == 0) & (cum["horizon_days"] == 7)]
    assert np.isclose(mean7["quantity"].iloc[0], one["forecast"].iloc[:7].sum())
    assert result.model_selection["reason"].str.startswith("Forecast at weekly grain").all()
    assert any("week grain" in a for a in result.adaptations)


def _monthly_demand(months: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    starts = pd.date_range("2021-01-01", periods=months, freq="MS")
    return pd.concat([pd.DataFrame({
        "sku": f"M{j}", "location": "W", "category": "SPARES", "date": starts,
        "units_sold": rng.poisson(30 * (j + 1), len(starts)).astype(float) + 1})
        for j in range(6)], ignore_index=True)


def test_a_monthly_feed_publishes_daily_rates_that_sum_to_the_months():
    from restock.forecasting import ForecastSettings, run_forecasting

    demand = _monthly_demand(30, seed=3)
    months = pd.DatetimeIndex(sorted(demand["date"].unique()))
    as_of = months[-1]
    settings = ForecastSettings(candidates=["seasonal_naive", "moving_average"], horizon=60)
    result = run_forecasting(demand, as_of, settings)
    assert result.grain == "month"
    fc = result.demand_forecasts
    one = fc[fc["sku"] == "M2"].sort_values("date")
    assert len(one) == 60 and one["date"].iloc[0] == as_of + pd.Timedelta(days=1)
    # the first forecast month (laid from as_of + 1) has July's 31 days at one rate
    assert np.allclose(one["forecast"].iloc[:31], one["forecast"].iloc[0])
    assert 0.5 * 90 < one["forecast"].iloc[:31].sum() < 1.5 * 90


def test_the_years_average_is_a_weekly_and_monthly_candidate_over_52_weeks_or_12_months():
    from sktime.forecasting.base import ForecastingHorizon

    from restock.forecasting import ForecastSettings
    from restock.forecasting.models import make_panel_forecaster
    from restock.forecasting.periods import period_settings

    daily = ForecastSettings()
    assert "moving_average_long" not in daily.candidates  # daily feeds do not try it
    for grain, window in (("week", 52), ("month", 12)):
        periods = period_settings(daily, grain)
        assert "moving_average_long" in periods.candidates
        assert periods.long_average_window == window
    # the panel forecaster averages exactly the last long_average_window steps
    weekly = period_settings(daily, "week")
    values = np.r_[np.full(20, 100.0), np.arange(52, dtype=float)]  # last 52: mean 25.5
    y = pd.DataFrame({"demand": values},
                     index=pd.date_range("2000-01-03", periods=len(values), freq="D"))
    forecaster = make_panel_forecaster(["moving_average_long"], weekly)
    forecaster.fit(y, fh=ForecastingHorizon([1, 2, 3]))
    pred = forecaster.predict_by_model(ForecastingHorizon([1, 2, 3]))
    assert np.allclose(pred["moving_average_long"].to_numpy(), 25.5)


def test_the_replay_of_a_weekly_feed_plans_at_weekly_grain_as_the_nightly_does():
    from restock.forecasting import ForecastSettings, run_forecasting
    from restock.forecasting.period_planner import PeriodReplayPlanner
    from restock.forecasting.planner import make_replay_planner

    demand = _weekly_demand(weeks=70)
    start = pd.Timestamp("2023-01-02") + pd.Timedelta(weeks=55)  # a Monday
    settings = ForecastSettings(candidates=["seasonal_naive", "moving_average", "croston_sba"],
                                horizon=28)
    planner = make_replay_planner(demand, start, settings)
    assert isinstance(planner, PeriodReplayPlanner)
    # at each review, the plan is the nightly's forecast of the weeks known on that night
    # (same selection and calibration: those of the replay start)
    nightly = run_forecasting(demand[demand["date"] <= start], start, settings)
    key = ["sku", "location", "horizon_days", "level"]
    at_start = planner(start).cumulative.merge(nightly.cumulative_quantiles, on=key)
    assert len(at_start) == len(nightly.cumulative_quantiles)
    assert np.allclose(at_start["quantity_x"], at_start["quantity_y"])
    # mid-week, the week that started Monday is known: days run from t + 1 to the next weeks
    wednesday = start + pd.Timedelta(days=9)
    plan = planner(wednesday)
    assert plan.daily["date"].min() == wednesday + pd.Timedelta(days=1)
    assert plan.daily.groupby("sku").size().eq(28).all()
    # a smooth part's daily rate is about a seventh of its weekly level (50-105 a week)
    p4 = plan.daily[plan.daily["sku"] == "P4"]["forecast"]
    assert 0.5 * 70 / 7 < p4.mean() < 1.5 * 70 / 7
    # nothing after the review is seen: changing later weeks leaves the plan as it was
    later = demand.assign(units_sold=np.where(demand["date"] > wednesday, 1e4,
                                              demand["units_sold"]))
    again = make_replay_planner(later, start, settings)(wednesday)
    assert np.allclose(again.cumulative["quantity"], plan.cumulative["quantity"])


def test_the_replay_of_a_monthly_feed_spreads_the_next_months_over_their_days():
    from restock.forecasting import ForecastSettings
    from restock.forecasting.period_planner import PeriodReplayPlanner
    from restock.forecasting.planner import make_replay_planner

    demand = _monthly_demand(36, seed=4)
    months = pd.DatetimeIndex(sorted(demand["date"].unique()))
    settings = ForecastSettings(candidates=["seasonal_naive", "moving_average"], horizon=60)
    planner = make_replay_planner(demand, months[30], settings)
    assert isinstance(planner, PeriodReplayPlanner)
    review = pd.Timestamp("2023-09-20")  # September is known (dated the 1st): October next
    plan = planner(review)
    one = plan.daily[plan.daily["sku"] == "M2"].sort_values("date")
    assert len(one) == 60 and one["date"].iloc[0] == review + pd.Timedelta(days=1)
    # the next month, laid from the day after the review, is 31 days (October) at one rate
    assert np.allclose(one["forecast"].iloc[:31], one["forecast"].iloc[0])
    assert 0.5 * 90 < one["forecast"].iloc[:31].sum() < 1.5 * 90
    cum = plan.cumulative[(plan.cumulative["sku"] == "M2") & (plan.cumulative["level"] == 0)]
    month_total = cum.loc[cum["horizon_days"] == 31, "quantity"].iloc[0]
    assert np.isclose(month_total, one["forecast"].iloc[:31].sum())
