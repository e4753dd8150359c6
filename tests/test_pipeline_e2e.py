"""The whole nightly job, in-process, on a small demo feed: every published table is sound,
and a run stopped by a blocking check leaves the last publication byte-identical."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import FAST_NIGHTLY_CONFIG, copy_run

from restock.contract import PUBLISHED_TABLES, RUN_COLUMNS
from restock.paths import RunPaths

pytestmark = pytest.mark.slow


def _published(warehouse: Path, table: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f'select * from marts."{table}"').df()


@pytest.fixture(scope="module")
def e2e(nightly_run, tmp_path_factory):
    """The session's shared `restock run` on the demo feed (conftest.nightly_run), then
    `restock replay` on a copy of it (as `make run`), both recorded on the run's own
    DAGSTER_HOME (as `make run` records into var/dagster_home)."""
    from pipelines.runner import run_replay

    original, outcome, home = nightly_run
    warehouse = copy_run(original, tmp_path_factory.mktemp("e2e") / "wh")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        replay = run_replay(warehouse)
    assert replay.success, f"replay failed: {replay.failures}"
    return warehouse, outcome, home, replay


@pytest.fixture(scope="module")
def e2e_run(e2e):
    return e2e[0]


def test_every_published_table_has_the_contract_columns(e2e_run):
    for table, columns in PUBLISHED_TABLES.items():
        frame = _published(e2e_run, table)
        missing = set(columns) | set(RUN_COLUMNS)
        missing -= set(frame.columns)
        assert not missing, f"marts.{table} lacks {missing}"
    for table in ("demand_forecasts", "backtest_metrics", "model_selection",
                  "reorder_recommendations", "policy_replay", "policy_replay_comparison",
                  "data_quality_results"):
        assert len(_published(e2e_run, table)) > 0, f"marts.{table} is empty"


def test_published_comparison_quotes_the_headline(e2e_run):
    """BI reads the replay's proof: each static policy against Restock at the same inventory,
    the headline's row (the smallest cut within the frontier) flagged."""
    comparison = _published(e2e_run, "policy_replay_comparison")
    work = RunPaths.from_warehouse(e2e_run).work_db
    with duckdb.connect(str(work), read_only=True) as con:
        headline = con.execute("select * from results.policy_replay_headline").df().iloc[0]
    [quoted] = comparison[comparison["is_headline"]].itertuples()
    assert quoted.static_parameter == headline["static_parameter"]
    assert quoted.relative_cut == pytest.approx(headline["relative_cut"])
    # the headline quotes static rules only (the transfer frontier's rows are compared too)
    compared = comparison[comparison["compared_with"] == "static"]
    inside = compared[compared["within_frontier"]]
    assert quoted.relative_cut == pytest.approx(inside["relative_cut"].min())
    static = _published(e2e_run, "policy_replay").query("policy == 'static' and category == 'ALL'")
    assert sorted(compared["static_parameter"]) == sorted(static["parameter"])
    # the terminal summary of `restock run` says it in a sentence
    from pipelines.runner import published_summary

    summary = published_summary(e2e_run)
    assert (f"static policy with {quoted.static_parameter:g} buffer days, Restock's stockout "
            f"rate is {100 * quoted.restock_stockout_rate_at_same_inventory:.2f}% against "
            f"{100 * quoted.static_stockout_rate:.2f}%") in summary


def test_the_replay_shows_what_transfers_add(e2e_run):
    """Issue 19: the demo has store lanes, so the nightly replays Restock's frontier with
    transfers (replenish.replay_transfers = auto) and publishes the cut at each point."""
    replay = _published(e2e_run, "policy_replay").query("category == 'ALL'")
    restock = replay[replay["policy"] == "recommended"]
    moved = replay[replay["policy"] == "recommended_transfers"]
    assert sorted(moved["parameter"]) == sorted(restock["parameter"])
    assert moved["units_transferred"].sum() > 0
    assert (replay.loc[replay["policy"] != "recommended_transfers", "units_transferred"] == 0).all()
    comparison = _published(e2e_run, "policy_replay_comparison")
    rows = comparison[comparison["compared_with"] == "recommended_transfers"]
    assert len(rows) == len(moved)
    inside = rows[rows["within_frontier"]]
    assert inside["transfers_stockout_cut"].notna().all()
    assert comparison.loc[comparison["compared_with"] == "static",
                          "transfers_stockout_cut"].isna().all()


def test_quantities_are_finite_and_non_negative(e2e_run):
    forecasts = _published(e2e_run, "demand_forecasts")
    for col in ("forecast", "p50", "p90", "p95", "p99"):
        values = forecasts[col].astype(float)
        assert values.map(math.isfinite).all() and (values >= 0).all(), col
    assert (forecasts["p50"] <= forecasts["p90"] + 1e-9).all()
    assert (forecasts["p90"] <= forecasts["p99"] + 1e-9).all()
    lines = _published(e2e_run, "reorder_recommendations")
    for col in ("safety_stock", "reorder_point", "order_up_to", "recommended_order_qty",
                "lead_time_demand"):
        values = lines[col].astype(float)
        assert values.map(math.isfinite).all() and (values >= 0).all(), col
    assert (lines["reorder_point"] + 1e-9 >= lines["safety_stock"]).all()
    assert (lines["order_up_to"] + 1e-9 >= lines["reorder_point"]).all()


def test_one_reorder_line_per_active_sku_location(e2e_run, small_demo_feed):
    lines = _published(e2e_run, "reorder_recommendations")
    assert not lines.duplicated(["sku", "location"]).any()
    work = RunPaths.from_warehouse(e2e_run).work_db
    with duckdb.connect(str(work), read_only=True) as con:
        expected = con.execute(
            "select count(*) from marts.fct_stock_position s join marts.dim_products p "
            "using (sku) where p.active"
        ).fetchone()[0]
    assert len(lines) == expected


def test_every_order_line_is_in_one_purchase_order_or_explained(e2e_run):
    """Issue 19 acceptance on the demo (suppliers with minimums and order days, store lanes):
    each positive reorder line is in exactly one purchase order line or says why not; each
    proposal meets its supplier's minimum or its rule says why not; transfers conserve units
    and never take a source below the reorder point the planner kept it at (its own, or on a
    day that is not its supplier's order day the one until its next purchase can land)."""
    lines = _published(e2e_run, "reorder_recommendations")
    proposals = _published(e2e_run, "purchase_order_proposals")
    po_lines = _published(e2e_run, "purchase_order_lines")
    transfers = _published(e2e_run, "transfer_recommendations")
    positive = lines[lines["recommended_order_qty"] > 0]
    assert len(positive) and len(proposals)
    placed = po_lines.groupby(["sku", "location"]).size()
    assert (placed == 1).all(), placed[placed > 1]
    for r in positive.itertuples():
        assert (r.sku, r.location) in placed.index or \
            r.explanation.startswith("Not in a purchase order: "), (r.sku, r.location)
    assert set(po_lines["proposal_id"]) <= set(proposals["proposal_id"])
    assert not proposals["proposal_id"].duplicated().any()
    suppliers = set(pd.read_csv(small_demo_feed_dir(e2e_run) / "suppliers.csv")["supplier"])
    assert set(proposals["supplier"]) <= suppliers | {"(no supplier)"}
    for p in proposals.itertuples():
        assert p.min_order_met or p.rule_applied in ("deferred", "topped_up_short", "expedite"), p
        assert isinstance(p.rule_applied, str) and p.rule_applied
    if len(transfers):
        after = lines.set_index(["sku", "location"])
        assert (transfers["qty"] > 0).all()
        out = transfers.groupby(["sku", "from_location"])["qty"].sum()
        # a source stays at or above the reorder point the planner kept it at: its own on its
        # supplier's order day, else the one of the days until its next purchase can land
        # (never above its own)
        kept = transfers.groupby(["sku", "from_location"])["source_reorder_point"].max()
        for (sku, src), qty in out.items():
            assert after.loc[(sku, src), "transfer_out"] == pytest.approx(qty)
            assert after.loc[(sku, src), "inventory_position"] + 1e-6 >= kept[(sku, src)]
            assert kept[(sku, src)] <= after.loc[(sku, src), "reorder_point"] + 1e-6
        into = transfers.groupby(["sku", "to_location"])["qty"].sum()
        assert out.sum() == pytest.approx(into.sum())
        assert (transfers["stockout_probability_after"]
                <= transfers["stockout_probability_before"] + 1e-9).all()


def small_demo_feed_dir(warehouse: Path) -> Path:
    """The feed the e2e run read (raw._run.feed)."""
    with duckdb.connect(str(RunPaths.from_warehouse(warehouse).work_db), read_only=True) as con:
        return Path(con.execute("select feed from raw._run").fetchone()[0])


def test_forecasts_cover_the_horizon_after_as_of(e2e_run):
    forecasts = _published(e2e_run, "demand_forecasts")
    as_of = pd.Timestamp(forecasts["as_of"].iloc[0])
    dates = pd.to_datetime(forecasts["date"])
    assert dates.min() == as_of + pd.Timedelta(days=1)
    assert (dates > as_of).all()
    per_series = forecasts.groupby(["sku", "location"])["date"].nunique()
    assert per_series.min() >= 28


def test_rows_in_equal_accepted_plus_quarantined(e2e_run):
    dq = _published(e2e_run, "data_quality_results")
    accounting = dq[dq["check"].str.startswith("rows_in")]
    assert len(accounting) >= 2 and accounting["passed"].all()


def test_report_is_written(e2e):
    """One report per run (reports/<as_of>/<run_id>/), and reports/latest points at it."""
    warehouse, outcome, _, replay = e2e
    forecasts = _published(warehouse, "demand_forecasts")
    as_of = str(pd.Timestamp(forecasts["as_of"].iloc[0]).date())
    paths = RunPaths.from_warehouse(warehouse)
    report = paths.run_report_dir(as_of, outcome.run_id) / "index.html"
    assert report.exists() and report.stat().st_size > 10_000
    assert "no policy replay has run yet" in report.read_text(encoding="utf-8")
    # the replay run that followed wrote its own report, now the newest, with the replay dated
    replayed = paths.run_report_dir(as_of, replay.run_id) / "index.html"
    assert (paths.latest_report / "index.html").resolve() == replayed.resolve()
    assert "Replayed on " in replayed.read_text(encoding="utf-8")


def test_customer_tables_are_published(e2e_run, small_demo_feed):
    """The three customer tables are published every run. Without customer ids in the feed
    they are empty (stockout_days still lists the known stock-outs) and the report's section
    says why; with them, every customer with a purchase in the last 90 days appears once."""
    customers = _published(e2e_run, "customer_stockout_impact")
    items = _published(e2e_run, "sku_customer_impact")
    days = _published(e2e_run, "stockout_days")
    for table, frame in (("customer_stockout_impact", customers),
                         ("sku_customer_impact", items), ("stockout_days", days)):
        assert set(PUBLISHED_TABLES[table]) | set(RUN_COLUMNS) <= set(frame.columns), table
    lines = _published(e2e_run, "reorder_recommendations")
    assert (lines["customers_at_risk"] >= 0).all() and (lines["revenue_at_risk"] >= 0).all()
    sales = pd.read_parquet(small_demo_feed / "sales.parquet")
    as_of = pd.Timestamp(_published(e2e_run, "demand_forecasts")["as_of"].iloc[0])
    report = RunPaths.from_warehouse(e2e_run).latest_report / "index.html"  # this run's
    page = report.read_text(encoding="utf-8")
    assert '<section id="customers"><h2>Customers hit by stockouts</h2>' in page
    if "customer_id" not in sales:
        assert customers.empty and items.empty
        assert "no customer_id" in page
        assert len(days) and set(days["stockout_source"]) == {"inventory"}
    else:
        recent = sales[(pd.to_datetime(sales["date"]) > as_of - pd.Timedelta(days=90))
                       & (sales["quantity"] > 0) & sales["customer_id"].notna()]
        assert sorted(customers["customer_id"]) == sorted(recent["customer_id"].unique())


#: every step of the nightly job: its assets and checks (Dagster step keys)
NIGHTLY_STEPS = {
    "raw_feed", "gx_raw_suites", "quarantine", "restock_dbt_models", "data_quality_results",
    "customer_impact",
    "data_quality_results_rows_accounted", "forecasts", "demand_forecasts_forecasts_valid",
    "demand_forecasts_forecast_magnitudes_plausible",
    "reorder_recommendations", "reorder_recommendations_every_active_series_has_a_line",
    "reorder_recommendations_order_quantities_plausible", "stockout_alerts",
    "published_tables", "erp_writeback", "run_report",
}


def test_the_run_is_recorded_on_the_dagster_instance(e2e):
    """`restock run` executes the Definitions' nightly_job on DAGSTER_HOME: `dagster dev`
    (which reads the same instance) shows the run, its materializations and check results."""
    import dagster as dg

    from pipelines.jobs import NIGHTLY_JOB_NAME

    _, outcome, home, replay = e2e
    with dg.DagsterInstance.from_config(str(home)) as instance:
        record = instance.get_run_record_by_id(outcome.run_id)
        assert record is not None, "the run is not on the instance"
        assert record.dagster_run.job_name == NIGHTLY_JOB_NAME
        assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        assert record.dagster_run.tags["restock/launched_by"] == "restock run"
        for key in (["raw", "sales"], ["fct_daily_demand"], ["demand_forecasts"],
                    ["reorder_recommendations"], ["published_tables"], ["run_report"]):
            events = instance.fetch_materializations(dg.AssetKey(key), limit=5).records
            assert outcome.run_id in {e.run_id for e in events}, key
        [nightly_publication] = [
            e for e in instance.fetch_materializations(dg.AssetKey("published_tables"),
                                                       limit=5).records
            if e.run_id == outcome.run_id]
        assert nightly_publication.asset_materialization.metadata["dagster/row_count"].value > 0
        # the weekly replay job's run: the replay, then the publication and report again
        replay_run = instance.get_run_record_by_id(replay.run_id).dagster_run
        assert replay_run.job_name == "restock_replay"
        assert replay_run.tags["restock/launched_by"] == "restock replay"
        [event] = instance.fetch_materializations(dg.AssetKey("policy_replay"), limit=1).records
        assert event.run_id == replay.run_id
        checks = {}
        for entry in instance.all_logs(outcome.run_id):
            event = entry.dagster_event
            if event is not None and event.event_type_value == "ASSET_CHECK_EVALUATION":
                evaluation = event.event_specific_data
                checks[evaluation.asset_check_key.name] = evaluation.passed
    assert {"gx_suite", "rows_accounted", "forecasts_valid", "every_active_series_has_a_line",
            "order_quantities_plausible"} <= set(checks)
    assert checks["forecasts_valid"] and checks["order_quantities_plausible"]
    # dbt tests are checks too
    assert len(checks) > 5


def test_step_durations_reach_the_summary_and_the_report(e2e):
    from pipelines.runner import step_summary

    warehouse, outcome, _, replay = e2e
    assert set(outcome.step_seconds) == NIGHTLY_STEPS
    assert all(seconds >= 0 for seconds in outcome.step_seconds.values())
    assert "raw_feed" in step_summary(outcome.step_seconds)
    forecasts = _published(warehouse, "demand_forecasts")
    as_of = str(pd.Timestamp(forecasts["as_of"].iloc[0]).date())
    page = (RunPaths.from_warehouse(warehouse).run_report_dir(as_of, outcome.run_id)
            / "index.html").read_text()
    assert "No stage durations were recorded" not in page
    section = page[page.index("Time per stage"):]
    section = section[: section.index("</table>")]
    # every step that finished before the report was written (the report is the last step;
    # the ERP write-back runs beside it, after publication)
    for step in NIGHTLY_STEPS - {"run_report", "erp_writeback"}:
        assert f">{step}<" in section, f"no duration for {step} in the report"


def test_the_resolved_config_is_stored_with_the_run(e2e):
    """The ingest step stores the run's configuration beside as_of; later steps read it."""
    from restock.config import RestockConfig

    warehouse, outcome, _, replay = e2e
    work = RunPaths.from_warehouse(warehouse).work_db
    with duckdb.connect(str(work), read_only=True) as con:
        run_id, as_of, stored = con.execute("select run_id, as_of, config from raw._run").fetchone()
    assert run_id == outcome.run_id and as_of is not None
    assert RestockConfig.model_validate_json(stored) == RestockConfig()


def _digest(path: Path) -> str:
    if path.is_dir():
        return hashlib.sha256(b"".join(
            p.name.encode() + p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
        )).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_failed_blocking_check_leaves_publication_byte_identical(e2e_run, small_demo_feed,
                                                                 tmp_path, monkeypatch):
    from pipelines.runner import run_nightly

    # on a copy of the published run: the shared run stays as the other tests read it
    warehouse = copy_run(e2e_run, tmp_path / "wh")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    paths = RunPaths.from_warehouse(warehouse)
    before = (_digest(paths.warehouse), _digest(paths.parquet_dir))
    # Any positive order is "absurd" under this threshold, so the blocking check must fail.
    # The forecasts only need to reach the reorder lines the check blocks: the fast settings.
    config = tmp_path / "strict.yml"
    config.write_text(FAST_NIGHTLY_CONFIG
                      + "quality:\n  max_order_multiple: 0.000001\n  order_floor_units: 0\n")
    outcome = run_nightly(small_demo_feed, warehouse, config_path=config)
    assert not outcome.success
    assert any("order_quantities_plausible" in f for f in outcome.failures), outcome.failures
    assert (_digest(paths.warehouse), _digest(paths.parquet_dir)) == before
    # the strict settings were the ones this run stored and its checks read
    with duckdb.connect(str(paths.work_db), read_only=True) as con:
        stored = con.execute("select config from raw._run").fetchone()[0]
    from restock.config import RestockConfig

    assert RestockConfig.model_validate_json(stored).quality.max_order_multiple == 1e-6
    # ... and the weekly replay refuses to replay (and publish again) what was not published
    from pipelines.runner import run_replay
    from restock.errors import PreflightError

    with pytest.raises(PreflightError, match=rf"the last nightly \(run {outcome.run_id}, as_of "
                                             r".*\) was not published"):
        run_replay(warehouse)
    assert (_digest(paths.warehouse), _digest(paths.parquet_dir)) == before


def test_replay_is_dated_and_refused_without_a_nightly(e2e_run, tmp_path):
    """The published replay rows say which history they played and when; a warehouse no
    nightly has published is refused before any work (`restock replay` exits 2)."""
    from pipelines.cli import EXIT_REFUSED, main

    replay = _published(e2e_run, "policy_replay")
    comparison = _published(e2e_run, "policy_replay_comparison")
    as_of = pd.Timestamp(_published(e2e_run, "demand_forecasts")["as_of"].iloc[0])
    for frame in (replay, comparison):
        assert (pd.to_datetime(frame["replay_as_of"]) == as_of).all()
        assert frame["replayed_at"].notna().all() and frame["replayed_at"].nunique() == 1
    assert main(["replay", "--warehouse", str(tmp_path / "restock.duckdb")]) == EXIT_REFUSED
    assert not (tmp_path / "restock.duckdb").exists()
