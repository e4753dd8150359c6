"""Ingest: the feed directory becomes `raw.<table>` in the work DB (DuckDB's own readers)."""


import json
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg

from assets.resources import RestockResource
from assets.settings import WAREHOUSE_POOL
from restock.contract import INPUT_TABLES

RAW_TABLE_NAMES = tuple(INPUT_TABLES)


class IngestConfig(dg.Config):
    """Per-run options: a drop sensor points `feed` at a new drop; `as_of` replays a past night."""

    feed: str = ""
    as_of: str = ""


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["raw", name],
            group_name="ingest",
            description=f"One row per row of the feed's `{name}` files, as text, with its reject "
            "reason (NULL = accepted).",
            kinds={"duckdb"},
        )
        for name in RAW_TABLE_NAMES
    ],
    pool=WAREHOUSE_POOL,
)
def raw_feed(context: dg.AssetExecutionContext, config: IngestConfig, restock: RestockResource):
    """Read every feed table with DuckDB's readers into `raw.*` and record the run's as_of and
    resolved configuration (`raw._run`)."""
    from restock.derived import check_work_db, set_aside_work_db
    from restock.feed.bounds import FeedBounds
    from restock.feed.reader import load_feed

    feed_dir = Path(config.feed).expanduser().resolve() if config.feed else restock.feed_dir
    # The one read of the config file in a run: stored below with as_of, read by every later step.
    run_config = restock.config
    source = run_config.source
    if source.kind == "sql":
        # The ERP's new or changed rows are appended to the feed as part files first.
        from restock.sources.sql import extract_feed

        if not source.url_env or not source.mapping:
            raise ValueError("source.kind is sql: set source.url_env and source.mapping")
        extracted = extract_feed(
            source.url_env, Path(source.mapping), feed_dir,
            restock.paths.state_dir / "source.duckdb", source.full_reload,
        )
        context.log.info(f"extracted from the ERP into {feed_dir}: {extracted}")
    requested = date.fromisoformat(config.as_of) if config.as_of else restock.requested_as_of()
    context.log.info(f"ingesting feed {feed_dir} (as_of {requested or 'latest sales date'})")
    # The work DB is derived from the feed: a damaged one (a kill mid-checkpoint, a full disk)
    # is set aside and rebuilt here instead of failing every later run (issue 17). A locked one
    # is left alone: restock.connect names the process holding it.
    problem = check_work_db(restock.paths.work_db)
    if problem and "is damaged" in problem:
        context.log.warning(problem)
        set_aside_work_db(restock.paths.work_db)
    with restock.connect() as con:
        # Bounds on every date (sales, inventory, promotions, events, drivers) around as_of.
        result = load_feed(feed_dir, con, requested, bounds=FeedBounds.from_config(run_config))
        con.execute("create schema if not exists raw")
        # Later stages (quality accounting) need what the reader saw: keep it in the work DB.
        con.execute(
            "create or replace table raw._ingest_result as select ? as payload",
            [json.dumps(asdict(result), default=str)],
        )
        con.execute(
            "create or replace table raw._run as select ? as run_id, cast(? as date) as as_of, "
            "? as feed, cast(? as timestamp) as started_at, ? as config_file, ? as config",
            [context.run_id, str(result.as_of), str(feed_dir),
             datetime.now(UTC).replace(tzinfo=None), restock.config_path,
             run_config.model_dump_json()],
        )
    for stats in result.tables.values():
        for warning in stats.warnings:
            context.log.warning(f"{stats.table}: {warning}")
    for name in RAW_TABLE_NAMES:
        stats = result.tables[name]
        yield dg.MaterializeResult(
            asset_key=["raw", name],
            metadata={
                "dagster/row_count": stats.rows_read,
                "rows_accepted": stats.rows_accepted,
                "rows_rejected": stats.rows_rejected,
                "files": dg.MetadataValue.json([str(f) for f in stats.files]),
                "reject_reasons": dg.MetadataValue.json(stats.reject_reasons),
                "warnings": dg.MetadataValue.json(stats.warnings),
                "as_of": str(result.as_of),
            },
        )


def load_ingest_result(con):
    """The reader's IngestResult of this run, as the ingest asset stored it."""
    from restock.feed.reader import IngestResult
    from restock.feed.tables import TableIngest

    payload = json.loads(con.execute("select payload from raw._ingest_result").fetchone()[0])
    return IngestResult(
        as_of=date.fromisoformat(payload["as_of"]),
        tables={name: TableIngest(**info) for name, info in payload["tables"].items()},
    )
