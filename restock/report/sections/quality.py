"""Data quality: every check and expectation of the run, its result and a sample of failing rows.

This replaces Great Expectations' Data Docs in the report: those pages load their scripts and
styles from a CDN and show an empty list offline. The same content (every expectation, its
result, the unexpected values GX kept, and the quarantined rows) is rendered here from the
results the run stores, in the same self-contained page.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from pathlib import Path

import numpy as np
import pandas as pd

from restock.report.data import is_empty, missing_columns
from restock.report.formatting import defs, empty, esc, fmt_date, lacks
from restock.report.tables import Cell, Column, data_table
from restock.report.tables import plain as _plain

# GX result rows (restock.quality.gx_suites._result_rows) have a detail of
# "<expectation type> <column>[: <n> unexpected, e.g. [<up to 5 values>]]".
_GX_DETAIL = re.compile(r"^(expect_[a-z0-9_]+)\s*([^:]*)")
_SAMPLE = re.compile(r"\be\.g\.\s*(.*)$", re.S)
QUARANTINE_SAMPLE = 5


def expectation_of(check: object, detail: object) -> str:
    """The GX expectation (type and column) a result row is about, else the check's name."""
    match = _GX_DETAIL.match(str(detail or ""))
    if match:
        column = match.group(2).strip()
        return f"{match.group(1)} ({column})" if column else match.group(1)
    return str(check)


def failing_sample(detail: object) -> str:
    """The failing values a result row lists after "e.g.", else ""."""
    match = _SAMPLE.search(str(detail or ""))
    return match.group(1).strip() if match else ""


def _as_bool(value: object) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    return str(value).lower() in ("true", "1", "t", "yes")


def quality_section(
    results: pd.DataFrame, out_dir: Path, data_docs_index: Path | None,
    quarantine: pd.DataFrame | None = None,
) -> str:
    parts = []
    needed = ["source", "check", "severity", "passed"]
    if is_empty(results):
        parts.append(empty("No data quality results were recorded this run."))
    elif missing_columns(results, needed):
        parts.append(lacks(results, needed, "data quality"))
    else:
        parts.append(_results(results))
    if not is_empty(quarantine):
        parts.append(_quarantine(quarantine))
    if data_docs_index is not None:
        # Kept as a pointer only: GX's pages need network access (CDN scripts) to render.
        rel = Path(os.path.relpath(Path(data_docs_index).resolve(), out_dir.resolve())).as_posix()
        parts.append(
            '<p class="note">Great Expectations also wrote its Data Docs for this run '
            f'(<a href="{esc(urllib.parse.quote(rel))}">{esc(rel)}</a>); they load scripts '
            "from the web and do not render offline. Everything they show is in the tables "
            "above.</p>")
    return "".join(parts)


def _results(results: pd.DataFrame) -> str:
    passed = results["passed"].map(_as_bool)
    severity = results["severity"].astype(str).str.lower()
    rank = np.where(~passed, np.where(severity == "error", 0, 1), 2)
    ordered = results.assign(_rank=rank, _passed=passed).sort_values(
        ["_rank", "source", "check"], kind="mergesort")
    n_err = int(((~passed) & (severity == "error")).sum())
    n_warn = int(((~passed) & (severity != "error")).sum())
    n_gx = int(results.get("detail", pd.Series(dtype=str)).astype(str)
               .str.match(_GX_DETAIL).sum())
    rows = []
    for r in ordered.to_dict("records"):
        sev = str(r.get("severity"))
        ok = bool(r["_passed"])
        status = ("passed" if ok
                  else f'<span class="failed-{esc(sev.lower())}"><b>FAILED</b></span>')
        failed_rows = pd.to_numeric(pd.Series([r.get("failed_rows")]), errors="coerce").iloc[0]
        sample = "" if ok else failing_sample(r.get("detail"))
        expectation = expectation_of(r.get("check"), r.get("detail"))
        rows.append([
            Cell(status, "passed" if ok else "FAILED", search="passed" if ok else "FAILED",
                 order=int(r["_rank"])),
            Cell(esc(sev), _plain(sev), search=sev),
            Cell(esc(r.get("source")), _plain(r.get("source")), search=str(r.get("source"))),
            Cell(esc(r.get("check")), _plain(r.get("check")), search=str(r.get("check"))),
            Cell(esc(expectation), _plain(expectation)),
            Cell("–" if pd.isna(failed_rows) else f"{int(failed_rows):,}",
                 "" if pd.isna(failed_rows) else int(failed_rows)),
            Cell(f"<code>{esc(sample)}</code>" if sample else "", _plain(sample)),
            Cell(esc(_plain(r.get("detail"))), _plain(r.get("detail"))),
        ])
    columns = [Column("result", filter="select"), Column("severity", filter="select"),
               Column("source", filter="select"), Column("check", filter="select"),
               Column("expectation", filter="text"), Column("failed rows", "num"),
               Column("failing values (sample)", "explain"), Column("detail", "explain")]
    return (
        '<div class="kpis">'
        f'<div class="kpi"><span>checks run</span><b>{len(results):,}</b></div>'
        f'<div class="kpi"><span>of which GX expectations</span><b>{n_gx:,}</b></div>'
        f'<div class="kpi"><span>failed, blocking (error)</span><b>{n_err:,}</b></div>'
        f'<div class="kpi"><span>failed, warning only</span><b>{n_warn:,}</b></div></div>'
        '<h3 id="quality-results">Validation results</h3>'
        "<p>Every check of the run: row accounting, the Great Expectations suites on the feed "
        "(schema, types, ranges, keys, referential integrity), freshness, drift and spikes. "
        "Failures first, blocking ones on top.</p>"
        + data_table("quality-table", columns, rows, filename="restock_data_quality",
                     order=[(0, "asc")], page_length=50)
        + defs([
            ("Severity", "an error blocks publishing the run's tables; a warning is reported "
                         "and the run goes on."),
            ("Failing values", "up to 5 of the unexpected values GX kept (per-row checks run on "
                               "a sample of at most 200,000 accepted rows per table)."),
        ])
    )


def _row_text(value: object) -> str:
    """A quarantined row (stored as JSON text or a mapping) as "col=value, ..." text."""
    if isinstance(value, dict):
        data = value
    else:
        try:
            data = json.loads(str(value))
        except (TypeError, ValueError):
            return str(value)
    if isinstance(data, dict):
        return ", ".join(f"{k}={v}" for k, v in data.items())
    return str(data)


def _quarantine(quarantine: pd.DataFrame) -> str:
    needed = ["source", "reason"]
    if missing_columns(quarantine, needed):
        return lacks(quarantine, needed, "quarantine")
    counts = quarantine.groupby(["source", "reason"], sort=True).size()
    sample = quarantine.groupby(["source", "reason"], sort=True).head(QUARANTINE_SAMPLE)
    rows = []
    for r in sample.to_dict("records"):
        text = _row_text(r.get("row")) if "row" in r else ""
        n = int(counts.loc[(r["source"], r["reason"])])
        rows.append([
            Cell(esc(r["source"]), _plain(r["source"]), search=str(r["source"])),
            Cell(esc(r["reason"]), _plain(r["reason"]), search=str(r["reason"])),
            Cell(f"{n:,}", n),
            Cell(f"<code>{esc(text)}</code>", _plain(text)),
            Cell(fmt_date(r.get("loaded_at")), fmt_date(r.get("loaded_at"))),
        ])
    columns = [Column("source", filter="select"), Column("reason", filter="select"),
               Column("rows quarantined", "num"), Column("row (sample)", "explain"),
               Column("loaded")]
    return (
        '<h3 id="quality-quarantine">Quarantined rows (sample)</h3>'
        f"<p>{len(quarantine):,} feed rows were set aside and not used; up to "
        f"{QUARANTINE_SAMPLE} per source and reason are shown.</p>"
        + data_table("quarantine-table", columns, rows, filename="restock_quarantine_sample")
    )
