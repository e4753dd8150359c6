"""ERP write-back: after publication, the purchase order proposals go into the ERP database.

Off unless ``publish.erp_writeback.url_env`` names an environment variable holding the
SQLAlchemy URL (the password stays in the environment). The step runs after
``published_tables``, so a run stopped by a blocking check never writes to the ERP; a refused
insert fails this step only (publication and report stand), with a one-line message that never
holds the password, and is not retried (the ERP said no; retrying would say no again).
"""


import os

import dagster as dg

from assets.resources import RestockResource
from assets.settings import WAREHOUSE_POOL
from assets.tables import read_result


def writeback_run_id(con, fallback: str) -> str:
    """The run that computed the proposals (raw._run, written by its ingest step): a
    re-execution of a failed write-back replaces that run's rows instead of adding a copy."""
    row = con.execute("select run_id from raw._run limit 1").fetchone()
    return str(row[0]) if row and row[0] else fallback


@dg.asset(
    deps=["published_tables"],
    group_name="publish",
    kinds={"sql", "csv"},
    pool=WAREHOUSE_POOL,
)
def erp_writeback(context: dg.AssetExecutionContext, restock: RestockResource):
    """The run's purchase order proposals inserted into the ERP's table (one transaction,
    idempotent by run_id) and one CSV per supplier in the run's folder, ready to send."""
    settings = restock.config.publish.erp_writeback
    if not settings.url_env:
        context.log.info("ERP write-back off (publish.erp_writeback.url_env is not set)")
        return dg.MaterializeResult(metadata={"enabled": False})
    url = os.environ.get(settings.url_env, "").strip()
    if not url:
        raise dg.Failure(
            description=f"ERP write-back: environment variable {settings.url_env} (named by "
            "publish.erp_writeback.url_env) is not set or empty; nothing written",
            allow_retries=False)
    from restock.erp_writeback import WritebackError
    from restock.erp_writeback import erp_writeback as write_back

    with restock.connect(read_only=True) as con:
        as_of = restock.run_as_of(con)
        run_id = writeback_run_id(con, context.run_id)
        proposals = read_result(con, "purchase_order_proposals")
        lines = read_result(con, "purchase_order_lines")
    out_dir = restock.paths.run_report_dir(as_of, run_id) / "purchase_orders"
    try:
        summary = write_back(url, settings.table, proposals, lines, run_id, out_dir,
                             settings.db_schema)
    except (WritebackError, ValueError) as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    context.log.info(
        f"ERP write-back: {summary['rows']} purchase order lines of {len(proposals)} proposals "
        f"into {summary['table']} at {summary['url']} (run {run_id}, {summary['deleted']} "
        f"earlier rows replaced); {len(summary['files'])} supplier CSV files in {out_dir}")
    return dg.MaterializeResult(metadata={
        "enabled": True,
        "dagster/row_count": summary["rows"],
        "table": summary["table"],
        "url": summary["url"],
        "run_id": run_id,
        "rows_replaced": summary["deleted"],
        "files": dg.MetadataValue.json(summary["files"]),
        "folder": dg.MetadataValue.path(str(out_dir)),
    })
