"""Small DuckDB helpers shared by the stages."""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote_identifier(name: str) -> str:
    """Validate ``name`` as a plain identifier and quote it for DuckDB.

    Raises ValueError for anything but letters, digits and underscores, so a configured name can
    never carry SQL.
    """
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ValueError(f"invalid identifier {name!r}: use letters, digits and underscores")
    return '"' + name + '"'


def qualified(schema: str, table: str) -> str:
    """Quoted ``schema.table``."""
    return f"{quote_identifier(schema)}.{quote_identifier(table)}"


@contextmanager
def connect(path: str | Path, read_only: bool = False):
    """Open a DuckDB connection and close it afterwards."""
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def write_table(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, frame: pd.DataFrame
) -> int:
    """Replace ``schema.table`` with the rows of ``frame``; return the row count."""
    con.execute(f"create schema if not exists {quote_identifier(schema)}")
    con.register("_restock_frame", frame)
    try:
        con.execute(
            f"create or replace table {qualified(schema, table)} as select * from _restock_frame"
        )
    finally:
        con.unregister("_restock_frame")
    return len(frame)


def read_table(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    columns: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Read ``schema.table`` (optionally only ``columns``) into a DataFrame."""
    cols = "*" if columns is None else ", ".join(quote_identifier(c) for c in columns)
    return con.execute(f"select {cols} from {qualified(schema, table)}").df()


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether ``schema.table`` exists."""
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])
