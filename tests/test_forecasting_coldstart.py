"""The cold-start forecaster chosen per category by a pooled backtest (coldstart.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from restock.forecasting import ForecastSettings
from restock.forecasting.censoring import build_panel
from restock.forecasting.coldstart import (
    COLD_START_MODEL,
    LAUNCH_FACTOR_BOUNDS,
    RECENT_AVERAGE,
    choose_cold_start_models,
    recent_average_forecast,
)

DAYS = 300


def launches(category: str, n: int, launch_units: float, rate: float, seed: int) -> pd.DataFrame:
    """``n`` items launched every few days over the last 250 days: a launch order of
    ``launch_units`` on the first day, then Poisson(``rate``) a day."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2023-01-01", periods=DAYS)
    frames = []
    for j in range(n):
        start = 40 + (j * 250) // n
        units = rng.poisson(rate, DAYS - start).astype(float)
        units[0] = max(launch_units, 1.0)
        frames.append(pd.DataFrame({"sku": f"{category}_{j}", "location": "S1",
                                    "category": category, "date": dates[start:],
                                    "units_sold": units}))
    return pd.concat(frames, ignore_index=True)


def panel_of(frame: pd.DataFrame, settings: ForecastSettings):
    frame = frame.assign(is_censored=False)
    panel = build_panel(frame, frame["date"].max(), settings)
    return panel, len(panel.dates) - 1


def test_a_launch_order_sends_the_category_to_the_recent_average():
    # one big launch order, then slow sales: the profile of new items (their first 8 weeks,
    # launch included) over-forecasts; the last 28 days' average does not after the launch
    settings = ForecastSettings()
    frame = pd.concat([launches("ORDERS", 60, 200.0, 0.3, 1), launches("STEADY", 60, 5.0, 5.0, 2)])
    panel, end = panel_of(frame, settings)
    choice = choose_cold_start_models(panel, end, settings)
    chosen, scores = choice.models, choice.scores
    assert chosen["ORDERS"] == RECENT_AVERAGE
    # steady sellers from day one: the average counts the days before the launch as 0 and
    # under-forecasts, the category profile does not
    assert chosen["STEADY"] == COLD_START_MODEL
    assert set(scores["model"]) == {COLD_START_MODEL, RECENT_AVERAGE}
    assert scores["cutoff"].max() <= panel.dates[end - settings.horizon]
    # the launch orders do not come back: the average is scaled down (pooled with the steady
    # sellers, whose young items the average under-forecasts), at most to half
    assert LAUNCH_FACTOR_BOUNDS[0] <= choice.launch_factor < 0.9


def test_the_launch_factor_is_sold_over_forecast_within_its_bounds():
    settings = ForecastSettings()
    panel, end = panel_of(launches("STEADY", 60, 5.0, 5.0, 2), settings)
    # steady sellers: the average of a young item's window (days before its launch count as
    # 0) under-forecasts, and the factor never lifts it above the plain average
    assert choose_cold_start_models(panel, end, settings).launch_factor == 1.0


def test_recent_average_spreads_the_window_over_all_its_days():
    settings = ForecastSettings(horizon=5)
    frame = launches("X", 3, 28.0, 0.0, 0)
    panel, end = panel_of(frame, settings)
    fc = recent_average_forecast(panel, np.arange(panel.n_series), end, 5, settings)
    assert fc.shape == (panel.n_series, 5)
    first = panel.series["first_day"].to_numpy()
    expected = np.where(end - first < 28, 1.0, 0.0)  # the launch order still in the window
    assert np.allclose(fc[:, 0], expected)


def mart(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(units_returned=0.0, on_hand=np.nan, stockout_hours=np.nan,
                        is_censored=False, promo=False, discount_pct=np.nan, unit_price=1.0,
                        n_customers=pd.NA, is_event=False)


BASE = ForecastSettings(candidates=["seasonal_naive", "moving_average"], horizon=14,
                        cold_start_model="category_profile")


def test_select_changes_only_the_cold_starts_and_flags_them():
    from restock.forecasting import run_forecasting

    frame = mart(launches("ORDERS", 40, 200.0, 0.3, 1))
    as_of = frame["date"].max()
    plain = run_forecasting(frame, as_of, BASE)
    chosen = run_forecasting(frame, as_of, BASE.model_copy(update={"cold_start_model": "select"}))
    a, b = plain.series_assignments, chosen.series_assignments
    assert (a["is_cold_start"] == b["is_cold_start"]).all() and a["is_cold_start"].any()
    assert set(b.loc[b["is_cold_start"], "model"]) == {RECENT_AVERAGE}
    assert (a.loc[~a["is_cold_start"], "model"] == b.loc[~b["is_cold_start"], "model"]).all()
    fc = chosen.demand_forecasts
    assert fc.loc[fc["model"] == RECENT_AVERAGE, "is_cold_start"].all()


def test_the_replay_planner_chooses_at_its_start_from_past_demand_only():
    from restock.forecasting import make_replay_planner

    frame = mart(launches("ORDERS", 40, 200.0, 0.3, 1))
    settings = BASE.model_copy(update={"cold_start_model": "select"})
    start = frame["date"].max() - pd.Timedelta(days=21)
    planner = make_replay_planner(frame, start, settings)
    assert planner.cold_choice.models == {"ORDERS": RECENT_AVERAGE}
    plan = planner(start + pd.Timedelta(days=7))
    assert (plan.daily.loc[plan.daily["is_cold_start"], "model"] == RECENT_AVERAGE).all()
    altered = frame.copy()
    altered.loc[altered["date"] > start, "units_sold"] *= 10
    again = make_replay_planner(altered, start, settings)
    assert again.cold_choice.launch_factor == planner.cold_choice.launch_factor
