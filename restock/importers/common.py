"""Writing helpers shared by the demo feed generator and the public-data importers.

A feed is a directory of ``<table>.csv`` / ``<table>.parquet`` files (../shared/DATA_CONTRACT.md).
These helpers write one table at a time, deterministically (same frame -> same bytes), and make
sure a table never exists twice in a feed (e.g. a stale ``sales.csv`` beside a new
``sales.parquet``), because the reader would load both.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from restock.contract import INPUT_TABLES

log = logging.getLogger("restock.importers.common")


def prepare_feed_dir(out: Path) -> Path:
    """Create the feed directory ``out`` (and its parents) and return it as a Path."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"feed output {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _clear_table(out: Path, table: str) -> None:
    """Remove earlier files of ``table`` in ``out`` so the feed holds exactly one copy."""
    if table not in INPUT_TABLES:
        raise ValueError(f"{table!r} is not a contract feed table: {sorted(INPUT_TABLES)}")
    for suffix in (".csv", ".parquet"):
        (out / f"{table}{suffix}").unlink(missing_ok=True)
    folder = out / table
    if folder.is_dir():
        stray = [p for p in folder.iterdir() if p.suffix.lower() not in (".csv", ".parquet")]
        if stray:
            raise FileExistsError(
                f"{folder} holds files other than feed parts ({stray[0].name}); not replacing it"
            )
        shutil.rmtree(folder)


def _check_columns(table: str, frame_columns: list[str]) -> None:
    """Fail early, naming the table, when a writer forgets a required contract column."""
    if table not in INPUT_TABLES:
        raise ValueError(f"{table!r} is not a contract feed table: {sorted(INPUT_TABLES)}")
    spec = INPUT_TABLES[table]
    missing = [c for c in spec.required_columns if c not in frame_columns]
    if missing:
        raise ValueError(f"feed table {table} lacks required column(s) {missing}")
    if spec.one_of and not any(c in frame_columns for c in spec.one_of):
        raise ValueError(f"feed table {table} needs at least one of {list(spec.one_of)}")
    upper = [c for c in frame_columns if c != c.lower()]
    if upper:
        raise ValueError(f"feed table {table}: column names must be lower case, got {upper}")


def write_csv(frame: pd.DataFrame, out: Path, table: str) -> int:
    """Write ``frame`` as ``out/<table>.csv`` (UTF-8, ISO dates, empty = missing).

    Returns the number of rows written.
    """
    _check_columns(table, list(frame.columns))
    _clear_table(out, table)
    path = out / f"{table}.csv"
    frame.to_csv(path, index=False, lineterminator="\n", date_format="%Y-%m-%d")
    log.info("wrote %s (%d rows)", path, len(frame))
    return len(frame)


def write_parquet(frame: pd.DataFrame, out: Path, table: str) -> int:
    """Write ``frame`` as ``out/<table>.parquet`` with pyarrow, without the pandas index.

    Parquet written this way is byte-identical for identical frames. Returns the row count.
    """
    _check_columns(table, list(frame.columns))
    _clear_table(out, table)
    path = out / f"{table}.parquet"
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    # The pandas metadata only helps pandas round-trips; dropping it keeps the files neutral.
    arrow = arrow.replace_schema_metadata(None)
    pq.write_table(arrow, path, compression="zstd")
    log.info("wrote %s (%d rows)", path, len(frame))
    return len(frame)


def copy_to_parquet(con: duckdb.DuckDBPyConnection, query: str, out: Path, table: str) -> int:
    """Write the result of a DuckDB ``query`` as ``out/<table>.parquet``; return the row count.

    Used for the large tables of the importers, which never need to pass through pandas.
    ``query`` is built by the importers from fixed text and validated paths, never user SQL.
    """
    columns = [d[0] for d in con.execute(f"select * from ({query}) limit 0").description]
    _check_columns(table, columns)
    _clear_table(out, table)
    path = out / f"{table}.parquet"
    con.execute(
        f"copy ({query}) to '{sql_path(path)}' (format parquet, compression zstd)"
    )
    rows = con.execute(f"select count(*) from read_parquet('{sql_path(path)}')").fetchone()[0]
    log.info("wrote %s (%d rows)", path, rows)
    return int(rows)


def sql_path(path: Path) -> str:
    """A file path as the body of a DuckDB string literal (single quotes doubled)."""
    return str(path).replace("'", "''")


def require_file(path: Path, what: str) -> Path:
    """Return ``path`` if it is a file, else raise a FileNotFoundError naming ``what``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what}: expected file {path} is missing")
    return path


def require_columns(frame_columns: list[str], needed: list[str], where: str) -> None:
    """Raise a clear error when a source file lacks columns the importer reads."""
    missing = [c for c in needed if c not in frame_columns]
    if missing:
        raise ValueError(f"{where} lacks column(s) {missing}; found {list(frame_columns)}")


class SourceFormatError(ValueError):
    """A source file does not fit its importer; the message is one line naming the place
    (file, sheet, row, column) and what to do. ``restock import`` prints it and exits 2."""
