"""docs/DATA_CONTRACT.md is kept in step with restock/contract.py, both directions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from restock import contract

DOC = Path(__file__).resolve().parents[1] / "docs" / "DATA_CONTRACT.md"
_TABLE_HEADING = re.compile(r"^#{3,4} `([a-z_]+)`\s*$")


def parse(text: str) -> dict[str, dict[str, dict[str, list[list[str]]]]]:
    """section (## title) -> group (### title without a table name, or "") -> table -> rows.

    A table is a ``### `name``` or ``#### `name``` heading followed by a markdown table; rows
    are its body cells (header and separator dropped)."""
    out: dict = {}
    section = group = table = None
    seen_header = False
    for line in text.splitlines():
        if line.startswith("## "):
            section, group, table = line[3:].strip(), "", None
            out.setdefault(section, {}).setdefault(group, {})
            continue
        heading = _TABLE_HEADING.match(line)
        if heading:
            table, seen_header = heading.group(1), False
            out[section][group].setdefault(table, [])
            continue
        if line.startswith("### "):  # a group of tables (or prose) without a table name
            group, table = line[4:].strip(), None
            out[section].setdefault(group, {})
            continue
        if table and line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not seen_header:
                seen_header = True
            elif not set(line) <= set("|-: "):
                out[section][group][table].append(cells)
    return out


def _columns(rows: list[list[str]]) -> list[str]:
    return [r[0].strip("`") for r in rows]


@pytest.fixture(scope="module")
def doc():
    return parse(DOC.read_text(encoding="utf-8"))


def _tables(doc, section: str, group: str = "") -> dict[str, list[list[str]]]:
    assert section in doc, f"docs/DATA_CONTRACT.md lacks the section '## {section}'"
    if group:
        matches = [g for g in doc[section] if group in g]
        assert len(matches) == 1, f"no single '### ...{group}...' under '## {section}'"
        return doc[section][matches[0]]
    merged: dict = {}
    for tables in doc[section].values():
        merged.update(tables)
    return merged


def test_input_tables_match_the_code(doc):
    tables = _tables(doc, "Input feed")
    assert set(tables) == set(contract.INPUT_TABLES)
    for name, rows in tables.items():
        spec = contract.INPUT_TABLES[name]
        assert _columns(rows) == list(spec.column_names), name
        required = {r[0] for r in rows if r[2] == "yes"}
        assert required == set(spec.required_columns), name


def test_published_tables_match_the_code(doc):
    tables = _tables(doc, "Published tables")
    assert set(tables) == set(contract.PUBLISHED_TABLES)
    for name, rows in tables.items():
        expected = [
            *contract.PUBLISHED_TABLES[name],
            *(c.name for c in contract.TYPED_COLUMNS.get(name, ())),
        ]
        assert _columns(rows) == expected, name
        assert expected == list(contract.published_columns(name)[: -len(contract.RUN_COLUMNS)])
    # Every BI column is marked as such and typed DATE / BIGINT.
    for name, typed in contract.TYPED_COLUMNS.items():
        cells = {r[0]: r for r in tables[name]}
        for c in typed:
            assert "*(BI)*" in cells[c.name][2], (name, c.name)
            assert cells[c.name][1] == {"date": "date", "integer": "bigint"}[c.type]


def test_history_tables_match_the_code(doc):
    from restock.history import HISTORY_TYPES

    tables = _tables(doc, "History tables")
    assert set(tables) == set(contract.HISTORY_TABLES)
    for name, rows in tables.items():
        assert _columns(rows) == list(contract.HISTORY_TABLES[name]), name
        assert [r[1].replace("text", "varchar") for r in rows] == [
            HISTORY_TYPES[name][c] for c in contract.HISTORY_TABLES[name]
        ], name


def test_every_table_of_the_code_is_documented_as_published(doc):
    """Nothing is left "not published yet": the customer and action tables are published."""
    assert "Not published yet" not in doc or not any(doc["Not published yet"].values())
    assert set(contract.CUSTOMER_TABLES) <= set(contract.PUBLISHED_TABLES)
    assert set(contract.ACTION_PUBLISHED_TABLES) <= set(contract.PUBLISHED_TABLES)


def test_action_tables_are_read_and_published(doc):
    """Issue 19's tables are wired: their groups are parts of the input and published sets."""
    assert set(contract.ACTION_INPUT_TABLES) <= set(_tables(doc, "Input feed"))
    assert set(contract.ACTION_PUBLISHED_TABLES) <= set(_tables(doc, "Published tables"))
    assert all(not contract.INPUT_TABLES[t].required for t in contract.ACTION_INPUT_TABLES)


def test_no_table_is_listed_twice_or_in_two_roles(doc):
    seen: list[str] = []
    for section in doc.values():
        for tables in section.values():
            seen.extend(tables)
    assert len(seen) == len(set(seen)), sorted(t for t in seen if seen.count(t) > 1)
    published = [*contract.PUBLISHED_TABLES, *contract.HISTORY_TABLES]
    assert len(published) == len(set(published))


def test_parser_sees_a_drift():
    """A column added to the code but not to the doc (or the reverse) is caught."""
    text = DOC.read_text(encoding="utf-8").replace("| p99 | double | 99 % quantile |\n", "")
    tables = _tables(parse(text), "Published tables")
    assert "p99" not in _columns(tables["demand_forecasts"])
