"""Report: the HTML run report supply-chain leads read (offline, one file)."""


import dagster as dg
import duckdb
import pandas as pd

from assets.customers import HITS_TABLE, SUMMARY_TABLE
from assets.resources import RestockResource
from assets.run_stats import step_seconds
from assets.settings import WAREHOUSE_POOL
from assets.tables import read_mart, read_result
from restock.contract import HISTORY_TABLES, PUBLISHED_TABLES
from restock.paths import RunPaths
from restock.publishing.history_store import history_store_path
from restock.warehouse import table_exists


def _optional_result(con, name: str) -> pd.DataFrame:
    return read_result(con, name) if table_exists(con, "results", name) else pd.DataFrame()


def read_history(paths: RunPaths, table: str) -> pd.DataFrame:
    """A history table as the publication left it: the history store (written by every publish
    with history on, whichever targets are), else the published file's ``marts``; empty when
    neither has it (history off, or nothing published yet)."""
    if table not in HISTORY_TABLES:
        raise KeyError(f"{table!r} is not a history table")
    for path, schema in ((history_store_path(paths), "main"), (paths.warehouse, "marts")):
        if not path.exists():
            continue
        try:
            with duckdb.connect(str(path), read_only=True) as con:
                if table_exists(con, schema, table):
                    return con.execute(f'select * from {schema}."{table}"').df()
        except duckdb.Error:
            continue
    return pd.DataFrame()


@dg.asset(
    deps=["published_tables"],
    group_name="report",
    kinds={"html"},
    pool=WAREHOUSE_POOL,
)
def run_report(context: dg.AssetExecutionContext, restock: RestockResource):
    """reports/<as_of>/<run_id>/index.html (and reports/latest): orders to place, accuracy (this
    run's backtest and, from the history tables, earlier runs' forecasts on days now known), alert
    precision, the replay frontier, data quality."""
    from restock.report import build_report

    with restock.connect(read_only=True) as con:
        as_of = restock.run_as_of(con)
        run = con.execute("select * from raw._run").df().iloc[0]
        tables = {name: _optional_result(con, name) for name in PUBLISHED_TABLES}
        history = con.execute(
            "select sku, location, date, units_sold, is_censored from marts.fct_daily_demand "
            "where date > cast(? as date) - interval 120 day", [as_of]
        ).df()
        predictions = _optional_result(con, "backtest_predictions")
        headline_frame = _optional_result(con, "policy_replay_headline")
        products = read_mart(con, "dim_products")
        quarantine = tables["quarantine"]
        customer_hits = _optional_result(con, HITS_TABLE)
        customer_summary = _optional_result(con, SUMMARY_TABLE)
        warnings = []
        if len(tables["data_quality_results"]):
            dq = tables["data_quality_results"]
            failed = dq[~dq["passed"].astype(bool)]
            warnings = [f"{r.source}: {r.check} ({r.failed_rows} rows)"
                        for r in failed.itertuples()]
    # One folder per warehouse and run (two runs, or two warehouses in one folder, never share
    # a report); reports/latest points at the newest.
    out_dir = restock.paths.run_report_dir(as_of, context.run_id)
    data_docs = out_dir / "data_docs" / "index.html"
    summary = {
        "feed": str(run["feed"]),
        "as_of": as_of,
        "run_id": context.run_id,
        "rows": {name: len(frame) for name, frame in tables.items()},
        # every step of this run that finished before the report (the Dagster instance's
        # step stats: what the UI's timeline shows)
        "durations": step_seconds(context.instance, context.run_id),
        "warnings": warnings,
    }
    path = build_report(
        out_dir,
        as_of=as_of,
        run_summary=summary,
        backtest_metrics=tables["backtest_metrics"],
        model_selection=tables["model_selection"],
        demand_forecasts=tables["demand_forecasts"],
        history=history,
        backtest_predictions=predictions,
        reorder_recommendations=tables["reorder_recommendations"],
        stockout_alerts=tables["stockout_alerts"],
        policy_replay=tables["policy_replay"],
        policy_headline=headline_frame.iloc[0].to_dict() if len(headline_frame) else None,
        data_quality_results=tables["data_quality_results"],
        data_docs_index=data_docs if data_docs.exists() else None,
        products=products,
        currency=restock.config.report.currency,
        quarantine=quarantine,
        latest=restock.paths.latest_report,
        accuracy_history=read_history(restock.paths, "forecast_accuracy_history"),
        alert_history=read_history(restock.paths, "alert_history"),
        customer_stockout_impact=tables["customer_stockout_impact"],
        sku_customer_impact=tables["sku_customer_impact"],
        customer_hits=customer_hits,
        customer_summary=(customer_summary.iloc[0].to_dict() if len(customer_summary)
                          else {"note": "the customer step did not run"}),
        purchase_order_proposals=tables["purchase_order_proposals"],
        purchase_order_lines=tables["purchase_order_lines"],
        transfer_recommendations=tables["transfer_recommendations"],
        policy_replay_comparison=tables["policy_replay_comparison"],
    )
    context.log.info(f"report written to {path}")
    return dg.MaterializeResult(
        metadata={"path": dg.MetadataValue.path(str(path)),
                  "bytes": path.stat().st_size}
    )
