"""Reading only what a stage needs: shared-string frames, demand windows, replay samples."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from assets.tables import DEMAND_COLUMNS, read_demand
from restock.forecasting import ForecastSettings
from restock.inventory import sample_replay_series
from restock.warehouse import read_table


@pytest.fixture()
def con():
    con = duckdb.connect()
    con.execute("create schema marts")
    days = pd.date_range("2024-01-01", periods=10)
    frame = pd.DataFrame({  # noqa: F841 (read by duckdb)
        "sku": np.repeat(["A", "B", "C"], 10),
        "location": np.repeat(["S1", "S1", "S2"], 10),
        "category": np.repeat(["food", None, "toys"], 10),
        "date": np.tile(days, 3),
        "units_sold": np.arange(30, dtype=float),
        "units_returned": 0.0,
        "on_hand": np.nan,
        "stockout_hours": 0.0,
        "is_censored": False,
        "promo": False,
        "discount_pct": 0.0,
        "unit_price": 2.5,
        "n_customers": 1,
        "is_event": False,
    })
    con.execute("create table marts.fct_daily_demand as select * exclude (date), "
                "cast(date as date) as date from frame")
    yield con
    con.close()


def test_read_table_matches_duckdb_df_and_shares_string_objects(con):
    expected = con.execute("select * from marts.fct_daily_demand").df()
    got = read_table(con, "marts", "fct_daily_demand")
    pd.testing.assert_frame_equal(got, expected)
    assert got["date"].dtype == expected["date"].dtype  # datetime64, not date objects
    # one string object per distinct value, not one per row
    assert len({id(v) for v in got["sku"]}) == 3
    assert got["category"].isna().sum() == 10


def test_read_demand_reads_a_window_of_the_named_series(con):
    got = read_demand(con, since=pd.Timestamp("2024-01-07"))
    assert list(got.columns) == list(DEMAND_COLUMNS)
    assert got["date"].min() == pd.Timestamp("2024-01-08") and len(got) == 3 * 3
    series = pd.DataFrame({"sku": ["C", "A"], "location": ["S2", "S2"]})  # A/S2 does not exist
    got = read_demand(con, series=series)
    assert set(zip(got["sku"], got["location"], strict=True)) == {("C", "S2")}
    assert len(got) == 10


def test_history_window_covers_fit_windows_folds_and_lags():
    s = ForecastSettings()
    need = s.history_days_needed()
    assert need >= s.train_window_days + (s.folds - 1) * s.step_days + s.horizon
    longer = ForecastSettings(folds=6, train_window_days=1000)
    assert longer.history_days_needed() == need + 3 * s.step_days + (1000 - s.train_window_days)


def test_replay_sample_is_stratified_seeded_and_complete_below_the_cap():
    series = pd.DataFrame({
        "sku": [f"i{i:04d}" for i in range(1000)],
        "location": "L1",
        "category": ["big"] * 700 + ["mid"] * 297 + ["tiny"] * 3,
    })
    assert len(sample_replay_series(series, None)) == 1000
    assert len(sample_replay_series(series, 1000)) == 1000
    got = sample_replay_series(series, 100, seed=7)
    assert len(got) == 100 and not got.duplicated(["sku", "location"]).any()
    counts = got["category"].value_counts().to_dict()
    assert counts == {"big": 69, "mid": 30, "tiny": 1}  # largest remainders; tiny from big
    again = sample_replay_series(series.sample(frac=1, random_state=1), 100, seed=7)
    pd.testing.assert_frame_equal(got, again)  # input order does not matter
    other = sample_replay_series(series, 100, seed=8)
    assert set(other["sku"]) != set(got["sku"])
