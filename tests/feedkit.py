"""Tiny helpers that write hand-made feeds for the ingest, dbt and bad-input tests."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT = PROJECT_ROOT / "dbt_project"
DBT = PROJECT_ROOT / ".venv" / "bin" / "dbt"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def write_csv(path: Path, rows: list[dict], columns: list[str] | None = None,
              encoding: str = "utf-8", delimiter: str = ",") -> Path:
    """Write ``rows`` as a CSV file (header from ``columns`` or the first row)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = columns or (list(rows[0]) if rows else [])
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.DictWriter(handle, fieldnames=cols, delimiter=delimiter,
                                extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def base_feed() -> dict[str, list[dict]]:
    """A small consistent feed: 3 skus, 2 stores, 10 days of sales, inventory and POs."""
    products = [
        {"sku": "A", "category": "food", "lead_time_days": "3", "name": "Apple",
         "unit_cost": "1.0", "unit_price": "2.0", "moq": "", "pack_size": "6"},
        {"sku": "B", "category": "food", "lead_time_days": "5", "name": "Bread",
         "unit_cost": "0.5", "unit_price": "1.5", "moq": "10", "pack_size": ""},
        {"sku": "C", "category": "home", "lead_time_days": "7", "name": "Candle",
         "unit_cost": "3", "unit_price": "9", "moq": "", "pack_size": ""},
    ]
    locations = [
        {"location": "S1", "name": "Store 1", "region": "north", "type": "store"},
        {"location": "S2", "name": "Store 2", "region": "south", "type": "store"},
    ]
    sales = []
    line = 0
    for day in range(1, 11):
        for sku, loc, qty in (("A", "S1", 3), ("B", "S1", 2), ("A", "S2", 1)):
            if sku == "B" and day in (4, 5):
                continue  # missing days: the spine must fill them with 0
            line += 1
            sales.append({"order_id": f"O{day}", "line_id": str(line),
                          "date": f"2024-03-{day:02d}", "sku": sku, "location": loc,
                          "quantity": str(qty), "unit_price": "2.0", "promo": "false",
                          "customer_id": f"K{line % 4}"})
    # a return of 1 A at S1 on day 10
    sales.append({"order_id": "R1", "line_id": "1", "date": "2024-03-10", "sku": "A",
                  "location": "S1", "quantity": "-1", "unit_price": "2.0", "promo": "",
                  "customer_id": "K1"})
    inventory = [
        {"date": "2024-03-09", "sku": "A", "location": "S1", "on_hand": "12", "on_order": "0"},
        {"date": "2024-03-10", "sku": "A", "location": "S1", "on_hand": "10", "on_order": "0"},
        {"date": "2024-03-10", "sku": "B", "location": "S1", "on_hand": "0", "on_order": ""},
    ]
    purchase_orders = [
        {"po_id": "P1", "sku": "A", "location": "S1", "order_date": "2024-02-01",
         "quantity": "24", "expected_date": "2024-02-04", "received_date": "2024-02-04",
         "received_quantity": "24", "status": "received"},
        {"po_id": "P2", "sku": "A", "location": "S1", "order_date": "2024-02-10",
         "quantity": "24", "expected_date": "2024-02-13", "received_date": "2024-02-16",
         "received_quantity": "24", "status": "received"},
        {"po_id": "P3", "sku": "A", "location": "S1", "order_date": "2024-03-08",
         "quantity": "30", "expected_date": "2024-03-11", "received_date": "",
         "received_quantity": "", "status": "open"},
        {"po_id": "P4", "sku": "B", "location": "S1", "order_date": "2024-03-09",
         "quantity": "20", "expected_date": "2024-03-14", "received_date": "",
         "received_quantity": "", "status": "open"},
    ]
    promotions = [
        {"sku": "A", "category": "", "location": "S1", "start_date": "2024-03-08",
         "end_date": "2024-03-12", "discount_pct": "10", "type": "price"},
        {"sku": "", "category": "home", "location": "", "start_date": "2024-03-20",
         "end_date": "2024-03-21", "discount_pct": "20", "type": "price"},
    ]
    drivers = [
        {"date": "2024-03-10", "location": "S1", "driver": "temperature", "value": "12.5"},
        {"date": "2024-03-11", "location": "", "driver": "temperature", "value": "13"},
    ]
    events = [{"date": "2024-03-09", "location": "", "name": "Fair", "type": "event"}]
    suppliers = [
        {"supplier": "ACME", "lead_time_days": "3", "min_order_value": "50",
         "min_order_units": "", "order_weekdays": "mon,thu", "case_size": "6",
         "express_lead_time_days": "1", "express_cost_pct": "15"},
    ]
    transfer_lanes = [
        {"from_location": "S1", "to_location": "S2", "lead_time_days": "1",
         "cost_per_unit": "0.2"},
        {"from_location": "S2", "to_location": "S1", "lead_time_days": "1", "cost_per_unit": ""},
    ]
    return {"products": products, "locations": locations, "sales": sales,
            "inventory": inventory, "purchase_orders": purchase_orders,
            "promotions": promotions, "drivers": drivers, "events": events,
            "suppliers": suppliers, "transfer_lanes": transfer_lanes}


def write_feed(feed_dir: Path, tables: dict[str, list[dict]] | None = None) -> Path:
    """Write ``tables`` (default :func:`base_feed`) as ``<table>.csv`` files."""
    feed_dir.mkdir(parents=True, exist_ok=True)
    for name, rows in (tables if tables is not None else base_feed()).items():
        write_csv(feed_dir / f"{name}.csv", rows)
    return feed_dir


def run_dbt(work_db: Path, as_of: str, *args: str, target_dir: Path | None = None
            ) -> subprocess.CompletedProcess:
    """Run ``dbt <args>`` on the project against ``work_db``; return the finished process."""
    from restock.dbt_project import dbt_env

    env = {**os.environ, **dbt_env(work_db, as_of)}
    if target_dir is not None:
        env["DBT_TARGET_PATH"] = str(target_dir)
        env["DBT_LOG_PATH"] = str(target_dir / "logs")
    cmd = [str(DBT if DBT.exists() else shutil.which("dbt")), *args,
           "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)]
    return subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


def poisson_backtest(seed: int, n: int, folds: int, h: int):
    """A synthetic backtest for calibration tests: forecasts (n x folds x h) uniform in
    [0.5, 5], Poisson actuals around them, and the sample frame of one smooth unit."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    fc = rng.uniform(0.5, 5, size=(n, folds, h))
    actual = rng.poisson(fc).astype(float)
    sample = pd.DataFrame({"unit": ["C/smooth"] * n, "demand_class": ["smooth"] * n})
    return rng, fc, actual, sample
