"""Forecasting fanned out by category: partitions, the sensor that registers them, the join."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from conftest import copy_run

from restock.forecasting.partitions import partition_dir, read_category_results


@pytest.fixture(scope="module")
def nightly(small_demo_feed, nightly_run, tmp_path_factory):
    """A finished nightly run (its marts are what the partitions read): a copy of the session's
    shared run (conftest.nightly_run), as the partitions are written beside it and the joined
    forecasts into its work DB."""
    warehouse = copy_run(nightly_run[0], tmp_path_factory.mktemp("partitions") / "wh")
    return small_demo_feed, warehouse


def _resources(feed: Path, warehouse: Path, config: Path | None = None) -> dict:
    from pipelines.definitions import build_resources

    return build_resources(feed=str(feed), warehouse=str(warehouse), as_of="",
                           config_path=str(config) if config else "")


def _work(warehouse: Path, sql: str) -> pd.DataFrame:
    from restock.paths import RunPaths

    with duckdb.connect(str(RunPaths.from_warehouse(warehouse).work_db), read_only=True) as con:
        return con.execute(sql).df()


def _as_of(warehouse: Path) -> str:
    return str(pd.Timestamp(_work(warehouse, "select as_of from raw._run").iloc[0, 0]).date())


@pytest.fixture(scope="module")
def fanned_out(nightly):
    """The sensor registers the categories; every partition is materialized on its own."""
    from assets.partitioned import CATEGORY_PARTITIONS, category_forecasts
    from pipelines.sensors import category_partitions_sensor

    feed, warehouse = nightly
    instance = dg.DagsterInstance.ephemeral()
    resources = _resources(feed, warehouse)
    context = dg.build_sensor_context(instance=instance, resources=resources)
    result = category_partitions_sensor(context)
    [add] = result.dynamic_partitions_requests
    categories = sorted(add.partition_keys)
    instance.add_dynamic_partitions(CATEGORY_PARTITIONS.name, categories)
    for category in categories:
        run = dg.materialize([category_forecasts], partition_key=category,
                             resources=resources, instance=instance)
        assert run.success
    # the next tick finds every category registered and adds nothing
    again = category_partitions_sensor(dg.build_sensor_context(instance=instance,
                                                               resources=resources))
    return feed, warehouse, categories, result, again


def test_sensor_registers_every_category_and_requests_a_run_each(fanned_out):
    _, warehouse, categories, first, again = fanned_out
    expected = sorted(_work(warehouse, "select distinct category from marts.fct_daily_demand")
                      ["category"])
    assert categories == expected and len(categories) >= 2
    as_of = _as_of(warehouse)
    assert {(r.partition_key, r.run_key) for r in first.run_requests} == {
        (c, f"{as_of}:{c}") for c in categories}
    assert not again.dynamic_partitions_requests
    assert len(again.run_requests) == len(categories)  # same run keys: Dagster dedupes them


def test_each_partition_forecasts_exactly_its_category(fanned_out):
    from restock.paths import RunPaths

    _, warehouse, categories, _, _ = fanned_out
    as_of = _as_of(warehouse)
    root = RunPaths.from_warehouse(warehouse).partitions_dir
    series = _work(warehouse, "select distinct sku, location, category "
                              "from marts.fct_daily_demand")
    for category in categories:
        fc = pd.read_parquet(partition_dir(root, as_of, category) / "demand_forecasts.parquet")
        assert set(fc["category"]) == {category}
        want = series[series["category"] == category]
        assert fc[["sku", "location"]].drop_duplicates().shape[0] == len(want)


def test_nightly_joins_the_partitions(fanned_out, tmp_path):
    """forecast.from_category_partitions: the forecasts step publishes the partitions' rows."""
    from assets.forecast import forecasts
    from restock.paths import RunPaths

    feed, warehouse, categories, _, _ = fanned_out
    config = tmp_path / "restock.yml"
    config.write_text("forecast:\n  from_category_partitions: true\n")
    run = dg.materialize([forecasts], resources=_resources(feed, warehouse, config),
                         instance=dg.DagsterInstance.ephemeral())
    assert run.success
    as_of = _as_of(warehouse)
    parts = read_category_results(RunPaths.from_warehouse(warehouse).partitions_dir, as_of,
                                  categories)
    got = _work(warehouse, "select * from results.demand_forecasts")
    keys = ["sku", "location", "date"]
    pd.testing.assert_frame_equal(
        got.sort_values(keys).reset_index(drop=True)[["sku", "location", "forecast", "p90"]],
        parts["demand_forecasts"].sort_values(keys).reset_index(drop=True)[
            ["sku", "location", "forecast", "p90"]],
        check_dtype=False)
    assert set(got["category"]) == set(categories)
    assignments = _work(warehouse, "select series_id from results.series_assignments")
    assert assignments["series_id"].is_unique


def test_join_refuses_a_missing_partition(fanned_out):
    from restock.paths import RunPaths

    _, warehouse, categories, _, _ = fanned_out
    as_of = _as_of(warehouse)
    with pytest.raises(FileNotFoundError, match="NOPE"):
        read_category_results(RunPaths.from_warehouse(warehouse).partitions_dir, as_of,
                              [*categories, "NOPE"])
