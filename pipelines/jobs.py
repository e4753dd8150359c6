"""The jobs: the nightly run (every stage, one process) and the forecast fan-out by category.

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
FORECAST_BY_CATEGORY_JOB = "forecast_by_category"

# Transient failures (a database hiccup, a locked file) get retried with backoff; the same policy
# applies to every step of the nightly job, whoever launches it (UI, schedule, `restock run`).
RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL)

#: what the nightly job materializes, in one run
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

nightly_job = dg.define_asset_job(
    NIGHTLY_JOB_NAME,
    # every stage and its checks; the partitioned fan-out has its own job
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(category_forecasts),
    executor_def=dg.in_process_executor,
    op_retry_policy=RETRY_POLICY,
    description="The whole nightly run, one step at a time in one process (DuckDB has one writer).",
)

forecast_by_category_job = dg.define_asset_job(
    FORECAST_BY_CATEGORY_JOB,
    selection=dg.AssetSelection.assets(category_forecasts),
    partitions_def=CATEGORY_PARTITIONS,
    description="Forecast one category (a partition); launch one run per category to spread "
    "forecasting over the deployment's executor or run launcher.",
)
