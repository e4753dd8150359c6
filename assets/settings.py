"""Settings the stages share: the dbt project, the writer pool, the forecast's longest reach.

Project-wide policies of the job (retry policy, executor) live with the job in pipelines/jobs.py.
"""

from __future__ import annotations

from restock.dbt_project import DBT_PROJECT_DIR

# One writer at a time: every asset that writes the work DB runs in this pool (limit 1 in
# pipelines/instance/dagster.yaml) and the nightly job runs its steps in one process.
WAREHOUSE_POOL = "restock_warehouse"

# The forecast reaches at most this far (it grows to cover lead time + review); dbt expands
# known future promotions over the same span so the forecast sees every one it covers.
MAX_FORECAST_HORIZON_DAYS = 365

__all__ = ["DBT_PROJECT_DIR", "MAX_FORECAST_HORIZON_DAYS", "WAREHOUSE_POOL"]
