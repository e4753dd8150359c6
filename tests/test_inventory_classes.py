"""ABC x XYZ classes against hand-computed shares and coefficients of variation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from restock.inventory import ReplenishSettings, classify_series
from restock.inventory.classes import abc_classes, xyz_classes


def test_abc_by_cumulative_value_share():
    # Shares 50%, 25%, 15%, 6%, 4%, 0%: cumulative share before each: 0, .5, .75, .9, .96, 1.
    value = np.array([6.0, 25.0, 50.0, 15.0, 4.0, 0.0])
    got = abc_classes(value, (0.8, 0.95))
    assert got.tolist() == ["B", "A", "A", "A", "C", "C"]


def test_xyz_by_coefficient_of_variation():
    assert xyz_classes(np.array([0.2, 0.5, 0.7, 1.0, 1.5, np.inf]), (0.5, 1.0)).tolist() == [
        "X", "X", "Y", "Y", "Z", "Z"]


def test_classify_series_uses_value_and_weekly_cv():
    as_of = pd.Timestamp("2024-06-30")
    days = pd.date_range(as_of - pd.Timedelta(days=7 * 8 - 1), as_of)
    week = (as_of - days).days // 7
    rows = []
    # steady: 7 units every week (cv 0); bursty: 70 units in one week of 8, else 0.
    rows.append(pd.DataFrame({"sku": "steady", "location": "S", "date": days,
                              "units_sold": 1.0}))
    rows.append(pd.DataFrame({"sku": "bursty", "location": "S", "date": days,
                              "units_sold": np.where(week == 3, 10.0, 0.0)}))
    demand = pd.concat(rows)
    products = pd.DataFrame({"sku": ["steady", "bursty"], "unit_cost": [10.0, 1.0]})
    out = classify_series(demand, products, as_of, ReplenishSettings(), weeks=8).set_index("sku")
    assert out.loc["steady", "cv_weekly"] == 0.0
    # Weekly 70 once in 8 weeks: mean 8.75, sample std = 70 / sqrt(8) -> cv = 2.828.
    assert out.loc["bursty", "cv_weekly"] == np.float64(np.std([70] + [0] * 7, ddof=1) / 8.75)
    # Value: steady 1/day x 10 = 10 (A, 85%); bursty 1.25/day x 1 = 1.25 (B: 85% before it).
    assert out.loc["steady", "value"] == 10.0
    assert out.loc["bursty", "value"] == 1.25
    assert (out["abc_class"] + out["xyz_class"]).to_dict() == {"steady": "AX", "bursty": "BZ"}
