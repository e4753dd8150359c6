"""Customers hit by stock-outs: stock-out days (known and inferred), hits, churn risk (issue 18).

Runs after the dbt staging views, before forecasting: the inferred stock-out days also feed
censored-demand handling (assets/forecast.py), and the items' customers at risk feed the reorder
lines and alerts (assets/replenish.py).
"""


import dagster as dg
import pandas as pd

from assets.resources import RestockResource
from assets.settings import WAREHOUSE_POOL, run_forecast_settings
from assets.tables import read_mart, table_metadata, write_result
from restock.warehouse import table_exists

#: internal results tables (not published) of this asset
CENSORING_TABLE = "inferred_stockout_days"  # inferred days >= threshold, whole history
EXPOSURE_TABLE = "customer_item_exposure"  # per sku x location: customers at risk
HITS_TABLE = "customer_hits"  # hits in the last 180 days (the report's weekly trend)
SUMMARY_TABLE = "customer_impact_summary"  # one row: the note and the churn model's figures

SALES_COLUMNS = ("date", "sku", "location", "quantity", "unit_price", "order_id",
                 "customer_id")


def _sales(con, as_of, start) -> pd.DataFrame:
    """The run's accepted sale lines dated start..as_of (staging view over raw.sales)."""
    if not table_exists(con, "staging", "stg_feed__sales"):
        return pd.DataFrame(columns=list(SALES_COLUMNS))
    cols = ", ".join(f'"{c}"' for c in SALES_COLUMNS)
    return con.execute(
        f"select {cols} from staging.stg_feed__sales "
        "where date between cast(? as date) and cast(? as date) "
        "and sku is not null and location is not null",
        [pd.Timestamp(start).date(), pd.Timestamp(as_of).date()],
    ).df()


def _inventory(con, as_of, start) -> pd.DataFrame | None:
    if not (table_exists(con, "raw", "inventory")
            and table_exists(con, "staging", "stg_feed__inventory")):
        return None
    return con.execute(
        "select date, sku, location, on_hand, stockout_hours from staging.stg_feed__inventory "
        "where date between cast(? as date) and cast(? as date)",
        [pd.Timestamp(start).date(), pd.Timestamp(as_of).date()]).df()


def history_start(cfg, products: pd.DataFrame, as_of: pd.Timestamp) -> pd.Timestamp:
    """The first day the customer step reads: what forecasting reads (its censoring takes the
    inferred stock-outs from here) or the customer tables need, whichever reaches further, plus
    the inference's level window. Older sales change nothing published; reading them cost a
    30,490-series M5 feed (1,941 days) twice the memory (bench/nightly_bench.py)."""
    from restock.customers.inferred_stockouts import InferenceSettings

    days = max(run_forecast_settings(cfg, products).history_days_needed(),
               cfg.customers.history_days_needed()) + InferenceSettings().past_days
    return pd.Timestamp(as_of) - pd.Timedelta(days=days)


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """An empty frame's text columns as strings: DuckDB types an empty object column "NULL",
    which Parquet and Postgres readers handle badly; published, they are VARCHAR."""
    if len(frame):
        return frame
    return frame.astype({c: "string" for c, t in frame.dtypes.items()
                         if pd.api.types.is_object_dtype(t)})


def summary_frame(tables, as_of) -> pd.DataFrame:
    """One row: the note (why the tables are empty) and the churn model's evaluation."""
    churn = tables.churn
    return pd.DataFrame([{
        "as_of": pd.Timestamp(as_of), "note": tables.note,
        "customers": len(tables.customer_stockout_impact),
        "customers_hit": int((tables.customer_stockout_impact["hits_90d"] > 0).sum())
        if len(tables.customer_stockout_impact) else 0,
        "customers_at_risk": int(tables.customer_stockout_impact["at_risk"].sum())
        if len(tables.customer_stockout_impact) else 0,
        "churn_eval_cutoff": churn.eval_cutoff, "churn_n_train": churn.n_train,
        "churn_n_eval": churn.n_eval, "churn_auc": churn.auc,
        "churn_auc_rfm_only": churn.auc_rfm_only, "churn_rate_hit": churn.churn_rate_hit,
        "churn_rate_not_hit": churn.churn_rate_not_hit, "churn_n_hit": churn.n_hit,
        "churn_n_not_hit": churn.n_not_hit,
    }])


@dg.asset(
    deps=["stg_feed__sales", "stg_feed__inventory"],
    group_name="customers",
    kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL,
)
def customer_impact(context: dg.AssetExecutionContext, restock: RestockResource):
    """results.stockout_days (known + inferred, last 90 days), customer_stockout_impact and
    sku_customer_impact (empty with their columns when the sales carry no customer_id), plus
    the inferred stock-out days censored-demand handling reads and each item's customers at
    risk for the reorder lines."""
    from restock.customers.exposure import item_exposure
    from restock.customers.impact import purchase_lines
    from restock.customers.tables import build_customer_tables

    cfg = restock.config.customers
    with restock.connect(read_only=True) as con:
        as_of = pd.Timestamp(restock.run_as_of(con))
        start = history_start(restock.config, read_mart(con, "dim_products"), as_of)
        sales = _sales(con, as_of, start)
        inventory = _inventory(con, as_of, start)
    hit_settings = cfg.hit_settings()
    tables = build_customer_tables(
        sales, inventory, as_of, cfg.inference_settings(), hit_settings, cfg.churn_settings(),
        value=cfg.measure, start=max(start, pd.Timestamp(sales["date"].min()))
        if len(sales) else None)
    stockouts = tables.all_stockouts if tables.all_stockouts is not None else tables.stockout_days
    inferred = stockouts[(stockouts["stockout_source"] == "inferred")
                         & (stockouts["probability"] >= cfg.threshold)].reset_index(drop=True)
    exposure = item_exposure(purchase_lines(sales, as_of), tables.customer_stockout_impact,
                             as_of, hit_settings)
    if cfg.service_uplift and len(exposure):
        many = exposure["regular_customers"] >= cfg.uplift_min_regular_customers
        exposure["service_uplift"] = many.to_numpy() * cfg.uplift
        exposure["service_level_cap"] = cfg.uplift_max_service_level
    hits = tables.hits
    if len(hits):
        hits = hits[pd.to_datetime(hits["date"]) > as_of - pd.Timedelta(days=180)]
    summary = summary_frame(tables, as_of)
    with restock.connect() as con:
        write_result(con, "stockout_days", typed(tables.stockout_days))
        write_result(con, "customer_stockout_impact", typed(tables.customer_stockout_impact))
        write_result(con, "sku_customer_impact", typed(tables.sku_customer_impact))
        write_result(con, CENSORING_TABLE, typed(inferred))
        write_result(con, EXPOSURE_TABLE, typed(exposure))
        write_result(con, HITS_TABLE, typed(hits.reset_index(drop=True)))
        write_result(con, SUMMARY_TABLE, summary)
    customers = tables.customer_stockout_impact
    context.log.info(
        f"{len(tables.stockout_days)} stock-out days in the last 90 days "
        f"({len(inferred)} inferred days >= {cfg.threshold} in the history), "
        f"{len(customers)} customers, {int(summary['customers_hit'].iloc[0])} hit, "
        f"{int(summary['customers_at_risk'].iloc[0])} at risk"
        + (f"; {tables.note}" if tables.note else ""))
    return dg.MaterializeResult(metadata={
        **table_metadata(customers, preview_rows=5),
        "stockout_days": len(tables.stockout_days),
        "inferred_stockout_days": len(inferred),
        "sku_customer_impact": len(tables.sku_customer_impact),
        "customers_at_risk": int(summary["customers_at_risk"].iloc[0]),
        "churn_auc": float(summary["churn_auc"].iloc[0]),
        "note": tables.note or "",
    })
