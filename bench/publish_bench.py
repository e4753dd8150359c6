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

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restock.config import PublishSettings  # noqa: E402
from restock.contract import PUBLISHED_TABLES  # noqa: E402
from restock.paths import RunPaths  # noqa: E402
from restock.publishing import publish_tables, verify_published  # noqa: E402

ROWS = {  # rows per table as a multiple of the series count, or a fixed count
    "demand_forecasts": 28.0,
    "reorder_recommendations": 1.0,
    "stockout_alerts": 0.1,
    "backtest_metrics": 200,
    "model_selection": 40,
    "policy_replay": 80,
    "data_quality_results": 60,
    "quarantine": 2000,
}


def build_work_db(path: Path, series: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists results")
        for table, columns in PUBLISHED_TABLES.items():
            factor = ROWS[table]
            n = int(series * factor) if isinstance(factor, float) else factor
            exprs = []
            for c in columns:
                if c in ("date", "cutoff", "projected_stockout_date"):
                    exprs.append(f"date '2024-01-01' + (i % 28)::integer as \"{c}\"")
                elif c == "passed":
                    exprs.append(f'i % 2 = 0 as "{c}"')
                elif c == "loaded_at":
                    exprs.append(f"timestamp '2024-01-01' as \"{c}\"")
                elif c in (
                    "sku",
                    "location",
                    "model",
                    "category",
                    "explanation",
                    "reason",
                    "severity",
                    "policy",
                    "source",
                    "check",
                    "detail",
                    "row",
                    "demand_class",
                    "selected_model",
                    "runner_up",
                ):
                    exprs.append(f"'{c}_' || (i % 30490)::varchar as \"{c}\"")
                else:
                    exprs.append(f'random() * 100 as "{c}"')
            con.execute(
                f'create or replace table results."{table}" as select {", ".join(exprs)} '
                f"from (select range as i from range({n}))"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=30_490)
    parser.add_argument("--postgres", default=None, help="SQLAlchemy URL of a Postgres server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = RunPaths.from_warehouse(Path(tmp) / "restock.duckdb").ensure()
        work = Path(tmp) / "work.duckdb"
        t0 = time.perf_counter()
        build_work_db(work, args.series)
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
