"""Forecast: backtest candidates per category x demand class, pick the best, forecast ahead."""


import time

import dagster as dg
import pandas as pd

from assets.resources import RestockResource
from assets.settings import WAREHOUSE_POOL, run_forecast_settings
from assets.tables import (
    DEMAND_COLUMNS,
    read_demand,
    read_mart,
    read_result,
    table_metadata,
    write_result,
)
from restock.warehouse import table_exists

MART_DEPS = ["fct_daily_demand", "dim_products", "fct_promotion_days", "fct_events", "fct_drivers"]
#: the inferred stock-out days censored-demand handling reads (assets/customers.py)
CUSTOMER_DEPS = ["customer_impact"]


FORECAST_DEMAND_COLUMNS = tuple(c for c in DEMAND_COLUMNS if c != "on_hand")


def selection_markdown(selection: pd.DataFrame) -> str:
    """The model leaderboard as Markdown for the Dagster UI."""
    cols = [c for c in ("category", "demand_class", "selected_model", "score", "naive_score",
                        "value_added", "runner_up", "reason") if c in selection]
    return selection[cols].round(3).to_markdown(index=False) if len(selection) else "(empty)"


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "forecast_backtest",
            deps=[*MART_DEPS, *CUSTOMER_DEPS],
            group_name="forecast",
            description="One row per category x model x fold of the rolling-origin backtest "
            "(results.backtest_metrics), the selected model per category x demand class "
            "(results.model_selection) and the out-of-sample predictions.",
            kinds={"python", "duckdb"},
        ),
        dg.AssetSpec(
            "demand_forecasts",
            deps=["forecast_backtest"],
            group_name="forecast",
            description="One row per sku x location x day of the horizon: mean forecast and "
            "calibrated quantiles; plus cumulative demand quantiles per horizon.",
            kinds={"python", "duckdb"},
        ),
    ],
    pool=WAREHOUSE_POOL,
)
def forecasts(context: dg.AssetExecutionContext, restock: RestockResource):
    """Run the forecasting stage (restock.forecasting) on the demand marts, or join the
    category_forecasts partitions of this as_of (``forecast.from_category_partitions``)."""
    cfg = restock.config
    started = time.perf_counter()
    if cfg.forecast.from_category_partitions:
        tables, n_series, horizon = _joined_partitions(context, restock)
    else:
        tables, n_series, horizon = _forecast_all(context, restock)
    elapsed = time.perf_counter() - started
    with restock.connect() as con:
        for name, frame in tables.items():
            write_result(con, name, frame)
    yield dg.MaterializeResult(
        asset_key="forecast_backtest",
        metadata={
            **table_metadata(tables["backtest_metrics"]),
            "leaderboard": dg.MetadataValue.md(selection_markdown(tables["model_selection"])),
            "seconds": round(elapsed, 1),
        },
    )
    yield dg.MaterializeResult(
        asset_key="demand_forecasts",
        metadata={
            **table_metadata(tables["demand_forecasts"]),
            "series": n_series,
            "horizon_days": horizon,
            "ms_per_series": round(1000 * elapsed / max(n_series, 1), 1),
        },
    )


def forecast_inputs(restock: RestockResource, category: str | None = None) -> dict:
    """What run_forecasting reads from the work DB (one category's series, or all)."""
    cfg = restock.config
    with restock.connect(read_only=True) as con:
        as_of = restock.run_as_of(con)
        products = read_mart(con, "dim_products")
        settings = run_forecast_settings(cfg, products)
        since = pd.Timestamp(as_of) - pd.Timedelta(days=settings.history_days_needed())
        series = None
        if category is not None:
            series = con.execute(
                "select distinct sku, location from marts.fct_daily_demand where category = ?",
                [category]).df()
            if series.empty:
                raise dg.Failure(f"category {category!r} has no demand in fct_daily_demand")
        # on_hand is for replenishment; forecasting reads stock-outs from is_censored and
        # stockout_hours (at 30,490 series the column alone is 0.2 GB)
        demand = read_demand(con, since, series, columns=FORECAST_DEMAND_COLUMNS)
        if cfg.customers.censor_inferred:
            demand = with_inferred_censoring(con, demand, cfg.customers.threshold,
                                             cfg.customers.censor_min_selling_share)
        return {
            "as_of": as_of, "settings": settings, "demand": demand, "products": products,
            "promotions": read_mart(con, "fct_promotion_days"),
            "events": read_mart(con, "fct_events"), "drivers": read_mart(con, "fct_drivers"),
        }


def with_inferred_censoring(con, demand: pd.DataFrame, threshold: float,
                            min_selling_share: float) -> pd.DataFrame:
    """``demand`` with the inferred stock-out days (>= ``threshold``) of series without
    inventory rows that sell on at least ``min_selling_share`` of their days marked censored,
    exactly as known stock-outs (the customer_impact asset wrote them; absent, e.g. a category
    partition run on its own: ``demand`` unchanged)."""
    from assets.customers import CENSORING_TABLE
    from restock.customers.inferred_censoring import censoring_flags

    if not len(demand) or not table_exists(con, "results", CENSORING_TABLE):
        return demand
    inferred = read_result(con, CENSORING_TABLE)
    if not len(inferred):
        return demand
    # only days the mart has (the spine starts at each series' first sale): no added rows
    flagged = censoring_flags(demand, inferred, threshold, min_selling_share, add_missing=False)
    del flagged["censored_source"]
    return flagged


def run_forecasts(context, inputs: dict):
    """run_forecasting on ``forecast_inputs``, logged."""
    from restock.forecasting import run_forecasting

    demand, settings = inputs["demand"], inputs["settings"]
    n_series = demand[["sku", "location"]].drop_duplicates().shape[0] if len(demand) else 0
    context.log.info(
        f"forecasting {n_series} series, {len(demand)} series-days, as_of {inputs['as_of']}, "
        f"horizon {settings.horizon} days"
    )
    result = run_forecasting(
        demand, pd.Timestamp(inputs["as_of"]), settings, promotions=inputs["promotions"],
        events=inputs["events"], drivers=inputs["drivers"], products=inputs["products"],
    )
    return result, n_series


def _forecast_all(context, restock: RestockResource):
    from restock.forecasting.partitions import RESULT_TABLES

    inputs = forecast_inputs(restock)
    result, n_series = run_forecasts(context, inputs)
    tables = {table: getattr(result, attr) for attr, table in RESULT_TABLES.items()}
    return tables, n_series, inputs["settings"].horizon


def _joined_partitions(context, restock: RestockResource):
    from restock.forecasting.partitions import read_category_results

    with restock.connect(read_only=True) as con:
        as_of = restock.run_as_of(con)
        products = read_mart(con, "dim_products")
        categories = [r[0] for r in con.execute(
            "select distinct category from marts.fct_daily_demand order by 1").fetchall()]
    tables = read_category_results(restock.paths.partitions_dir, as_of, categories)
    n_series = len(tables["series_assignments"])
    context.log.info(f"joined the category_forecasts partitions of {len(categories)} "
                     f"categories for as_of {as_of}: {n_series} series")
    settings = run_forecast_settings(restock.config, products)
    return tables, n_series, settings.horizon
