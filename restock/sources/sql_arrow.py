"""ERP values -> Arrow columns of the contract's types, one chunk at a time.

Strict: a value that does not read as its contract type stops the extraction with a
:class:`~restock.sources.sql_errors.SourceError` naming table and column. The ERP's watermark
goes along in the extra column :data:`WATERMARK_COLUMN`.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pandas as pd
import pyarrow as pa

from restock.contract import InputTable
from restock.sources.sql_errors import SourceError

WATERMARK_COLUMN = "erp_watermark"
ARROW_TYPES = {
    "text": pa.string(),
    "number": pa.float64(),
    "integer": pa.int64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def to_arrow(
    frame: pd.DataFrame,
    name: str,
    contract: InputTable,
    columns: list[str],
    wm_key: str,
    schema: pa.Schema | None,
) -> pa.Table:
    """Cast a chunk to the contract types (strictly: a bad value names table and column)."""
    arrays, fields = [], []
    for col in columns:
        ctype = contract.column(col.lower()).type
        try:
            arrays.append(_convert(frame[col], ctype))
        except (ValueError, TypeError) as exc:
            raise SourceError(f"{name}.{col}: cannot read values as {ctype}: {exc}") from None
        fields.append(pa.field(col.lower(), ARROW_TYPES[ctype]))
    if wm_key in frame:
        values = [None if is_null(v) else _plain(v) for v in frame[wm_key]]
        wm_type = schema.field(WATERMARK_COLUMN).type if schema is not None else None
        if wm_type == pa.string():
            values = [None if v is None else str(v) for v in values]
        array = pa.array(values, type=wm_type, from_pandas=True)
        if array.type == pa.null():
            # An all-NULL first chunk gives no type: fall back to text for the whole file.
            array = array.cast(pa.string())
        arrays.append(array)
        fields.append(pa.field(WATERMARK_COLUMN, array.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def empty_schema(contract: InputTable, columns: list[str]) -> pa.Schema:
    """The Arrow schema of ``columns``: what an empty snapshot part file is written with."""
    return pa.schema(
        [pa.field(c.lower(), ARROW_TYPES[contract.column(c.lower()).type]) for c in columns]
    )


def _convert(values: pd.Series, ctype: str) -> pa.Array:
    if ctype == "text":
        return pa.array([None if is_null(v) else _text(v) for v in values], type=pa.string())
    if ctype in ("number", "integer"):
        numbers = pd.to_numeric(values.map(lambda v: None if is_null(v) else v))
        if ctype == "integer":
            whole = numbers.dropna()
            if not (whole == whole.round()).all():
                raise ValueError("not whole numbers")
            return pa.array(numbers.astype("Int64"), type=pa.int64(), from_pandas=True)
        return pa.array(numbers.astype("float64"), type=pa.float64(), from_pandas=True)
    if ctype == "boolean":
        return pa.array([_boolean(v) for v in values], type=pa.bool_())
    stamps = values.map(lambda v: None if is_null(v) else v)
    try:
        parsed = pd.to_datetime(stamps)
    except (ValueError, TypeError):
        parsed = pd.to_datetime(stamps, format="mixed")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)  # keep the wall-clock time the ERP recorded
    if ctype == "date":
        return pa.array(parsed.dt.normalize().astype("datetime64[us]")).cast(pa.date32())
    return pa.array(parsed.astype("datetime64[us]"), type=pa.timestamp("us"))


def _boolean(v) -> bool | None:
    if is_null(v):
        return None
    if isinstance(v, bool):
        return v
    text = str(v).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if isinstance(v, (int, float, Decimal)):
        return v != 0
    raise ValueError(f"{v!r} is not a boolean")


def _text(v) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, Decimal):
        return format(v.normalize(), "f") if v == v.to_integral_value() else str(v)
    return str(v)


def _plain(v):
    """A watermark value Arrow can store and order (the exact value is kept in the state)."""
    return float(v) if isinstance(v, Decimal) else v


def is_null(v) -> bool:
    """None, NaN or NaT: what a database driver or pandas hands over for SQL NULL."""
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT

