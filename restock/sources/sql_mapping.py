"""The ERP mapping file: which ERP table or query fills each contract table.

Read and checked against the contract before any database is touched, so a wrong name stops
the run with one line naming the table and column (module doc of :mod:`restock.sources.sql`,
"Safety": every name must be a plain identifier).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
import yaml

from restock.contract import INPUT_TABLES, InputTable
from restock.sources.sql_errors import MappingError

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class TableMapping:
    """How one contract table is read from the ERP."""

    table: str
    erp_table: str | None = None
    erp_schema: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # contract column -> ERP column
    query: str | None = None
    watermark: str | None = None
    initial_watermark: object = None


def load_mapping(mapping_file: Path) -> dict[str, TableMapping]:
    """Read and check a mapping file against the contract; no database is touched.

    Raises
    ------
    MappingError
        Naming the table and column of an unknown contract table or column, a name that is not
        a plain identifier, or a missing required column.
    """
    data = yaml.safe_load(Path(mapping_file).read_text(encoding="utf-8")) or {}
    tables = data.get("tables") if isinstance(data, dict) else None
    if not isinstance(tables, dict) or not tables:
        raise MappingError(f"{mapping_file}: expected a 'tables:' mapping of contract tables")
    result = {}
    for name, spec in tables.items():
        if name not in INPUT_TABLES:
            raise MappingError(
                f"{mapping_file}: {name!r} is not a contract table "
                f"(one of {', '.join(INPUT_TABLES)})"
            )
        if not isinstance(spec, dict):
            raise MappingError(f"{name}: expected a mapping with table: or query:")
        result[name] = _check_table_spec(name, spec, INPUT_TABLES[name])
    return result


def _check_table_spec(name: str, spec: dict, contract: InputTable) -> TableMapping:
    unknown_keys = set(spec) - {
        "table",
        "schema",
        "columns",
        "query",
        "watermark",
        "initial_watermark",
    }
    if unknown_keys:
        raise MappingError(f"{name}: unknown mapping key(s) {', '.join(sorted(unknown_keys))}")
    if ("table" in spec) == ("query" in spec):
        raise MappingError(f"{name}: give exactly one of table: or query:")
    watermark = spec.get("watermark")
    if watermark is not None:
        _check_identifier(name, "watermark", watermark)
    if "query" in spec:
        query = spec["query"]
        if not isinstance(query, str) or not query.strip():
            raise MappingError(f"{name}: query: must be SQL text")
        query = query.strip().rstrip(";").strip()
        params = set(sa.text(query).compile().params)
        if params - {"watermark"}:
            raise MappingError(
                f"{name}: query uses unknown parameter(s) {', '.join(sorted(params))}; "
                "only :watermark is bound"
            )
        if "watermark" in params and (watermark is None or "initial_watermark" not in spec):
            raise MappingError(
                f"{name}: a query using :watermark needs watermark: (the result column) and "
                "initial_watermark: (bound on the first run)"
            )
        return TableMapping(
            name,
            query=query,
            watermark=watermark,
            initial_watermark=spec.get("initial_watermark"),
        )
    erp_table = spec["table"]
    _check_identifier(name, "table", erp_table)
    erp_schema = spec.get("schema")
    if erp_schema is not None:
        _check_identifier(name, "schema", erp_schema)
    columns = spec.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise MappingError(f"{name}: table: needs columns: {{contract column: ERP column}}")
    for contract_column, erp_column in columns.items():
        if contract_column not in contract.column_names:
            raise MappingError(
                f"{name}.{contract_column}: not a column of contract table {name} "
                f"({', '.join(contract.column_names)})"
            )
        _check_identifier(f"{name}.{contract_column}", "column", erp_column)
    check_required(name, contract, set(columns))
    return TableMapping(
        name,
        erp_table=erp_table,
        erp_schema=erp_schema,
        columns=dict(columns),
        watermark=watermark,
    )


def _check_identifier(where: str, what: str, value: object) -> None:
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise MappingError(
            f"{where}: {what} {value!r} is not a plain identifier (letters, digits, underscores)"
        )


def check_required(name: str, contract: InputTable, present: set[str]) -> None:
    """Raise :class:`MappingError` unless ``present`` holds the table's required columns.

    Used on the mapping file's columns and, for a ``query:``, on the columns the query returns.
    """
    missing = [c for c in contract.required_columns if c not in present]
    if missing:
        raise MappingError(f"{name}: required contract column(s) not mapped: {', '.join(missing)}")
    if contract.one_of and not present & set(contract.one_of):
        raise MappingError(f"{name}: map at least one of {', '.join(contract.one_of)}")

