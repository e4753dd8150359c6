"""bench/nightly_bench.py: the M5-size feed it builds is a valid feed; stage times from a log."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
from conftest import shared_data

from restock.feed.reader import load_feed

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import nightly_bench  # noqa: E402

AS_OF = "2016-04-24"

LOG = """\
2026-11-25 02:27:50 +0000 - dagster - INFO - job - 77ce2684-21aa-4f28-b820-b59ccd62dac6 - raw_feed - ingesting feed /f
02:27:52 INFO restock.ingest: ingested sales: 10 rows read, 10 accepted, 0 rejected
2026-11-25 02:27:58 +0000 - dagster - INFO - job - 77ce2684-21aa-4f28-b820-b59ccd62dac6 - restock_dbt_models - Running dbt command
Done. PASS=113 WARN=0 ERROR=0 SKIP=0 NO-OP=0 TOTAL=113
2026-11-25 02:28:18 +0000 - dagster - INFO - job - 77ce2684-21aa-4f28-b820-b59ccd62dac6 - restock_dbt_models - Finished dbt command
2026-11-25 02:28:22 +0000 - dagster - INFO - job - 77ce2684-21aa-4f28-b820-b59ccd62dac6 - forecasts - forecasting 3000 series
02:29:22 INFO restock.forecasting: run_forecasting done in 60.0 s (prepare 1 s)
2026-11-25 02:29:25 +0000 - dagster - ERROR - job - 77ce2684-21aa-4f28-b820-b59ccd62dac6 - 25956 - data_quality_results_rows_accounted - STEP_FAILURE - Execution failed.
02:29:26 INFO restock.forecasting: replay planner: running the backtest at 2016-01-01
02:29:56 INFO restock.forecasting: backtest fold 1/3 in 30 s
02:30:06 INFO restock.inventory: replay review 1/13: 10 orders
2026-11-25 02:30:10 +0000 - dagster - INFO - job - 77ce2684-21aa-4f28-b820-b59ccd62dac6 - published_tables - published
"""  # noqa: E501


def test_stage_times_from_an_info_level_log():
    started = datetime(2026, 11, 25, 2, 27, 40, tzinfo=UTC)
    ended = datetime(2026, 11, 25, 2, 30, 12, tzinfo=UTC)
    stages, how = nightly_bench.parse_stage_times(LOG, started, ended)
    assert how.startswith("log-line timestamps")
    # the gap before each timestamped line goes to that line's stage; the replay's planner
    # lines (restock.forecasting) count under replay from its first "replay ..." line
    assert stages == {"(startup)": 10.0, "ingest": 2.0, "dbt": 26.0, "forecast": 64.0,
                      "replay": 41.0, "checks": 3.0, "publish": 4.0, "(exit)": 2.0}
    assert sum(stages.values()) == (ended - started).total_seconds()
    # the stage in progress at a moment (where the peak RSS sample fell)
    at = [datetime(2026, 11, 25, 2, m, sec, tzinfo=UTC) for m, sec in ((27, 45), (28, 0), (29, 40))]
    assert [nightly_bench.stage_at(LOG, started, t) for t in at] == ["(startup)", "dbt", "replay"]


def test_exact_step_events_win_when_the_log_has_them():
    log = ('... - forecasts - STEP_SUCCESS - Finished execution of step "forecasts" in 1m\n'
           '... - run_report - STEP_SUCCESS - Finished execution of step "run_report" in 250ms\n')
    stages, how = nightly_bench.parse_stage_times(log)
    assert how == "dagster step events"
    assert stages == {"forecast": 60.0, "report": 0.25}


@pytest.fixture(scope="module")
def m5_base(tmp_path_factory):
    src = shared_data("m5_ca1")
    from restock.importers.m5 import import_m5

    base = tmp_path_factory.mktemp("m5") / "feed"
    import_m5(src, base)
    return base


@pytest.mark.slow
def test_feed_over_two_locations_is_a_valid_feed(m5_base, tmp_path):
    series = nightly_bench.M5_ITEMS + 11  # two locations of 1,530 items each
    summary = nightly_bench.build_feed(series, tmp_path / "feed", m5_base, AS_OF, seed=1)
    assert summary["locations"] == 2 and summary["part_files"] == 2
    assert sorted(p.name for p in (tmp_path / "feed" / "sales").iterdir()) == [
        "part-001.parquet", "part-002.parquet"]
    with duckdb.connect() as con:
        result = load_feed(tmp_path / "feed", con)
        assert result.as_of == date(2016, 4, 24)  # nothing after as_of was written
        assert result.tables["sales"].rows_rejected == 0
        assert result.tables["sales"].rows_accepted == summary["sales_rows"]
        per_location = dict(con.execute(
            "select location, count(distinct sku) from raw.sales group by 1").fetchall())
        # Poisson thinning may empty a rarely sold item at one location, never add one
        assert set(per_location) == {"L001", "L002"}
        assert all(1500 <= n <= 1530 for n in per_location.values())
        assert con.execute("select count(*) from raw.products").fetchone()[0] == 1530
        assert con.execute("select count(distinct location) from raw.drivers").fetchone()[0] == 2
        # the two locations are independent noisy copies of the same items, not equal copies
        same = con.execute(
            "select count(*) from raw.sales a join raw.sales b using (sku, date) "
            "where a.location = 'L001' and b.location = 'L002' and a.quantity = b.quantity"
        ).fetchone()[0]
        assert same < 0.9 * summary["sales_rows"] / 2
    again = nightly_bench.build_feed(series, tmp_path / "feed2", m5_base, AS_OF, seed=1)
    assert again["sales_rows"] == summary["sales_rows"]  # seeded: the same feed
