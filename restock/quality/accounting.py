"""Quarantine and row accounting: nothing is dropped silently.

Every raw row is either accepted (``_reject_reason`` NULL) or quarantined with its reason; these
functions turn the raw tables into the contract's ``quarantine`` rows and into
``data_quality_results`` rows proving rows in = accepted + quarantined.
"""

from __future__ import annotations

import logging
from datetime import datetime

import duckdb
import pandas as pd

from restock.contract import INPUT_TABLES
from restock.feed.reader import IngestResult
from restock.warehouse import qualified, quote_identifier, table_exists

log = logging.getLogger("restock.quality")

ACCOUNTING_CHECK = "rows_in_equals_accepted_plus_quarantined"
RESULT_COLUMNS = ["source", "check", "severity", "passed", "failed_rows", "detail"]
QUARANTINE_COLUMNS = ["source", "reason", "row", "loaded_at"]


def _raw_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = 'raw' and table_name = ? order by ordinal_position",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


def quarantine_rows(con: duckdb.DuckDBPyConnection, loaded_at: datetime) -> pd.DataFrame:
    """Rejected rows of every raw table, as the contract's ``quarantine`` table.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The work DB after :func:`restock.feed.reader.load_feed`.
    loaded_at : datetime
        When the feed was loaded (the same value on every row of the run).

    Returns
    -------
    pandas.DataFrame
        source (feed table), reason, row (the file row as JSON, with ``_source_file`` and
        ``_row_number`` for traceability), loaded_at.
    """
    parts = []
    for table in INPUT_TABLES:
        if not table_exists(con, "raw", table):
            continue
        columns = [c for c in _raw_columns(con, table) if c != "_reject_reason"]
        # Identifiers are validated by quote_identifier; keys of the JSON are bound values.
        pairs = ", ".join(f"?, {quote_identifier(c)}" for c in columns)
        frame = con.execute(
            f"select ? as source, _reject_reason as reason, "
            f"cast(json_object({pairs}) as varchar) as row, cast(? as timestamp) as loaded_at "
            f"from {qualified('raw', table)} where _reject_reason is not null "
            "order by _source_file, _row_number",
            [table, *columns, loaded_at],
        ).df()
        if len(frame):
            parts.append(frame)
    if not parts:
        return pd.DataFrame(
            {
                "source": pd.Series(dtype="object"),
                "reason": pd.Series(dtype="object"),
                "row": pd.Series(dtype="object"),
                "loaded_at": pd.Series(dtype="datetime64[us]"),
            }
        )
    result = pd.concat(parts, ignore_index=True)
    log.info("quarantine: %d rejected rows", len(result))
    return result[QUARANTINE_COLUMNS]


def accounting_results(
    con: duckdb.DuckDBPyConnection, ingest_result: IngestResult
) -> pd.DataFrame:
    """One ``data_quality_results`` row per feed table: rows in = accepted + quarantined.

    Checks, per table: rows read from the files (``ingest_result`` and ``raw._ingest_files``)
    = rows in ``raw.<table>`` = accepted + rejected; and, when dbt has built
    ``staging.stg_feed__<table>``, its row count = accepted. Severity ``error``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The work DB (after ingest; after ``dbt build`` for the staging comparison).
    ingest_result : IngestResult
        What :func:`restock.feed.reader.load_feed` returned.

    Returns
    -------
    pandas.DataFrame
        source, check, severity, passed, failed_rows, detail.
    """
    files_read: dict[str, int] = {}
    if table_exists(con, "raw", "_ingest_files"):
        files_read = {
            t: int(n)
            for t, n in con.execute(
                'select "table", sum(rows) from raw._ingest_files group by 1'
            ).fetchall()
        }
    rows = []
    for table in INPUT_TABLES:
        info = ingest_result.tables.get(table)
        read = info.rows_read if info is not None else 0
        listed = files_read.get(table, 0)
        if not table_exists(con, "raw", table):
            rows.append((table, ACCOUNTING_CHECK, "error", False, read, "raw table missing"))
            continue
        raw_rows, accepted, rejected = con.execute(
            "select count(*), count(*) filter (where _reject_reason is null), "
            f"count(*) filter (where _reject_reason is not null) from {qualified('raw', table)}"
        ).fetchone()
        staging = f"stg_feed__{table}"
        staged = None
        if table_exists(con, "staging", staging):
            staged = con.execute(
                f"select count(*) from {qualified('staging', staging)}"
            ).fetchone()[0]
        failed = (
            abs(read - raw_rows)
            + abs(listed - raw_rows)
            + abs(raw_rows - accepted - rejected)
            + (abs(staged - accepted) if staged is not None else 0)
        )
        detail = (
            f"read {read} (files list {listed}), raw {raw_rows} = accepted {accepted} "
            f"+ quarantined {rejected}"
            + (f"; staging {staged}" if staged is not None else "; staging not built yet")
        )
        rows.append((table, ACCOUNTING_CHECK, "error", failed == 0, int(failed), detail))
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def ingest_results(ingest_result: IngestResult) -> pd.DataFrame:
    """``data_quality_results`` rows for what the reader saw, all severity ``warning``.

    One ``rows_quarantined`` row per table and reject reason (failed_rows = rows rejected for
    it), and one ``ingest_warning`` row per reader warning (extra columns, latin-1 files, empty
    optional tables), so they reach the published table and not only the logs.

    Parameters
    ----------
    ingest_result : IngestResult
        What :func:`restock.feed.reader.load_feed` returned.

    Returns
    -------
    pandas.DataFrame
        source, check, severity, passed, failed_rows, detail.
    """
    rows = []
    for table, info in ingest_result.tables.items():
        for reason, count in sorted(info.reject_reasons.items(), key=lambda kv: -kv[1]):
            rows.append((table, "rows_quarantined", "warning", False, int(count),
                         f"{count} of {info.rows_read} rows rejected: {reason}"))
        for warning in info.warnings:
            rows.append((table, "ingest_warning", "warning", False, 0, warning))
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)
