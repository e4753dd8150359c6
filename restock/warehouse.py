"""Small DuckDB helpers shared by the stages."""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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
    where: str | None = None,
    params: list | None = None,
) -> pd.DataFrame:
    """Read ``schema.table`` (optionally only ``columns`` and rows matching ``where``).

    The rows come through Arrow: text columns are dictionary-encoded, so each distinct string
    is one Python object shared by every row that holds it (a sku repeated over 1,000 days costs
    8 bytes per row instead of a string object per row, which is most of a long demand mart's
    memory), and dates come back as datetime64. Column dtypes are otherwise what ``.df()``
    gives: object for text, float64 / bool / Int64-free numpy types where DuckDB has them.

    Parameters
    ----------
    where : str, optional
        A SQL condition (with ``?`` placeholders for ``params``).
    """
    cols = "*" if columns is None else ", ".join(quote_identifier(c) for c in columns)
    sql = f"select {cols} from {qualified(schema, table)}"
    if where:
        sql += f" where {where}"
    con.complete()  # finish a caller's pending execute() result (a fetchone leaves one open)
    return arrow_to_frame(con.sql(sql, params=params).to_arrow_table())


def arrow_to_frame(tbl: pa.Table) -> pd.DataFrame:
    """pandas frame of an Arrow table with shared string objects (see :func:`read_table`)."""
    out: dict[str, pd.Series | np.ndarray] = {}
    for name in tbl.column_names:
        col = tbl[name]
        kind = col.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind) \
                or pa.types.is_string_view(kind):
            codes = pc.dictionary_encode(col).combine_chunks()
            values = np.asarray(codes.dictionary.to_pylist() + [None], dtype=object)
            idx = pc.fill_null(codes.indices, len(values) - 1)  # null -> the trailing None
            out[name] = values[idx.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)]
        elif pa.types.is_date(kind):
            out[name] = pc.cast(col, pa.timestamp("us")).to_pandas()
        elif pa.types.is_decimal(kind):
            out[name] = pc.cast(col, pa.float64()).to_pandas()
        else:
            out[name] = col.to_pandas()
    return pd.DataFrame(out, columns=tbl.column_names, copy=False)


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether ``schema.table`` exists."""
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()[0]
    return bool(row and row[0])
