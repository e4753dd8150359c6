"""Project-wide settings of the Dagster code location: names, defaults, policies."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

# Defaults for `dagster dev` and the schedule when no environment variable says otherwise.
DEFAULT_FEED = str(PROJECT_ROOT / "var" / "demo_feed")
DEFAULT_WAREHOUSE = str(PROJECT_ROOT / "var" / "demo" / "restock.duckdb")

# One writer at a time: every asset that writes the work DB runs in this pool (limit 1 in
# dagster.yaml) and the nightly job runs its steps in one process.
WAREHOUSE_POOL = "restock_warehouse"

# Transient failures (a database hiccup, a locked file) get retried with backoff; the same policy
# is applied to every asset in pipelines/definitions.py.
RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL)

NIGHTLY_JOB_NAME = "restock_nightly"

# The forecast reaches at most this far (it grows to cover lead time + review); dbt expands
# known future promotions over the same span so the forecast sees every one it covers.
MAX_FORECAST_HORIZON_DAYS = 365
