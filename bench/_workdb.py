"""A synthetic work database (``results.<table>`` for every published table) for the
publishing bench and tests/test_publish.py: one generator of plausible typed columns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from restock.contract import PUBLISHED_TABLES

DATE_COLUMNS = {"date", "cutoff", "projected_stockout_date"}
BOOL_COLUMNS = {"passed"}
TEXT_COLUMNS = {
    "sku",
    "location",
    "model",
    "category",
    "demand_class",
    "selected_model",
    "runner_up",
    "reason",
    "explanation",
    "severity",
    "policy",
    "source",
    "check",
    "detail",
    "row",
}


def column_sql(name: str) -> str:
    """A DuckDB expression over ``i`` (the row number) for a column of this name."""
    if name in DATE_COLUMNS:
        return "date '2024-01-01' + (i % 28)::integer"
    if name in BOOL_COLUMNS:
        return "i % 2 = 0"
    if name == "loaded_at":
        return "timestamp '2024-01-01 00:00:00' + to_seconds(i)"
    if name == "row":  # JSON with commas, quotes and a newline: CSV/COPY must keep it
        return '\'{"a": "x,\' || i::varchar || \'", "b": "say \\"hi\\""}\' || chr(10)'
    if name == "detail":  # NULL and '' must stay different
        return "case i % 3 when 0 then null when 1 then '' else 'detail' end"
    if name in TEXT_COLUMNS:
        return f"'{name}-' || (i % 17)::varchar"
    return "(i * 1.5)::double"


def build_work_db(path: Path, rows_of: Callable[[int, str], int], tag: str = "a") -> dict[str, int]:
    """Write results.<table> for every published table, ``rows_of(n, table)`` rows each (n =
    the table's position), columns in reverse contract order (publishing must put the
    contract's order first) plus an extra column ``extra_note`` = ``tag``. Returns the counts."""
    counts = {}
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists results")
        for n, (table, columns) in enumerate(PUBLISHED_TABLES.items()):
            rows = rows_of(n, table)
            select = ", ".join(f'{column_sql(c)} as "{c}"' for c in reversed(columns))
            con.execute(
                f'create or replace table results."{table}" as select {select}, '
                f"'{tag}' as extra_note from (select range as i from range({rows}))"
            )
            counts[table] = rows
    return counts
