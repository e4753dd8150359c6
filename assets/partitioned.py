"""Forecasting fanned out by category: a partitioned asset, its job and the sensor that feeds it.

The nightly job forecasts every series in one step. A deployment with more series than one
machine forecasts in time spreads the work instead: ``category_forecasts`` is partitioned by
category (dynamic partitions, registered from the marts by ``category_partitions_sensor``),
each partition is its own run of ``forecast_by_category`` that any Dagster executor or run
launcher can place (multiprocess, Celery, Kubernetes), and the nightly's ``forecasts`` step
joins the partitions of its as_of when ``forecast.from_category_partitions`` is set
(restock.forecasting.partitions).
"""

import time

import dagster as dg
import duckdb

from assets._tables import table_metadata
from assets.forecast import MART_DEPS, forecast_inputs, run_forecasts
from pipelines.resources import RestockResource

CATEGORY_PARTITIONS = dg.DynamicPartitionsDefinition(name="category")
FORECAST_BY_CATEGORY_JOB = "forecast_by_category"


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


forecast_by_category_job = dg.define_asset_job(
    FORECAST_BY_CATEGORY_JOB,
    selection=dg.AssetSelection.assets(category_forecasts),
    partitions_def=CATEGORY_PARTITIONS,
    description="Forecast one category (a partition); launch one run per category to spread "
    "forecasting over the deployment's executor or run launcher.",
)


def categories_in_marts(restock: RestockResource) -> tuple[str, list[str]]:
    """(as_of, categories with demand) of the work DB's current marts."""
    with restock.connect(read_only=True) as con:
        as_of = restock.run_as_of(con)
        rows = con.execute(
            "select distinct category from marts.fct_daily_demand order by 1").fetchall()
    return as_of, [str(r[0]) for r in rows]


@dg.sensor(
    name="category_partitions_sensor",
    job=forecast_by_category_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Registers every category of the current marts as a category_forecasts "
    "partition and requests one forecast_by_category run per category and as_of.",
)
def category_partitions_sensor(context: dg.SensorEvaluationContext, restock: RestockResource):
    try:
        as_of, categories = categories_in_marts(restock)
    except (duckdb.Error, RuntimeError) as exc:
        return dg.SkipReason(f"no marts to read categories from yet: {exc}")
    if not categories:
        return dg.SkipReason("fct_daily_demand has no categories")
    known = set(context.instance.get_dynamic_partitions(CATEGORY_PARTITIONS.name))
    new = [c for c in categories if c not in known]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"{as_of}:{c}", partition_key=c)
                      for c in categories],
        dynamic_partitions_requests=[CATEGORY_PARTITIONS.build_add_request(new)] if new else [],
    )
