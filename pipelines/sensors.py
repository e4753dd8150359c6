"""Sensors: start a run when a complete feed drop lands; send stockout alerts to their owners;
register the categories of the marts as forecast partitions."""


import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from assets.partitioned import CATEGORY_PARTITIONS, categories_in_marts
from assets.resources import RestockResource
from pipelines.jobs import NIGHTLY_JOB_NAME, forecast_by_category_job


def feed_drop_sensor(job) -> dg.SensorDefinition:
    """A run per new complete drop (a `_SUCCESS` marker, or files stable across two ticks) in the
    folder RESTOCK_DROP_FOLDER; run keys make sure a drop is never loaded twice."""

    @dg.sensor(
        name="feed_drop_sensor",
        job=job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Starts the nightly job for each complete new feed drop in "
        "RESTOCK_DROP_FOLDER.",
    )
    def _sensor(context: dg.SensorEvaluationContext):
        from restock.sources.dropfolder import find_complete_drops

        root = dg.EnvVar("RESTOCK_DROP_FOLDER").get_value()
        if not root:
            return dg.SkipReason("RESTOCK_DROP_FOLDER is not set")
        state = json.loads(context.cursor) if context.cursor else {}
        drops, state = find_complete_drops(Path(root), state, time.time())
        context.update_cursor(json.dumps(state, default=str))
        if not drops:
            return dg.SkipReason(f"no complete new drop in {root}")
        return [
            dg.RunRequest(
                run_key=drop.run_key,
                run_config={"ops": {"raw_feed": {"config": {"feed": str(drop.path)}}}},
                tags={"restock/drop": drop.path.name},
            )
            for drop in drops
        ]

    return _sensor


def read_new_alerts(warehouse: Path, last_run_id: str | None):
    """The published stockout alerts if the published run differs from ``last_run_id``.

    Returns (run_id, alerts DataFrame or None). Opens the published file read-only, as a BI
    reader would, so it never blocks the writer (which swaps in a new file).
    """
    if not warehouse.exists():
        return last_run_id, None
    with duckdb.connect(str(warehouse), read_only=True) as con:
        alerts = con.execute("select * from marts.stockout_alerts").df()
        run = con.execute("select max(run_id) from marts.demand_forecasts").fetchone()[0]
    if run is None or run == last_run_id:
        return last_run_id, None
    return run, alerts


@dg.sensor(
    name="stockout_alert_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Sends each newly published run's stockout alerts to their owners (config "
    "alerting.alert_routes: Slack, Teams, DingTalk, WeCom, Feishu, e-mail, webhook; else "
    "RESTOCK_ALERT_WEBHOOK_URL), one digest per owner, no repeats within alerting.dedup_days.",
)
def stockout_alert_sensor(context: dg.SensorEvaluationContext, restock: RestockResource):
    """Dispatch the alerts of a newly published run once (the cursor holds the last run handled).

    A failing channel is logged and reported, never raised: the other owners still get theirs,
    and what failed is tried again with the next published run (docs/ALERTS.md).
    """
    from restock.alerting import HttpOptions, dispatch_alerts, severity_legend_from
    from restock.config import alert_routes

    run_id, alerts = read_new_alerts(restock.paths.warehouse, context.cursor)
    if alerts is None:
        return dg.SkipReason("no newly published run")
    for row in alerts.head(50).itertuples():
        context.log.warning(
            f"stockout alert [{row.severity}] {row.sku} @ {row.location}: runs out "
            f"{row.projected_stockout_date}, p={row.stockout_probability:.2f}, "
            f"order {row.recommended_order_qty}"
        )
    config = restock.config
    routes, env = alert_routes(config, os.environ)
    if routes and len(alerts):
        settings = config.alerting.parsed()
        as_of = alerts["as_of"].dropna() if "as_of" in alerts else pd.Series(dtype=object)
        report = dispatch_alerts(
            alerts, routes, restock.paths.state_dir / "alerts_sent.json", datetime.now(UTC), env,
            top_n=settings.top_n, dedup_days=settings.dedup_days,
            legend=severity_legend_from(config.replenish),
            run_label=str(pd.Timestamp(as_of.iloc[0]).date()) if len(as_of) else None,
            http=HttpOptions(timeout=settings.timeout_seconds, retries=settings.retries),
        )
        context.log.info(f"run {run_id}: {report.summary()}")
        failed = {c.line() for c in report.failed}
        for line in report.lines():
            (context.log.warning if line in failed else context.log.info)(line)
    elif len(alerts):
        context.log.info("no alert routes and no RESTOCK_ALERT_WEBHOOK_URL: alerts only logged")
    context.update_cursor(run_id)
    return dg.SkipReason(f"{len(alerts)} alerts of run {run_id} handled")


@dg.sensor(
    name="category_partitions_sensor",
    job=forecast_by_category_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Registers every category of the current marts as a category_forecasts "
    "partition and requests one forecast_by_category run per category and as_of.",
)
def category_partitions_sensor(context: dg.SensorEvaluationContext, restock: RestockResource):
    """Register new categories as partitions; one run request per category and as_of."""
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


__all__ = ["NIGHTLY_JOB_NAME", "category_partitions_sensor", "feed_drop_sensor",
           "read_new_alerts", "stockout_alert_sensor"]
