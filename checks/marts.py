"""Blocking checks on the results before publication: nothing absurd reaches BI."""


import dagster as dg
import pandas as pd

from assets.resources import RestockResource
from assets.tables import read_mart, read_result, write_result
from restock.warehouse import table_exists


def _record(restock: RestockResource, source: str, check: str, outcome) -> None:
    """Keep the outcome in results.mart_check_results; publish appends it to
    data_quality_results."""
    row = pd.DataFrame([{
        "source": source, "check": check, "severity": outcome.severity,
        "passed": bool(outcome.passed), "failed_rows": int(outcome.failed_rows),
        "detail": outcome.detail,
    }])
    with restock.connect() as con:
        if table_exists(con, "results", "mart_check_results"):
            kept = con.execute(
                "select * from results.mart_check_results where not (source = ? and \"check\" = ?)",
                [source, check],
            ).df()
            row = pd.concat([kept, row], ignore_index=True)
        write_result(con, "mart_check_results", row)


def _recorded(restock: RestockResource, source: str, check: str, outcome) -> dg.AssetCheckResult:
    """Record the outcome (:func:`_record`) and turn it into the check's result."""
    _record(restock, source, check, outcome)
    return dg.AssetCheckResult(
        passed=bool(outcome.passed),
        severity=dg.AssetCheckSeverity.ERROR if outcome.severity == "error"
        else dg.AssetCheckSeverity.WARN,
        metadata={"failed_rows": int(outcome.failed_rows), "detail": str(outcome.detail)},
    )


@dg.asset_check(asset="demand_forecasts", blocking=True,
                description="Forecasts finite and >= 0; p50 <= p90 <= p95 <= p99.")
def forecasts_valid(restock: RestockResource) -> dg.AssetCheckResult:
    """Block publication of non-finite, negative or crossing forecasts."""
    from restock.quality.mart_checks import check_forecasts_valid

    with restock.connect(read_only=True) as con:
        outcome = check_forecasts_valid(read_result(con, "demand_forecasts"))
    return _recorded(restock, "marts.demand_forecasts", "forecasts_valid", outcome)


@dg.asset_check(asset="reorder_recommendations", blocking=True,
                description="Every active sku x location has exactly one reorder line.")
def every_active_series_has_a_line(restock: RestockResource) -> dg.AssetCheckResult:
    """Block publication when a series would silently get no reorder advice."""
    from restock.quality.mart_checks import check_reorder_coverage

    with restock.connect(read_only=True) as con:
        outcome = check_reorder_coverage(
            read_result(con, "reorder_recommendations"),
            read_mart(con, "fct_stock_position"),
            read_mart(con, "dim_products"),
        )
    return _recorded(
        restock, "marts.reorder_recommendations", "every_active_series_has_a_line", outcome
    )


@dg.asset_check(asset="reorder_recommendations", blocking=True,
                description="No recommended order is absurd against the series' history.")
def order_quantities_plausible(restock: RestockResource) -> dg.AssetCheckResult:
    """Block an order far above anything the series ever sold in 28 days."""
    from restock.quality.mart_checks import MAX_28_DAY_DEMAND_SQL, check_order_quantities

    with restock.connect(read_only=True) as con:
        quality = restock.config.quality
        outcome = check_order_quantities(
            read_result(con, "reorder_recommendations"),
            con.execute(MAX_28_DAY_DEMAND_SQL).df(),
            quality,
            products=read_mart(con, "dim_products"),
            floor_units=quality.order_floor_units,
        )
    return _recorded(
        restock, "marts.reorder_recommendations", "order_quantities_plausible", outcome
    )


@dg.asset_check(asset="demand_forecasts", blocking=True,
                description="No forecast or quantile above quality.max_forecast_multiple x the "
                            "series' historical max daily (and k-day) demand.")
def forecast_magnitudes_plausible(restock: RestockResource) -> dg.AssetCheckResult:
    """Block forecasts or quantiles far above anything the series ever sold; names the series."""
    from restock.quality.mart_checks import check_forecast_magnitudes, historical_maxima_sql

    with restock.connect(read_only=True) as con:
        outcome = check_forecast_magnitudes(
            read_result(con, "demand_forecasts"),
            con.execute(historical_maxima_sql((1, 7, 14, 28))).df(),
            restock.config.quality,
            cumulative_quantiles=read_result(con, "cumulative_demand_quantiles"),
        )
    return _recorded(restock, "marts.demand_forecasts", "forecast_magnitudes_plausible", outcome)
