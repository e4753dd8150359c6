"""The Dagster code location loads, wires every stage, and stays fast to import."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg

from pipelines.definitions import defs, nightly_job
from pipelines.jobs import NIGHTLY_JOB_NAME, REPLAY_JOB_NAME

EXPECTED_ASSETS = {
    "raw/sales", "raw/products", "raw/inventory", "stg_feed__sales", "fct_daily_demand",
    "quarantine", "data_quality_results", "forecast_backtest", "demand_forecasts",
    "reorder_recommendations", "stockout_alerts", "policy_replay", "published_tables",
    "run_report",
}


def test_definitions_load_and_hold_every_stage():
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    missing = EXPECTED_ASSETS - keys
    assert not missing, f"stages missing from the asset graph: {missing}"
    # dbt models come from every layer and carry their folder as group.
    groups = {graph.get(dg.AssetKey(k)).group_name for k in ("stg_feed__sales", "fct_daily_demand")}
    assert groups == {"staging", "marts"}


def test_checks_schedule_and_sensors_are_registered():
    graph = defs.resolve_asset_graph()
    check_names = {k.name for k in graph.asset_check_keys}
    assert {"gx_suite", "rows_accounted", "forecasts_valid",
            "every_active_series_has_a_line", "order_quantities_plausible"} <= check_names
    # dbt tests surface as asset checks too.
    assert any(k.asset_key.to_user_string().startswith(("stg_", "fct_", "dim_"))
               for k in graph.asset_check_keys)
    schedule = defs.resolve_schedule_def(f"{NIGHTLY_JOB_NAME}_schedule")
    assert schedule.cron_schedule == "0 2 * * *"
    weekly = defs.resolve_schedule_def(f"{REPLAY_JOB_NAME}_weekly")
    assert weekly.cron_schedule == "0 5 * * 0" and weekly.job_name == REPLAY_JOB_NAME
    assert {s.name for s in defs.sensors} == {"feed_drop_sensor", "stockout_alert_sensor",
                                              "category_partitions_sensor"}
    assert defs.resolve_job_def(nightly_job.name).name == NIGHTLY_JOB_NAME


def test_nightly_job_runs_every_stage_but_the_partitioned_fan_out():
    nightly = defs.resolve_job_def(NIGHTLY_JOB_NAME)
    keys = {k.to_user_string() for k in nightly.asset_layer.executable_asset_keys}
    assert EXPECTED_ASSETS - {"policy_replay"} <= keys
    assert "category_forecasts" not in keys and "policy_replay" not in keys
    # the retry policy applies to every run of the job, `restock run`'s included
    from pipelines.jobs import RETRY_POLICY

    assert nightly.op_retry_policy == RETRY_POLICY
    # the replay is its own (weekly) job: the replay, then that nightly published again with it
    replay = defs.resolve_job_def(REPLAY_JOB_NAME)
    assert {k.to_user_string() for k in replay.asset_layer.executable_asset_keys} == {
        "policy_replay", "published_tables", "run_report"}
    assert replay.op_retry_policy == RETRY_POLICY
    fan_out = defs.resolve_job_def("forecast_by_category")
    assert isinstance(fan_out.partitions_def, dg.DynamicPartitionsDefinition)
    assert {k.to_user_string() for k in fan_out.asset_layer.executable_asset_keys} == {
        "category_forecasts"}


def test_mart_checks_block_publication():
    graph = defs.resolve_asset_graph()
    blocking = {k.name for k in graph.asset_check_keys if graph.get_check_spec(k).blocking}
    assert {"forecasts_valid", "every_active_series_has_a_line",
            "order_quantities_plausible", "gx_suite"} <= blocking


def test_definitions_import_does_not_pull_heavy_libraries():
    code = (
        "import sys, pipelines.definitions\n"
        "heavy = [m for m in ('great_expectations', 'sktime', 'statsforecast', 'lightgbm', "
        "'plotly') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"imported at definition load: {out.stdout.strip()}"
