"""Forecasting one category at a time: where a partition's results are kept, and how they join.

A deployment that wants to spread forecasting over its executor (Dagster's multiprocess,
Celery or Kubernetes executors; see README "When one machine is not enough") runs
``run_forecasting`` once per category, each in its own run (the ``category_forecasts``
partitioned asset). Categories are independent in everything but the global model (fitted on
the category's series only) and the coarsest calibration pools (pooled within the category).

Each partition writes its tables as Parquet under ``<root>/as_of=<date>/category=<name>/``
(written to a temporary folder and renamed, so a partition is either complete or absent);
:func:`read_category_results` joins the partitions of one as_of and refuses when one is
missing, so the nightly never publishes a partial forecast.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from restock.forecasting.nightly import ForecastResult

#: ForecastResult attribute -> results table name (as the forecasts asset writes them)
RESULT_TABLES = {
    "backtest_metrics": "backtest_metrics",
    "model_selection": "model_selection",
    "backtest_predictions": "backtest_predictions",
    "demand_forecasts": "demand_forecasts",
    "cumulative_quantiles": "cumulative_demand_quantiles",
    "series_assignments": "series_assignments",
}


def partition_dir(root: Path, as_of: str, category: str) -> Path:
    """The folder of one category's results for one as_of."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(category))
    return Path(root) / f"as_of={as_of}" / f"category={safe}"


def write_category_result(root: Path, as_of: str, category: str, result: ForecastResult) -> Path:
    """Write one category's ``run_forecasting`` result; replaces an earlier one atomically."""
    target = partition_dir(root, as_of, category)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        for attr, table in RESULT_TABLES.items():
            frame: pd.DataFrame = getattr(result, attr)
            frame.to_parquet(tmp / f"{table}.parquet", index=False)
        pd.DataFrame({"category": [str(category)], "as_of": [str(as_of)]}).to_parquet(
            tmp / "_SUCCESS.parquet", index=False)
        old = target.with_name(target.name + ".old")
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_category_results(root: Path, as_of: str, categories: list[str]) -> dict[str, pd.DataFrame]:
    """The results tables of every category in ``categories`` for ``as_of``, concatenated.

    Raises
    ------
    FileNotFoundError
        When a category has no complete partition for ``as_of`` (names every missing one).
    """
    dirs = {c: partition_dir(root, as_of, c) for c in categories}
    missing = [c for c, d in dirs.items() if not (d / "_SUCCESS.parquet").exists()]
    if missing:
        raise FileNotFoundError(
            f"no category_forecasts partition for as_of {as_of} of {len(missing)} of "
            f"{len(categories)} categories: {', '.join(sorted(map(str, missing)))} "
            f"(run the forecast_by_category job for them first; looked in {Path(root)})"
        )
    out = {}
    for table in RESULT_TABLES.values():
        frames = [pd.read_parquet(d / f"{table}.parquet") for d in dirs.values()]
        frames = [f for f in frames if len(f)] or frames[:1]
        out[table] = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    # series ids are per partition; renumber so they stay unique in the joined table
    out["series_assignments"]["series_id"] = range(len(out["series_assignments"]))
    return out
