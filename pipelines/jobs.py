"""The jobs: the nightly run (every stage, one process), the weekly policy replay, and the
forecast fan-out by category.

Project-wide policies of the nightly run are applied here, once: the in-process executor (a
single writer owns the work DB) and the retry policy. `restock run` (pipelines/runner.py), the
schedule and the drop sensor all execute this same `nightly_job`.
"""

from __future__ import annotations

import dagster as dg

from assets.customers import customer_impact
from assets.erp import erp_writeback
from assets.forecast import forecasts
from assets.ingest import raw_feed
from assets.partitioned import CATEGORY_PARTITIONS, category_forecasts
from assets.publish import published_tables
from assets.quality import data_quality_results, quarantine
from assets.replenish import policy_replay, reorder_recommendations, stockout_alerts
from assets.report import run_report
from assets.transform import restock_dbt_models

NIGHTLY_JOB_NAME = "restock_nightly"
REPLAY_JOB_NAME = "restock_replay"
FORECAST_BY_CATEGORY_JOB = "forecast_by_category"

# Transient failures (a database hiccup, a locked file) get retried with backoff; the same policy
# applies to every step of the nightly job, whoever launches it (UI, schedule, `restock run`).
RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL)

#: every stage, in the order of a nightly run with its replay (the nightly job leaves out
#: ``policy_replay``: that is the replay job's, below)
NIGHTLY_ASSETS = [
    raw_feed,
    restock_dbt_models,
    quarantine,
    data_quality_results,
    customer_impact,
    forecasts,
    reorder_recommendations,
    stockout_alerts,
    policy_replay,
    published_tables,
    erp_writeback,
    run_report,
]
#: plus the partitioned fan-out of forecasting (assets/partitioned.py), its own job
ALL_ASSETS = [*NIGHTLY_ASSETS, category_forecasts]

#: the weekly replay job: the replay on the last published nightly's marts, then that nightly's
#: tables published again with the fresh replay, and a report
REPLAY_ASSETS = [policy_replay, published_tables, run_report]

nightly_job = dg.define_asset_job(
    NIGHTLY_JOB_NAME,
    # every stage and its checks but the replay (its own weekly job: it costs as much as the
    # rest of the night, and last week's replay still tells what the policy is worth); the
    # partitioned fan-out has its own job
    selection=(dg.AssetSelection.all()
               - dg.AssetSelection.assets(category_forecasts, policy_replay)),
    executor_def=dg.in_process_executor,
    op_retry_policy=RETRY_POLICY,
    description="The whole nightly run, one step at a time in one process (DuckDB has one writer).",
)

replay_job = dg.define_asset_job(
    REPLAY_JOB_NAME,
    selection=dg.AssetSelection.assets(*REPLAY_ASSETS),
    executor_def=dg.in_process_executor,
    op_retry_policy=RETRY_POLICY,
    description="The policy replay (Restock against the static rule and baseline planners, day "
    "by day on the past) on the last published nightly's data, published with that nightly's "
    "tables. Weekly, or on demand (`restock replay`).",
)

forecast_by_category_job = dg.define_asset_job(
    FORECAST_BY_CATEGORY_JOB,
    selection=dg.AssetSelection.assets(category_forecasts),
    partitions_def=CATEGORY_PARTITIONS,
    description="Forecast one category (a partition); launch one run per category to spread "
    "forecasting over the deployment's executor or run launcher.",
)
