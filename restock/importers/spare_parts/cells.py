"""Cell values and the places of a sheet, as every step of the spare-parts import reads them.

One definition of a blank cell, of a SKU's text (12, not 12.0) and of an Excel place name
("row 5 column C") keeps the steps' counts and error messages consistent.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

_PAREN = re.compile(r"\([^)]*\)")


def norm_header(text: object) -> str:
    """Header text for matching: lower case, no parenthesised part, punctuation as spaces."""
    s = _PAREN.sub(" ", str(text).lower())
    s = re.sub(r"[._:#/\\-]+", " ", s)
    return re.sub(r"\s+", " ", s).strip()


def is_blank(value: object) -> bool:
    """An empty cell: None, NaN or spaces only (no demand, no part, no attribute)."""
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def cell_text(value: object) -> str:
    """SKU numbers come as floats or ints from Excel; write 12 rather than 12.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def column_letter(index: int) -> str:
    """Excel column letter of a 0-based column index: 0 -> A, 26 -> AA."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


class Where:
    """Names places in one sheet for error messages (Excel numbering)."""

    def __init__(self, path: Path, sheet: str) -> None:
        self.path, self.sheet = path, sheet

    def __call__(self, row: int | None = None, col: int | None = None, label: str = "") -> str:
        at = f"{self.path.name} sheet {self.sheet!r}"
        if row is not None:
            at += f" row {row + 1}"
        if col is not None:
            at += f" column {column_letter(col)}" + (f" ({label})" if label else "")
        return at


def to_numbers(values: pd.Series) -> pd.Series:
    """Cells as numbers, NaN where a cell is not one (blank or text: the caller tells which)."""
    return pd.to_numeric(values, errors="coerce")

