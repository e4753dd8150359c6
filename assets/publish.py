"""Publish: the contract's tables go to the BI-facing DuckDB file, Parquet and Postgres."""


import dagster as dg
import pandas as pd

from assets.replenish import PUBLISHED_RUN_TABLE, ensure_replay_tables
from assets.resources import RestockResource
from assets.settings import WAREHOUSE_POOL
from assets.tables import write_result
from restock.contract import PUBLISHED_TABLES
from restock.warehouse import table_exists

PUBLISHED_FROM = [
    "forecast_backtest", "demand_forecasts", "reorder_recommendations", "stockout_alerts",
    "policy_replay", "data_quality_results", "quarantine", "customer_impact",
    # the history tables score past forecasts and alerts against the run's actuals
    "fct_daily_demand",
]


def merge_check_results(con) -> int:
    """Append this run's mart check results (written by the asset checks) to
    results.data_quality_results, so the published table holds every check."""
    if not table_exists(con, "results", "mart_check_results"):
        return 0
    base = con.execute("select * from results.data_quality_results").df()
    marts = con.execute("select * from results.mart_check_results").df()
    merged = pd.concat([base[~base["source"].str.startswith("marts.")], marts], ignore_index=True)
    write_result(con, "data_quality_results", merged)
    return len(marts)


@dg.asset(
    deps=PUBLISHED_FROM,
    group_name="publish",
    kinds={"duckdb", "parquet"},
    pool=WAREHOUSE_POOL,
)
def published_tables(context: dg.AssetExecutionContext, restock: RestockResource):
    """The contract's published tables (schema `marts`), swapped in atomically for BI readers.

    Runs only when every blocking check upstream passed, so a bad run never replaces what was
    published before.
    """
    from restock.publishing import publish_tables

    with restock.connect() as con:
        as_of = restock.run_as_of(con)
        ingest_run_id = con.execute("select run_id from raw._run").fetchone()[0]
        merge_check_results(con)
        if ensure_replay_tables(con):
            context.log.info("no policy replay has run yet: its tables are published empty "
                             "(the replay runs weekly, or now with `restock replay`)")
    summary = publish_tables(
        restock.paths.work_db, restock.paths, context.run_id, as_of, restock.config.publish,
        PUBLISHED_TABLES, history=restock.config.history,
        duckdb_memory_limit=restock.config.warehouse.duckdb_memory_limit,
    )
    with restock.connect() as con:  # the replay job may now replay this nightly's data
        write_result(con, PUBLISHED_RUN_TABLE, pd.DataFrame({
            "ingest_run_id": [ingest_run_id], "as_of": [as_of], "published_by": [context.run_id],
        }))
    # The GX volume baseline moves forward only with a published run.
    pending = restock.paths.state_dir / "volumes.pending.json"
    if pending.exists():
        pending.replace(restock.paths.state_dir / "volumes.json")
    rows = summary.get("tables", {})
    context.log.info(f"published {sum(rows.values())} rows in {len(rows)} tables to "
                     f"{restock.paths.warehouse}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": int(sum(rows.values())),
            "rows_per_table": dg.MetadataValue.json(rows),
            "warehouse": dg.MetadataValue.path(str(restock.paths.warehouse)),
            "as_of": as_of,
        }
    )
