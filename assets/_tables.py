"""Shared helpers for the thin assets: read marts, write results, describe tables."""


import dagster as dg
import duckdb
import pandas as pd

from restock.warehouse import read_table, table_exists, write_table

RESULTS = "results"
MARTS = "marts"


def read_mart(con: duckdb.DuckDBPyConnection, name: str) -> pd.DataFrame:
    """A dbt mart of the work DB as a DataFrame (empty if the model is absent)."""
    if not table_exists(con, MARTS, name):
        return pd.DataFrame()
    return read_table(con, MARTS, name)


def read_result(con: duckdb.DuckDBPyConnection, name: str) -> pd.DataFrame:
    """A results table written by an earlier stage of this run."""
    if not table_exists(con, RESULTS, name):
        raise RuntimeError(f"results.{name} is missing: its producing asset has not run")
    return read_table(con, RESULTS, name)


def write_result(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> int:
    """Replace results.<name> with ``frame``."""
    return write_table(con, RESULTS, name, frame)


def table_metadata(frame: pd.DataFrame, preview_rows: int = 0) -> dict:
    """Row count and column schema as Dagster metadata (plus an optional Markdown preview)."""
    meta: dict = {
        "dagster/row_count": len(frame),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(str(c), str(t)) for c, t in frame.dtypes.items()]
        ),
    }
    if preview_rows and len(frame):
        meta["preview"] = dg.MetadataValue.md(frame.head(preview_rows).to_markdown(index=False))
    return meta
