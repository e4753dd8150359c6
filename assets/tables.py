"""Shared helpers for the thin assets: read marts, write results, describe tables."""


import dagster as dg
import duckdb
import pandas as pd

from restock.warehouse import read_table, table_exists, write_table

RESULTS = "results"
MARTS = "marts"

#: fct_daily_demand columns the Python stages use (units_returned, n_customers are for BI)
DEMAND_COLUMNS = (
    "sku", "location", "category", "date", "units_sold", "on_hand", "stockout_hours",
    "is_censored", "promo", "discount_pct", "unit_price", "is_event",
)


def read_mart(con: duckdb.DuckDBPyConnection, name: str) -> pd.DataFrame:
    """A dbt mart of the work DB as a DataFrame (empty if the model is absent)."""
    if not table_exists(con, MARTS, name):
        return pd.DataFrame()
    return read_table(con, MARTS, name)


def read_demand(
    con: duckdb.DuckDBPyConnection,
    since: pd.Timestamp | None = None,
    series: pd.DataFrame | None = None,
    columns: tuple[str, ...] = DEMAND_COLUMNS,
) -> pd.DataFrame:
    """fct_daily_demand rows dated after ``since`` (all when None), of ``series`` (sku,
    location; all when None), in date order per series.

    A stage reads only the history its maths uses: the whole mart of an M5-size feed
    (30,490 series x 5 years) would not fit in memory as a DataFrame.
    """
    if not table_exists(con, MARTS, "fct_daily_demand"):
        return pd.DataFrame(columns=list(columns))
    where, params = [], []
    if since is not None:
        where.append("date > cast(? as date)")
        params.append(pd.Timestamp(since).date())
    if series is not None:
        con.register("_restock_series", series[["sku", "location"]])
        where.append("(sku, location) in (select (sku, location) from _restock_series)")
    try:
        return read_table(con, MARTS, "fct_daily_demand", columns,
                          where=" and ".join(where) or None, params=params or None)
    finally:
        if series is not None:
            con.unregister("_restock_series")


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
