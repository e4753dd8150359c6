"""Exogenous features: future promotions, holidays, prices carried forward, drivers, no NaN."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from restock.forecasting.features import EXOGENOUS_COLUMNS, build_exogenous
from restock.forecasting.settings import ForecastSettings


def _demand() -> pd.DataFrame:
    """Two series, 2024-06-01 .. 2024-06-30, prices known on some days only."""
    dates = pd.date_range("2024-06-01", "2024-06-30", freq="D")
    rows = []
    for sku, price in (("A", 10.0), ("B", 4.0)):
        for i, d in enumerate(dates):
            rows.append(
                {
                    "sku": sku,
                    "location": "S1",
                    "category": "food" if sku == "A" else "toys",
                    "date": d,
                    "units_sold": float(i % 7),
                    "is_censored": False,
                    "promo": sku == "A" and d.day in (10, 11),
                    "discount_pct": 20.0 if sku == "A" and d.day in (10, 11) else None,
                    # B has a price only until mid-June: must be carried forward
                    "unit_price": price if (sku == "A" or d.day <= 15) else None,
                    "is_event": d.day == 20,
                }
            )
    # A's last price is higher than its median: the carried price must be that last one
    rows[29]["unit_price"] = 12.0
    return pd.DataFrame(rows)


def _index(end: str = "2024-07-14") -> pd.MultiIndex:
    dates = pd.date_range("2024-06-01", end, freq="D")
    return pd.MultiIndex.from_product([["A|S1", "B|S1"], dates], names=["series_id", "date"])


@pytest.fixture
def exog() -> pd.DataFrame:
    promotions = pd.DataFrame(
        {
            "sku": ["A", "A", "B"],
            "location": ["S1", "S1", "S1"],
            "date": pd.to_datetime(["2024-07-05", "2024-07-06", "2024-07-10"]),
            "discount_pct": [0.25, 0.25, None],
        }
    )
    events = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-07-12", "2024-07-13"]),
            "location": [None, "OTHER"],
            "name": ["store party", "far away fair"],
            "type": ["event", "holiday"],
        }
    )
    drivers = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-06-01", "2024-07-01", "2024-07-01"]),
            "location": [None, None, "S1"],
            "driver": ["Temperature", "Temperature", "Temperature"],
            "value": [20.0, 25.0, 30.0],
        }
    )
    return build_exogenous(
        _index(), _demand(), promotions, events, drivers, None, ForecastSettings()
    )


def test_aligned_numeric_and_no_nan(exog: pd.DataFrame) -> None:
    assert exog.index.equals(_index())
    assert set(EXOGENOUS_COLUMNS) <= set(exog.columns)
    assert "driver_temperature" in exog.columns
    assert not exog.isna().any().any()
    assert all(np.issubdtype(t, np.floating) for t in exog.dtypes)


def test_future_promo_days_appear(exog: pd.DataFrame) -> None:
    a = exog.loc["A|S1"]
    assert a.loc["2024-07-05", "promo"] == 1.0
    assert a.loc["2024-07-05", "discount_pct"] == pytest.approx(0.25)
    assert a.loc["2024-07-07", "promo"] == 0.0
    # history promo from the sales flag; 20 (percent) becomes 0.2
    assert a.loc["2024-06-10", "promo"] == 1.0
    assert a.loc["2024-06-10", "discount_pct"] == pytest.approx(0.2)
    assert exog.loc["B|S1"].loc["2024-07-10", "promo"] == 1.0
    assert exog.loc["B|S1"].loc["2024-07-05", "promo"] == 0.0


def test_us_holiday_flagged_and_distance(exog: pd.DataFrame) -> None:
    a = exog.loc["A|S1"]
    assert a.loc["2024-07-04", "is_holiday"] == 1.0
    assert a.loc["2024-07-03", "is_holiday"] == 0.0
    assert a.loc["2024-07-01", "days_to_next_holiday"] == 3.0
    assert a.loc["2024-07-04", "days_to_next_holiday"] == 0.0
    assert exog["days_to_next_holiday"].max() <= 30
    # the far-away holiday is another location's, the party is everyone's
    assert a.loc["2024-07-13", "is_holiday"] == 0.0
    assert a.loc["2024-07-12", "is_event"] == 1.0
    assert a.loc["2024-06-20", "is_event"] == 1.0  # flagged by the sales feed


def test_no_country_means_only_event_holidays() -> None:
    events = pd.DataFrame(
        {"date": [pd.Timestamp("2024-07-08")], "location": [None], "name": ["x"],
         "type": ["Holiday"]}
    )
    out = build_exogenous(
        _index(), _demand(), None, events, None, None, ForecastSettings(holiday_country=None)
    )
    a = out.loc["A|S1"]
    assert a.loc["2024-07-04", "is_holiday"] == 0.0
    assert a.loc["2024-07-08", "is_holiday"] == 1.0


def test_price_carried_forward(exog: pd.DataFrame) -> None:
    b = exog.loc["B|S1"]
    # B's price stops on 06-15: later days, history and horizon alike, keep it (relative 1.0)
    assert (b.loc["2024-06-16":"2024-07-14", "relative_price"] == 1.0).all()
    a = exog.loc["A|S1"]
    # A's last known price 12 vs median 10, carried into the horizon
    assert a.loc["2024-07-02", "relative_price"] == pytest.approx(1.2)
    # ... and cut by the planned discount on future promo days
    assert a.loc["2024-07-05", "relative_price"] == pytest.approx(1.2 * 0.75)


def test_drivers_local_over_global_and_ffilled(exog: pd.DataFrame) -> None:
    a = exog.loc["A|S1"]
    assert a.loc["2024-06-15", "driver_temperature"] == 20.0
    assert a.loc["2024-07-01", "driver_temperature"] == 30.0
    assert a.loc["2024-07-14", "driver_temperature"] == 30.0


def test_category_code_and_unknown_series() -> None:
    index = pd.MultiIndex.from_product(
        [["A|S1", "NEW|S9"], pd.date_range("2024-07-01", periods=3)], names=["series_id", "date"]
    )
    products = pd.DataFrame({"sku": ["A", "NEW"], "category": ["food", "zzz"]})
    out = build_exogenous(index, _demand(), None, None, None, products, ForecastSettings())
    assert not out.isna().any().any()
    assert out.loc["A|S1", "category_code"].iloc[0] == 0.0
    assert out.loc["NEW|S9", "category_code"].iloc[0] == 2.0
    assert (out.loc["NEW|S9", "relative_price"] == 1.0).all()


def test_prices_after_the_cutoff_are_not_used() -> None:
    demand = _demand()
    demand.loc[(demand["sku"] == "A") & (demand["date"] > "2024-06-20"), "unit_price"] = 20.0
    out = build_exogenous(
        _index(), demand, None, None, None, None, ForecastSettings(),
        prices_known_until=pd.Timestamp("2024-06-20"),
    )
    a = out.loc["A|S1"]
    # the 20.0 prices lie after the cutoff: the horizon keeps the last known price (10 = median)
    assert (a.loc["2024-06-21":, "relative_price"] == 1.0).all()
