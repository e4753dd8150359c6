"""The Dagster code location: every stage of the nightly run, its checks, jobs, schedule, sensors.

The top of the orchestration layer; imports only point down (docs/ARCHITECTURE.md)::

    pipelines  (definitions, jobs, schedules, sensors, runner, cli)
        -> checks  (asset checks)
            -> assets  (the stages; resources, settings, table helpers)
                -> restock  (the plain library, no Dagster)

Assets live in assets/, checks in checks/, the jobs and their policies (in-process executor,
retry policy) in pipelines/jobs.py; this file only wires them.
"""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from assets.resources import RestockResource
from assets.transform import dbt_child_executable, dbt_project
from checks.marts import (
    every_active_series_has_a_line,
    forecast_magnitudes_plausible,
    forecasts_valid,
    order_quantities_plausible,
)
from checks.raw import gx_raw_suites, rows_accounted
from pipelines.jobs import (
    ALL_ASSETS,
    NIGHTLY_ASSETS,
    forecast_by_category_job,
    nightly_job,
    replay_job,
)
from pipelines.schedules import nightly_schedule, replay_schedule
from pipelines.sensors import category_partitions_sensor, feed_drop_sensor, stockout_alert_sensor

ALL_CHECKS = [
    gx_raw_suites,
    rows_accounted,
    forecasts_valid,
    forecast_magnitudes_plausible,
    every_active_series_has_a_line,
    order_quantities_plausible,
]


def build_resources(
    feed=None, warehouse=None, as_of=None, config_path=None, allow_stale: bool = False
) -> dict[str, object]:
    """Resources for a run; unset values come from RESTOCK_* environment variables at launch."""
    return {
        "restock": RestockResource(
            feed=feed if feed is not None else dg.EnvVar("RESTOCK_FEED"),
            warehouse=warehouse if warehouse is not None else dg.EnvVar("RESTOCK_WAREHOUSE"),
            as_of=as_of if as_of is not None else dg.EnvVar("RESTOCK_AS_OF"),
            config_path=config_path if config_path is not None else dg.EnvVar("RESTOCK_CONFIG"),
            allow_stale=allow_stale,
        ),
        "dbt": DbtCliResource(
            project_dir=dbt_project,
            profiles_dir=str(dbt_project.project_dir),
            # dbt dies with the run (restock/dbt_child.py): a killed run leaves no lock holder
            dbt_executable=dbt_child_executable(),
        ),
    }


defs = dg.Definitions(
    assets=ALL_ASSETS,
    asset_checks=ALL_CHECKS,
    jobs=[nightly_job, replay_job, forecast_by_category_job],
    schedules=[nightly_schedule(nightly_job), replay_schedule(replay_job)],
    sensors=[feed_drop_sensor(nightly_job), stockout_alert_sensor, category_partitions_sensor],
    resources=build_resources(),
)

__all__ = ["ALL_ASSETS", "ALL_CHECKS", "NIGHTLY_ASSETS", "build_resources", "defs", "nightly_job"]
