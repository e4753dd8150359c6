"""Acceptance of the history tables: three nightly runs a week apart on one warehouse keep every
run's forecast, score the earlier runs on the days now known, and a re-run never duplicates."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import FAST_NIGHTLY_CONFIG

from restock.contract import HISTORY_TABLES
from restock.paths import RunPaths

# Four nightly runs: the per-test default (600 s) fits one on a loaded machine, not four.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

# The demo feed ends on 2024-06-30 (restock.feed.demo default end_date).
AS_OFS = ("2024-06-16", "2024-06-23", "2024-06-30")


def _counts(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {t: con.execute(f'select count(*) from marts."{t}"').fetchone()[0]
                for t in HISTORY_TABLES}


def _table(warehouse: Path, table: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f'select * from marts."{table}"').df()


def test_three_weekly_runs_keep_snapshots_score_them_and_rerun_replaces(
        small_demo_feed, tmp_path, monkeypatch):
    from pipelines.runner import run_nightly

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    config = tmp_path / "fast.yml"
    # only what the history needs, as cheaply as the blocking checks allow
    config.write_text(FAST_NIGHTLY_CONFIG)
    warehouse = tmp_path / "wh" / "restock.duckdb"
    run_ids = []
    for as_of in AS_OFS:
        outcome = run_nightly(small_demo_feed, warehouse, as_of=as_of, config_path=config)
        assert outcome.success, f"run {as_of} failed: {outcome.failures}"
        run_ids.append(outcome.run_id)

    snapshots = _table(warehouse, "forecast_snapshots")
    as_ofs = sorted(str(d.date()) for d in pd.to_datetime(snapshots["as_of"]).unique())
    assert as_ofs == list(AS_OFS)
    for as_of, group in snapshots.groupby("as_of"):
        # each run's own forecast, for the days after its as_of
        assert (pd.to_datetime(group["date"]) > pd.Timestamp(as_of)).all()
        assert group["run_id"].nunique() == 1

    accuracy = _table(warehouse, "forecast_accuracy_history")
    scored = sorted(str(d.date()) for d in pd.to_datetime(accuracy["snapshot_as_of"]).unique())
    assert scored == list(AS_OFS[:2])  # the last run's forecast has no known day yet
    assert (accuracy["scored_days"] > 0).all() and accuracy["wape"].notna().all()
    first = accuracy[pd.to_datetime(accuracy["snapshot_as_of"]) == pd.Timestamp(AS_OFS[0])]
    assert set(first["horizon_week"]) == {1, 2}  # two weeks of its horizon are known
    assert first["complete"].all()
    # scored by the latest run, which knows the most
    assert (pd.to_datetime(accuracy["as_of"]) == pd.Timestamp(AS_OFS[-1])).all()

    alerts = _table(warehouse, "alert_history")
    assert len(alerts) > 0  # the small feed still raises alerts whose outcome is tracked
    assert set(alerts["outcome"]) <= {"pending", "stocked_out", "no_stockout", "unknown"}

    # The report of the last run shows the tracked accuracy.
    paths = RunPaths.from_warehouse(warehouse)
    page = (paths.run_report_dir(AS_OFS[-1], run_ids[-1]) / "index.html").read_text()
    assert 'id="tracked-accuracy"' in page

    # Re-running the last as_of replaces its rows: no table grows.
    before = _counts(warehouse)
    outcome = run_nightly(small_demo_feed, warehouse, as_of=AS_OFS[-1], config_path=config)
    assert outcome.success, outcome.failures
    assert _counts(warehouse) == before
    snapshots = _table(warehouse, "forecast_snapshots")
    assert set(snapshots.loc[pd.to_datetime(snapshots["as_of"]) == pd.Timestamp(AS_OFS[-1]),
                             "run_id"]) == {outcome.run_id}
