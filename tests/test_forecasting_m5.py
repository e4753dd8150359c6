"""Real data: 200 Walmart M5 items of store CA_1, scored on 28 days the run never saw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from restock.forecasting import ForecastSettings, run_forecasting
from restock.forecasting.metrics import one_step_naive_scale, rmsse

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "m5_ca1"
AS_OF = pd.Timestamp("2016-03-27")
HOLDOUT = 28

pytestmark = pytest.mark.slow


def load_m5(n_items: int, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """fct_daily_demand-like frame of ``n_items`` random items (spine from the first sale)
    up to AS_OF + HOLDOUT; the second frame is the wide sales of the same items."""
    wide = pd.read_parquet(DATA / "sales_wide.parquet").sample(n=n_items, random_state=seed)
    calendar = pd.read_parquet(DATA / "calendar.parquet")
    day_cols = [c for c in wide.columns if c.startswith("d_")]
    dates = pd.to_datetime(calendar.set_index("d").loc[day_cols, "date"]).to_numpy()
    keep = dates <= np.datetime64(AS_OF + pd.Timedelta(days=HOLDOUT))
    values = wide[day_cols].to_numpy(dtype=float)[:, keep]
    dates = dates[keep]
    frames = []
    for i, (item, store, cat) in enumerate(wide[["item_id", "store_id", "cat_id"]].itertuples(
            index=False)):
        sold = np.flatnonzero(values[i] > 0)
        if not len(sold):
            continue
        first = sold[0]
        frames.append(pd.DataFrame({"sku": item, "location": store, "category": cat,
                                    "date": dates[first:], "units_sold": values[i, first:]}))
    demand = pd.concat(frames, ignore_index=True)
    demand["is_censored"] = False  # M5 has no stock data
    return demand, wide


@pytest.mark.skipif(not DATA.is_dir(), reason="shared M5 data not found at ../shared/data")
def test_selected_models_beat_seasonal_naive_out_of_sample():
    demand, _ = load_m5(200)
    history = demand[demand["date"] <= AS_OF]
    settings = ForecastSettings(
        candidates=["seasonal_naive", "moving_average", "auto_ets", "croston_sba", "tsb",
                    "imapa"],
        sample_per_unit=40, horizon=HOLDOUT, train_window_days=365,
    )
    result = run_forecasting(history, AS_OF, settings)

    fc = result.demand_forecasts
    series = sorted(set(zip(fc["sku"], fc["location"], strict=True)))
    future = (demand[demand["date"] > AS_OF].set_index(["sku", "location", "date"])
              .sort_index()["units_sold"])
    hist = history.set_index(["sku", "location"]).sort_index()
    ours, naive, covered = [], [], []
    for sku, loc in series:
        rows = fc[(fc["sku"] == sku) & (fc["location"] == loc)].sort_values("date")
        if rows["is_cold_start"].any():
            continue
        actual = future.loc[(sku, loc)].reindex(rows["date"]).to_numpy(dtype=float)
        past = hist.loc[(sku, loc)].sort_values("date")["units_sold"].to_numpy(dtype=float)
        scale = one_step_naive_scale(past[-365:])
        if not np.isfinite(scale[0]) or scale[0] == 0:
            continue
        last_week = past[-7:]
        ours.append(rmsse(actual, rows["forecast"].to_numpy(), scale)[0])
        naive.append(rmsse(actual, np.tile(last_week, 4), scale)[0])
        covered.append(np.mean(actual <= rows["p90"].to_numpy()))
    assert len(ours) > 150
    assert np.mean(ours) < 0.95 * np.mean(naive)
    assert 0.8 <= np.mean(covered) <= 0.97
    sel = result.model_selection
    assert (sel["value_added"].dropna() > 0).all()
