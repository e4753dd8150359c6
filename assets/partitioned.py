"""Forecasting fanned out by category: the partitioned asset ``category_forecasts``.

The nightly job forecasts every series in one step. A deployment with more series than one
machine forecasts in time spreads the work instead: ``category_forecasts`` is partitioned by
category (dynamic partitions, registered from the marts by ``category_partitions_sensor`` in
pipelines/sensors.py), each partition is its own run of ``forecast_by_category``
(pipelines/jobs.py) that any Dagster executor or run launcher can place (multiprocess, Celery,
Kubernetes), and the nightly's ``forecasts`` step joins the partitions of its as_of when
``forecast.from_category_partitions`` is set (restock.forecasting.partitions).
"""

import time

import dagster as dg

from assets.forecast import MART_DEPS, forecast_inputs, run_forecasts
from assets.resources import RestockResource
from assets.tables import table_metadata

CATEGORY_PARTITIONS = dg.DynamicPartitionsDefinition(name="category")


@dg.asset(
    partitions_def=CATEGORY_PARTITIONS,
    deps=MART_DEPS,
    group_name="forecast_by_category",
    kinds={"python", "parquet"},
)
def category_forecasts(context: dg.AssetExecutionContext, restock: RestockResource):
    """One category's backtest, selection and forecasts, as Parquet beside the warehouse
    (``<warehouse>_partitions/as_of=<date>/category=<name>/``); reads the work DB read-only,
    so partitions can run side by side."""
    from restock.forecasting.partitions import write_category_result

    category = context.partition_key
    started = time.perf_counter()
    inputs = forecast_inputs(restock, category)
    result, n_series = run_forecasts(context, inputs)
    path = write_category_result(restock.paths.partitions_dir, inputs["as_of"], category, result)
    return dg.MaterializeResult(
        metadata={
            **table_metadata(result.demand_forecasts),
            "category": category,
            "as_of": inputs["as_of"],
            "series": n_series,
            "seconds": round(time.perf_counter() - started, 1),
            "path": dg.MetadataValue.path(str(path)),
        }
    )


def categories_in_marts(restock: RestockResource) -> tuple[str, list[str]]:
    """(as_of, categories with demand) of the work DB's current marts."""
    with restock.connect(read_only=True) as con:
        as_of = restock.run_as_of(con)
        rows = con.execute(
            "select distinct category from marts.fct_daily_demand order by 1").fetchall()
    return as_of, [str(r[0]) for r in rows]
