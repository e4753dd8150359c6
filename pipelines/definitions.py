"""The Dagster code location: every stage of the nightly run, its checks, schedule and sensors.

Assets live in assets/, checks in checks/; this file wires them and applies project-wide
policies (one in-process executor so a single writer owns the work DB, a retry policy).
"""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from assets.forecast import forecasts
from assets.ingest import raw_feed
from assets.partitioned import (
    category_forecasts,
    category_partitions_sensor,
    forecast_by_category_job,
)
from assets.publish import published_tables
from assets.quality import data_quality_results, quarantine
from assets.replenish import policy_replay, reorder_recommendations, stockout_alerts
from assets.report import run_report
from assets.transform import dbt_executable, dbt_project, restock_dbt_models
from checks.mart_checks import (
    every_active_series_has_a_line,
    forecasts_valid,
    order_quantities_plausible,
)
from checks.raw_checks import gx_raw_suites, rows_accounted
from pipelines.resources import RestockResource
from pipelines.schedules import nightly_schedule
from pipelines.sensors import feed_drop_sensor, stockout_alert_sensor
from pipelines.settings import NIGHTLY_JOB_NAME, RETRY_POLICY

#: what the nightly job materializes, in one run
NIGHTLY_ASSETS = [
    raw_feed,
    restock_dbt_models,
    quarantine,
    data_quality_results,
    forecasts,
    reorder_recommendations,
    stockout_alerts,
    policy_replay,
    published_tables,
    run_report,
]
#: plus the partitioned fan-out of forecasting (assets/partitioned.py), its own job
ALL_ASSETS = [*NIGHTLY_ASSETS, category_forecasts]
ALL_CHECKS = [
    gx_raw_suites,
    rows_accounted,
    forecasts_valid,
    every_active_series_has_a_line,
    order_quantities_plausible,
]

nightly_job = dg.define_asset_job(
    NIGHTLY_JOB_NAME,
    # every stage; the partitioned fan-out (assets/partitioned.py) has its own job
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(category_forecasts),
    executor_def=dg.in_process_executor,
    op_retry_policy=RETRY_POLICY,
    description="The whole nightly run, one step at a time in one process (DuckDB has one writer).",
)


def build_resources(
    feed=None, warehouse=None, as_of=None, config_path=None
) -> dict[str, object]:
    """Resources for a run; unset values come from RESTOCK_* environment variables at launch."""
    return {
        "restock": RestockResource(
            feed=feed if feed is not None else dg.EnvVar("RESTOCK_FEED"),
            warehouse=warehouse if warehouse is not None else dg.EnvVar("RESTOCK_WAREHOUSE"),
            as_of=as_of if as_of is not None else dg.EnvVar("RESTOCK_AS_OF"),
            config_path=config_path if config_path is not None else dg.EnvVar("RESTOCK_CONFIG"),
        ),
        "dbt": DbtCliResource(
            project_dir=dbt_project,
            profiles_dir=str(dbt_project.project_dir),
            dbt_executable=dbt_executable(),
        ),
    }


defs = dg.Definitions(
    assets=ALL_ASSETS,
    asset_checks=ALL_CHECKS,
    jobs=[nightly_job, forecast_by_category_job],
    schedules=[nightly_schedule(nightly_job)],
    sensors=[feed_drop_sensor(nightly_job), stockout_alert_sensor, category_partitions_sensor],
    resources=build_resources(),
)
