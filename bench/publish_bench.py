"""Time publish_tables at M5 scale (30,490 series x 28 days of forecasts).

Usage: .venv/bin/python bench/publish_bench.py [--series 30490] [--postgres URL]
Prints seconds per target and the published file size. Postgres is optional (schema
``restock_bench`` is created and dropped).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workdb import build_work_db  # noqa: E402

from restock.config import PublishSettings  # noqa: E402
from restock.paths import RunPaths  # noqa: E402
from restock.publishing import publish_tables, verify_published  # noqa: E402

ROWS = {  # rows per table as a multiple of the series count (1 for tables not listed)
    "demand_forecasts": 28.0,
    "stockout_alerts": 0.1,
    "backtest_metrics": 200 / 30_490,
    "model_selection": 40 / 30_490,
    "policy_replay": 80 / 30_490,
    "data_quality_results": 60 / 30_490,
    "quarantine": 2000 / 30_490,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=30_490)
    parser.add_argument("--postgres", default=None, help="SQLAlchemy URL of a Postgres server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = RunPaths.from_warehouse(Path(tmp) / "restock.duckdb").ensure()
        work = Path(tmp) / "work.duckdb"
        t0 = time.perf_counter()
        build_work_db(work, lambda _n, table: int(args.series * ROWS.get(table, 1.0)))
        print(f"work DB built in {time.perf_counter() - t0:.2f} s")
        settings = PublishSettings()
        if args.postgres:
            os.environ["RESTOCK_BENCH_PG_URL"] = args.postgres
            settings = PublishSettings(
                postgres_url_env="RESTOCK_BENCH_PG_URL", postgres_schema="restock_bench"
            )
        for run in (1, 2):
            summary = publish_tables(work, paths, f"bench-{run}", "2024-03-28", settings)
            rows = sum(summary["tables"].values())
            print(f"run {run}: {rows:,} rows, total {summary['seconds']:.2f} s")
            print(
                f"  duckdb  {summary['duckdb']['seconds']:.2f} s, "
                f"{summary['duckdb']['bytes'] / 1e6:.1f} MB"
            )
            print(f"  parquet {summary['parquet']['seconds']:.2f} s")
            if "postgres" in summary:
                pg = summary["postgres"]
                print(
                    f"  postgres load {pg['load_seconds']:.2f} s, swap {pg['swap_seconds']:.3f} s"
                )
        print("verify:", verify_published(paths))
        if args.postgres:
            import sqlalchemy as sa

            engine = sa.create_engine(args.postgres)
            with engine.begin() as conn:
                conn.exec_driver_sql("drop schema if exists restock_bench cascade")
            engine.dispose()


if __name__ == "__main__":
    main()
