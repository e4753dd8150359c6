"""The nightly schedule (cron and timezone from the environment, with defaults)."""

from __future__ import annotations

import dagster as dg

from pipelines.jobs import NIGHTLY_JOB_NAME

DEFAULT_CRON = "0 2 * * *"
DEFAULT_TIMEZONE = "UTC"


def nightly_schedule(
    job: dg.JobDefinition | dg.UnresolvedAssetJobDefinition,
) -> dg.ScheduleDefinition:
    """Run the whole nightly job every night (RESTOCK_SCHEDULE_CRON / RESTOCK_SCHEDULE_TIMEZONE)."""
    return dg.ScheduleDefinition(
        name=f"{NIGHTLY_JOB_NAME}_schedule",
        job=job,
        cron_schedule=dg.EnvVar("RESTOCK_SCHEDULE_CRON").get_value(DEFAULT_CRON),
        execution_timezone=dg.EnvVar("RESTOCK_SCHEDULE_TIMEZONE").get_value(DEFAULT_TIMEZONE),
        description="Every night: ingest, transform, backtest and forecast, replenish, report, "
        "publish.",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
