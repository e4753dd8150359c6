"""Quality: the quarantine of rejected rows and the data-quality results of every check."""


from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from assets.ingest import RAW_TABLE_NAMES, load_ingest_result
from assets.resources import RestockResource
from assets.settings import WAREHOUSE_POOL
from assets.tables import table_metadata, write_result
from restock.warehouse import table_exists

STAGING_MODELS = [f"stg_feed__{name}" for name in RAW_TABLE_NAMES]


@dg.asset(
    deps=[["raw", name] for name in RAW_TABLE_NAMES],
    group_name="quality",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
)
def quarantine(context: dg.AssetExecutionContext, restock: RestockResource):
    """One row per rejected input row: its source table, the reason, and the row as JSON."""
    from restock.quality.accounting import quarantine_rows

    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    with restock.connect() as con:
        rows = quarantine_rows(con, loaded_at)
        write_result(con, "quarantine", rows)
    reasons = rows["reason"].value_counts().head(20).to_dict() if len(rows) else {}
    context.log.info(f"{len(rows)} rows quarantined: {reasons}")
    return dg.MaterializeResult(
        metadata={**table_metadata(rows), "reasons": dg.MetadataValue.json(reasons)}
    )


@dg.asset(
    deps=["quarantine", *STAGING_MODELS],
    group_name="quality",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
)
def data_quality_results(context: dg.AssetExecutionContext, restock: RestockResource):
    """One row per check run on the input: accounting (rows in = accepted + quarantined) and the
    Great Expectations suites' results; mart checks are appended at publication."""
    from restock.quality.accounting import accounting_results, ingest_results

    with restock.connect() as con:
        ingest = load_ingest_result(con)
        results = pd.concat([accounting_results(con, ingest), ingest_results(ingest)],
                            ignore_index=True)
        if table_exists(con, "results", "gx_results"):
            gx = con.execute("select * from results.gx_results").df()
            results = pd.concat([results, gx], ignore_index=True)
        write_result(con, "data_quality_results", results)
    failed = results[~results["passed"].astype(bool)] if len(results) else results
    for row in failed.itertuples():
        log = context.log.error if row.severity == "error" else context.log.warning
        log(f"{row.source}: {row.check} failed on {row.failed_rows} rows: {row.detail}")
    return dg.MaterializeResult(
        metadata={**table_metadata(results), "failed_checks": len(failed)}
    )
