"""Issue 18 wiring, without Dagster: customers at risk on reorder lines and alerts, the alert
severity rise, the optional service uplift, the config section, the report section."""

from __future__ import annotations

import pandas as pd

from restock.config import RestockConfig
from restock.customers.exposure import EXPOSURE_COLUMNS, item_exposure
from restock.customers.impact import HitSettings, purchase_lines
from restock.inventory.alerts import build_stockout_alerts
from restock.inventory.settings import ReplenishSettings

AS_OF = pd.Timestamp("2024-03-31")


def _sales() -> pd.DataFrame:
    rows = []
    # A buys X on 4 days (regular), B on 2 days (not regular), C buys Y on 3 days
    for cid, sku, days in (("A", "X", (1, 10, 20, 30)), ("B", "X", (5, 15)),
                           ("C", "Y", (2, 12, 22))):
        for d in days:
            rows.append({"date": AS_OF - pd.Timedelta(days=d), "sku": sku, "location": "L1",
                         "quantity": 1.0, "unit_price": 10.0, "customer_id": cid})
    return pd.DataFrame(rows)


def test_item_exposure_counts_regular_customers_and_those_at_risk():
    customers = pd.DataFrame({"customer_id": ["A", "B", "C"], "spend_90d": [40.0, 20.0, 30.0],
                              "at_risk": [True, True, False]})
    lines = purchase_lines(_sales(), AS_OF)
    out = item_exposure(lines, customers, AS_OF, HitSettings()).set_index("sku")
    assert list(out.reset_index().columns) == list(EXPOSURE_COLUMNS)
    assert out.loc["X", "regular_customers"] == 1  # B buys X twice only: not regular
    assert out.loc["X", "customers_at_risk"] == 1 and out.loc["X", "revenue_at_risk"] == 40.0
    assert out.loc["Y", "customers_at_risk"] == 0 and out.loc["Y", "revenue_at_risk"] == 0.0


def test_item_exposure_without_customer_ids_is_empty_with_columns():
    sales = _sales().drop(columns="customer_id")
    out = item_exposure(purchase_lines(sales, AS_OF), pd.DataFrame(), AS_OF, HitSettings())
    assert out.empty and list(out.columns) == list(EXPOSURE_COLUMNS)


def _lines(customers_at_risk: list[int]) -> pd.DataFrame:
    n = len(customers_at_risk)
    return pd.DataFrame({
        "sku": [f"S{i}" for i in range(n)], "location": "L1", "category": "C",
        "stock_known": True, "plan_date": AS_OF,
        "projected_stockout_date": pd.NaT,
        "next_possible_arrival": AS_OF + pd.Timedelta(days=7),
        "stockout_probability": 0.3,  # above the alert threshold, below "high": medium
        "recommended_order_qty": 5.0,
        "customers_at_risk": customers_at_risk,
        "revenue_at_risk": [100.0 * c for c in customers_at_risk],
    })


def test_alert_severity_rises_when_customers_at_risk_depend_on_the_item():
    alerts = build_stockout_alerts(_lines([0, 2]), ReplenishSettings()).set_index("sku")
    assert alerts.loc["S0", "severity"] == "medium"
    assert alerts.loc["S1", "severity"] == "high"
    assert alerts.loc["S1", "customers_at_risk"] == 2
    assert alerts.loc["S1", "revenue_at_risk"] == 200.0
    assert "customers at risk" in alerts.loc["S1", "explanation"]
    # a higher bar: 2 customers are not enough
    strict = build_stockout_alerts(_lines([0, 2]), ReplenishSettings(), min_customers_at_risk=3)
    assert set(strict["severity"]) == {"medium"}


def test_alerts_from_lines_without_customer_columns_carry_zeros():
    alerts = build_stockout_alerts(
        _lines([0]).drop(columns=["customers_at_risk", "revenue_at_risk"]), ReplenishSettings())
    assert alerts["customers_at_risk"].tolist() == [0]
    assert alerts["revenue_at_risk"].tolist() == [0.0]


def test_config_section_builds_the_library_settings():
    cfg = RestockConfig().customers
    assert cfg.service_uplift is False  # off by default
    hits = cfg.hit_settings()
    assert hits == HitSettings()  # the defaults of the maths
    assert cfg.inference_settings().threshold == cfg.threshold == hits.threshold


def test_report_section_shows_the_note_without_customers():
    from restock.report.sections.customers import customers_section

    note = "the feed's sales carry no customer_id: no customer tables"
    html = customers_section(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), {"note": note},
                             "2024-03-31")
    assert "no customer_id" in html


def test_report_section_lists_customers_items_and_weeks():
    from restock.report.sample import make_report_inputs
    from restock.report.sections.customers import customers_section

    inputs = make_report_inputs(n_skus=20)
    html = customers_section(inputs["customer_stockout_impact"], inputs["sku_customer_impact"],
                             inputs["customer_hits"], inputs["customer_summary"],
                             inputs["as_of"])
    for anchor in ("customers-at-risk", "customers-items", "customers-trend"):
        assert f'id="{anchor}"' in html
    assert "C00" in html


def test_forecast_demand_marks_inferred_stockouts_censored():
    """assets/forecast.py: inferred days >= the threshold are censored like known ones; the
    demand keeps its rows (no day added before a series' first sale); known days stay."""
    import duckdb

    from assets.customers import CENSORING_TABLE
    from assets.forecast import with_inferred_censoring
    from restock.warehouse import write_table

    dates = pd.date_range("2024-03-01", periods=5)
    demand = pd.DataFrame({"sku": "X", "location": "L1", "category": "C", "date": dates,
                           "units_sold": [5.0, 0.0, 0.0, 4.0, 0.0],
                           "stockout_hours": float("nan"),
                           "is_censored": [False, False, False, False, True]})
    inferred = pd.DataFrame({"sku": "X", "location": "L1",
                             "date": [pd.Timestamp("2024-02-20"), dates[1], dates[2]],
                             "stockout_source": "inferred", "probability": [0.9, 0.95, 0.6]})
    with duckdb.connect() as con:
        assert with_inferred_censoring(con, demand, 0.7, 0.0) is demand  # nothing written yet
        write_table(con, "results", CENSORING_TABLE, inferred)
        out = with_inferred_censoring(con, demand, 0.7, 0.0)
        # the series sells on 2 of its 5 days: under the default selling share (0.76) its
        # gaps are its pattern, not stock-outs
        kept = with_inferred_censoring(con, demand, 0.7, 0.76)
    assert len(out) == len(demand) and list(out.columns) == list(demand.columns)
    assert out["is_censored"].tolist() == [False, True, False, False, True]
    assert kept["is_censored"].tolist() == demand["is_censored"].tolist()
