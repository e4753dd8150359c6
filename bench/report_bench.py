"""Bench the run report: file size, build time and Chromium load time at M5 CA_1 scale.

    .venv/bin/python bench/report_bench.py                      # synthetic, 3,049 SKUs
    .venv/bin/python bench/report_bench.py --work-db var/demo/restock.work.duckdb --as-of 2016-05-22

Synthetic inputs are shaped like M5 CA_1: 3,049 SKUs at one store, 28-day forecasts, 3 folds,
8 candidate models, a 91-day replay. With --work-db the published results of a real run are
read from results.* and the history from marts.fct_daily_demand (read-only).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restock.report import build_report  # noqa: E402
from restock.report.browser import find_chromium, open_report  # noqa: E402
from restock.report.sample import DEFAULT_MODELS, make_report_inputs  # noqa: E402

RESULT_TABLES = ("backtest_metrics", "model_selection", "demand_forecasts",
                 "backtest_predictions", "reorder_recommendations", "stockout_alerts",
                 "policy_replay", "data_quality_results")


def inputs_from_work_db(work_db: Path, as_of: str, history_days: int) -> dict:
    """build_report keyword arguments read from a run's work DuckDB (missing tables -> None)."""
    import duckdb

    con = duckdb.connect(str(work_db), read_only=True)
    try:
        present = {
            f"{schema}.{name}"
            for schema, name in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }

        def read(qualified: str, sql: str | None = None, params: list | None = None):
            if qualified not in present:
                return None
            return con.execute(sql or f"select * from {qualified}", params or []).df()

        kwargs: dict = {name: read(f"results.{name}") for name in RESULT_TABLES}
        kwargs["history"] = read(
            "marts.fct_daily_demand",
            "select sku, location, date, units_sold, is_censored from marts.fct_daily_demand "
            "where date > cast(? as date) - ?::integer",
            [as_of, history_days],
        )
        kwargs["products"] = read("marts.dim_products")
        headline = read("results.policy_replay_headline")
        kwargs["policy_headline"] = (
            headline.iloc[0].to_dict() if headline is not None and len(headline) else None
        )
    finally:
        con.close()
    kwargs["as_of"] = as_of
    kwargs["run_summary"] = {
        "feed": str(work_db), "as_of": as_of, "run_id": "bench",
        "rows": {k: len(v) for k, v in kwargs.items()
                 if isinstance(v, pd.DataFrame) and k in RESULT_TABLES},
        "durations": {}, "warnings": [],
    }
    return kwargs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-db", type=Path, help="a run's work DuckDB file")
    parser.add_argument("--as-of", help="planning date of that run (YYYY-MM-DD)")
    parser.add_argument("--skus", type=int, default=3049)
    parser.add_argument("--history-days", type=int, default=730)
    parser.add_argument("--loads", type=int, default=3, help="Chromium loads to time")
    parser.add_argument("--out", type=Path, help="report folder (default: a temporary one)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    if args.work_db:
        if not args.as_of:
            parser.error("--as-of is required with --work-db")
        kwargs = inputs_from_work_db(args.work_db, args.as_of, args.history_days)
        label = f"work DB {args.work_db}"
    else:
        kwargs = make_report_inputs(
            n_skus=args.skus, models=DEFAULT_MODELS, history_days=args.history_days,
            backtest_per_unit=150,
        )
        label = f"synthetic M5 CA_1 shape ({args.skus:,} SKUs)"
    t_inputs = time.perf_counter() - t0
    rows = {k: len(v) for k, v in kwargs.items() if isinstance(v, pd.DataFrame)}

    with tempfile.TemporaryDirectory(prefix="restock-report-bench-") as tmp:
        out = args.out or Path(tmp) / "report"
        t0 = time.perf_counter()
        path = build_report(out, **kwargs)
        t_build = time.perf_counter() - t0
        page = path.read_text(encoding="utf-8")
        from plotly.offline import get_plotlyjs

        size = path.stat().st_size
        n_plots = page.count('class="fig-data"')
        plotly_bytes = len(get_plotlyjs().encode())
        print(f"inputs: {label}; prepared in {t_inputs:.1f} s")
        print("input rows: " + ", ".join(f"{k}={n:,}" for k, n in rows.items()))
        print(f"build_report: {t_build:.2f} s")
        print(f"file size: {size / 1e6:.2f} MB (plotly.js {plotly_bytes / 1e6:.2f} MB, "
              f"report content {(size - plotly_bytes) / 1e6:.2f} MB), "
              f"{n_plots} plots")
        chromium = find_chromium()
        if chromium is None:
            print("chromium load time: skipped (chromium not installed)")
            return
        loads, firsts, cpus = [], [], []
        for i in range(args.loads):
            check = open_report(path, executable=chromium)
            problems = check.page_errors + check.console_errors + check.external_requests
            loads.append(check.load_seconds)
            firsts.append(check.first_view_seconds)
            cpus.append(check.main_thread_cpu_seconds)
            print(f"chromium load {i + 1}: first screen {check.first_view_seconds:.2f} s, all "
                  f"{check.plots_ready} plots drawn {check.load_seconds:.2f} s; main-thread CPU "
                  f"{check.main_thread_cpu_seconds:.2f} s, renderer CPU "
                  f"{check.renderer_cpu_seconds:.2f} s; errors/external requests: {len(problems)}")
        print(f"chromium load time (all plots drawn): median {statistics.median(loads):.2f} s, "
              f"max {max(loads):.2f} s; first screen median {statistics.median(firsts):.2f} s "
              f"(fresh profile each load)")
        print(f"main-thread CPU to all plots drawn: median {statistics.median(cpus):.2f} s "
              f"(a load-independent lower bound of the wall time on an idle machine)")
        print(f"machine load average while measuring: {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
