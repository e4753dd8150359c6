"""Data quality: the checks of the run, failures first, with a link to the Data Docs."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

import numpy as np
import pandas as pd

from restock.report.data import ReportLimits, is_empty, missing_columns
from restock.report.formatting import capped_note, defs, empty, esc, fmt_num, lacks, table


def quality_section(
    results: pd.DataFrame, out_dir: Path, data_docs_index: Path | None, limits: ReportLimits
) -> str:
    parts = []
    if data_docs_index is not None:
        rel = Path(os.path.relpath(Path(data_docs_index).resolve(), out_dir.resolve())).as_posix()
        href = urllib.parse.quote(rel)
        missing = "" if Path(data_docs_index).exists() else " (not found when the report was built)"
        parts.append(f'<p>Full validation detail: <a href="{esc(href)}">Great Expectations Data '
                     f"Docs</a>{missing}.</p>")
    else:
        parts.append('<p class="note">No Data Docs were built for this run.</p>')
    needed = ["source", "check", "severity", "passed"]
    if is_empty(results):
        parts.append(empty("No data quality results were recorded this run."))
        return "".join(parts)
    if missing_columns(results, needed):
        return "".join(parts) + lacks(results, needed, "data quality")
    passed = results["passed"].map(
        lambda v: str(v).lower() in ("true", "1", "t", "yes") if not isinstance(v, bool) else v
    )
    severity = results["severity"].astype(str).str.lower()
    rank = np.where(~passed, np.where(severity == "error", 0, 1), 2)
    ordered = results.assign(_rank=rank, _passed=passed).sort_values(
        ["_rank", "source", "check"], kind="mergesort")
    n_err = int(((~passed) & (severity == "error")).sum())
    n_warn = int(((~passed) & (severity != "error")).sum())
    parts.append(
        '<div class="kpis">'
        f'<div class="kpi"><span>checks run</span><b>{len(results):,}</b></div>'
        f'<div class="kpi"><span>failed, blocking (error)</span><b>{n_err:,}</b></div>'
        f'<div class="kpi"><span>failed, warning only</span><b>{n_warn:,}</b></div></div>'
    )
    shown = ordered.head(limits.quality_rows)
    rows = []
    for r in shown.to_dict("records"):
        sev = str(r.get("severity"))
        status = ("passed" if r["_passed"]
                  else f'<span class="failed-{esc(sev.lower())}"><b>FAILED</b></span>')
        rows.append([status, esc(sev), esc(r.get("source")), esc(r.get("check")),
                     fmt_num(r.get("failed_rows")), esc(r.get("detail"))])
    parts.append(table([("result", ""), ("severity", ""), ("source", ""), ("check", ""),
                        ("failed rows", "num"), ("detail", "explain")], rows))
    parts.append(capped_note(len(shown), len(results), "checks"))
    parts.append(defs([("Severity", "an error blocks publishing the run's tables; a warning is "
                                    "reported and the run goes on.")]))
    return "".join(parts)
