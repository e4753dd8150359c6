"""The nightly and weekly replay schedules (cron and timezone from the environment, with
defaults)."""

from __future__ import annotations

import dagster as dg

from pipelines.jobs import NIGHTLY_JOB_NAME, REPLAY_JOB_NAME

DEFAULT_CRON = "0 2 * * *"
#: Sundays after the night's run (the replay needs a published nightly)
DEFAULT_REPLAY_CRON = "0 5 * * 0"
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


def replay_schedule(
    job: dg.JobDefinition | dg.UnresolvedAssetJobDefinition,
) -> dg.ScheduleDefinition:
    """Run the policy replay once a week (RESTOCK_REPLAY_CRON, RESTOCK_SCHEDULE_TIMEZONE)."""
    return dg.ScheduleDefinition(
        name=f"{REPLAY_JOB_NAME}_weekly",
        job=job,
        cron_schedule=dg.EnvVar("RESTOCK_REPLAY_CRON").get_value(DEFAULT_REPLAY_CRON),
        execution_timezone=dg.EnvVar("RESTOCK_SCHEDULE_TIMEZONE").get_value(DEFAULT_TIMEZONE),
        description="Every week: replay the past day by day (Restock against the static rule), "
        "on the last published nightly, and publish it with that nightly's tables.",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
