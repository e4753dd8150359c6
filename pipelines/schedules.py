"""The nightly and weekly replay schedules (cron and timezone from the environment, with
defaults)."""

from __future__ import annotations

import dagster as dg

from pipelines.jobs import NIGHTLY_JOB_NAME, REPLAY_JOB_NAME

DEFAULT_CRON = "0 2 * * *"
#: Sundays after the night's run (the replay needs a published nightly)
DEFAULT_REPLAY_CRON = "0 5 * * 0"
DEFAULT_TIMEZONE = "UTC"


def _stopped_schedule(name: str, job, cron_variable: str, default_cron: str,
                      description: str) -> dg.ScheduleDefinition:
    """A schedule off until switched on in the UI, its cron from ``cron_variable``."""
    return dg.ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=dg.EnvVar(cron_variable).get_value(default_cron),
        execution_timezone=dg.EnvVar("RESTOCK_SCHEDULE_TIMEZONE").get_value(DEFAULT_TIMEZONE),
        description=description,
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )


def nightly_schedule(
    job: dg.JobDefinition | dg.UnresolvedAssetJobDefinition,
) -> dg.ScheduleDefinition:
    """Run the whole nightly job every night (RESTOCK_SCHEDULE_CRON / RESTOCK_SCHEDULE_TIMEZONE)."""
    return _stopped_schedule(
        f"{NIGHTLY_JOB_NAME}_schedule", job, "RESTOCK_SCHEDULE_CRON", DEFAULT_CRON,
        "Every night: ingest, transform, backtest and forecast, replenish, report, publish.",
    )


def replay_schedule(
    job: dg.JobDefinition | dg.UnresolvedAssetJobDefinition,
) -> dg.ScheduleDefinition:
    """Run the policy replay once a week (RESTOCK_REPLAY_CRON, RESTOCK_SCHEDULE_TIMEZONE)."""
    return _stopped_schedule(
        f"{REPLAY_JOB_NAME}_weekly", job, "RESTOCK_REPLAY_CRON", DEFAULT_REPLAY_CRON,
        "Every week: replay the past day by day (Restock against the static rule), on the last "
        "published nightly, and publish it with that nightly's tables.",
    )
