"""History across runs (issue 20): snapshots, accuracy on the days now known, alert outcomes.

Small hand-made work DBs published with publish_tables(history=...): three runs a week apart,
re-runs, failures, a lost store, retention of Parquet versions, BI-typed columns.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import PG_SERVER, require_db_server

from restock.config import PublishSettings
from restock.contract import HISTORY_TABLES, PUBLISHED_TABLES, RUN_COLUMNS, TYPED_COLUMNS
from restock.forecasting import metrics
from restock.history import HISTORY_TYPES, HistorySettings
from restock.paths import RunPaths
from restock.publishing import publish_tables
from restock.publishing.history_store import HistoryStoreError, history_store_path
from restock.publishing.parquet import prune_versions

START = date(2024, 1, 1)
RUNS = [date(2024, 3, 3), date(2024, 3, 10), date(2024, 3, 17)]
SERIES = [
    ("A1", "S1", "CAT_A"), ("A2", "S1", "CAT_A"), ("B1", "S1", "CAT_B"), ("B2", "S2", "CAT_B"),
]
MODELS = {"CAT_A": "auto_ets", "CAT_B": "seasonal_naive"}
# A1 at S1 is out of stock on these days (its alert of the first run was right).
STOCKOUT_DAYS = {date(2024, 3, 6), date(2024, 3, 7)}
TABLES = {t: PUBLISHED_TABLES[t] for t in ("demand_forecasts", "stockout_alerts")}


def _demand(as_of: date) -> pd.DataFrame:
    """Daily demand from START to as_of: a weekly pattern plus seeded noise per series."""
    rows = []
    for n, (sku, loc, cat) in enumerate(SERIES):
        rng = np.random.default_rng(n)
        day = START
        while day <= as_of:
            units = float(max(0, round(5 + 3 * (day.weekday() >= 5) + n + rng.normal(0, 2))))
            censored = sku == "A1" and day in STOCKOUT_DAYS
            rows.append(
                {
                    "sku": sku,
                    "location": loc,
                    "category": cat,
                    "date": pd.Timestamp(day),
                    "units_sold": 0.0 if censored else units,
                    "on_hand": 0.0 if censored else 20.0,
                    "stockout_hours": None,
                    "is_censored": censored,
                }
            )
            day += timedelta(days=1)
    return pd.DataFrame(rows)


def _forecasts(as_of: date, demand: pd.DataFrame) -> pd.DataFrame:
    """28 days per series: CAT_A a flat mean (auto_ets), CAT_B exactly the seasonal naive."""
    rows = []
    for sku, loc, cat in SERIES:
        hist = demand[(demand.sku == sku) & (demand.location == loc)].set_index("date")
        for h in range(1, 29):
            day = as_of + timedelta(days=h)
            if cat == "CAT_A":
                f = float(hist["units_sold"].iloc[-28:].mean())
            else:
                f = float(hist.loc[pd.Timestamp(as_of + timedelta(days=(h - 1) % 7 - 6)),
                                   "units_sold"])
            rows.append(
                {
                    "sku": sku, "location": loc, "date": pd.Timestamp(day),
                    "model": MODELS[cat], "forecast": f, "p50": f, "p90": f * 1.4 + 1,
                    "p95": f * 1.6 + 1, "p99": f * 2 + 1, "category": cat,
                }
            )
    return pd.DataFrame(rows)


def make_run_db(path: Path, as_of: date) -> pd.DataFrame:
    """The work DB of the run planning for ``as_of`` (marts and results it publishes)."""
    demand = _demand(as_of)
    forecasts = _forecasts(as_of, demand)
    alerts = pd.DataFrame(
        {
            "sku": ["A1", "B1"],
            "location": ["S1", "S1"],
            "projected_stockout_date": [pd.Timestamp(as_of + timedelta(days=3))] * 2,
            "stockout_probability": [0.8, 0.3],
            "recommended_order_qty": [24.0, 11.9999999],
            "severity": ["critical", "warning"],
            "customers_at_risk": [2, 0],
            "revenue_at_risk": [150.0, 0.0],
        }
    )
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create schema results")
        con.register("d", demand)
        con.execute("create table marts.fct_daily_demand as select * from d")
        con.register("f", forecasts)
        con.execute("create table results.demand_forecasts as select * from f")
        con.register("a", alerts)
        con.execute("create table results.stockout_alerts as select * from a")
    return demand


def publish(work: Path, paths: RunPaths, as_of: date, run: str, **kw) -> dict:
    make_run_db(work, as_of)
    return publish_tables(
        work, paths, run, as_of.isoformat(), PublishSettings(), TABLES,
        history=kw.pop("history", HistorySettings()), parquet_grace_seconds=0, **kw,
    )


def read(paths: RunPaths, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return con.execute(sql).df()


def counts(paths: RunPaths) -> dict[str, int]:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return {
            t: con.execute(f"select count(*) from marts.{t}").fetchone()[0] for t in HISTORY_TABLES
        }


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def env(tmp_path):
    paths = RunPaths.from_warehouse(tmp_path / "pub" / "restock.duckdb").ensure()
    return paths, tmp_path / "work.duckdb"


def test_three_weekly_runs_keep_three_snapshots_and_score_the_first_two(env):
    paths, work = env
    for k, as_of in enumerate(RUNS):
        publish(work, paths, as_of, f"run-{k + 1}")

    snaps = read(paths, "select as_of, count(*) n, min(horizon_day) lo, max(horizon_day) hi "
                        "from marts.forecast_snapshots group by 1 order by 1")
    assert [d.date() for d in snaps["as_of"]] == RUNS
    assert set(snaps["n"]) == {28 * len(SERIES)} and set(snaps["lo"]) == {1}
    assert set(snaps["hi"]) == {28}

    acc = read(paths, "select * from marts.forecast_accuracy_history "
                      "order by snapshot_as_of, category, horizon_week")
    weeks = acc.groupby(acc["snapshot_as_of"].dt.date)["horizon_week"].apply(
        lambda s: sorted(set(s)))
    assert weeks.to_dict() == {RUNS[0]: [1, 2], RUNS[1]: [1]}  # 14 and 7 days now known
    assert set(acc["as_of"].dt.date) == {RUNS[2]} and set(acc["run_id"]) == {"run-3"}
    assert acc["complete"].all()
    assert set(zip(acc["category"], acc["model"], strict=True)) == set(MODELS.items())
    # The seasonal naive scored against itself adds nothing.
    naive = acc[acc["category"] == "CAT_B"]
    assert np.allclose(naive["rmsse"], naive["naive_rmsse"])
    assert np.allclose(naive["value_added_vs_naive"], 0.0)

    # CAT_A, first snapshot, week 1, recomputed with restock.forecasting.metrics.
    demand = _demand(RUNS[2])
    fc = _forecasts(RUNS[0], _demand(RUNS[0]))
    days = pd.date_range(RUNS[0] + timedelta(days=1), periods=7)
    rmsse, naive_rmsse, spl, err, tot, hits, n = [], [], [], [], [], 0, 0
    for sku, loc, cat in SERIES:
        if cat != "CAT_A":
            continue
        s = demand[(demand.sku == sku) & (demand.location == loc)].set_index("date")
        y = s["units_sold"].where(~s["is_censored"])
        hist = y[y.index <= pd.Timestamp(RUNS[0])].to_numpy()
        actual = y.reindex(days).to_numpy()
        f = fc[(fc.sku == sku) & fc.date.isin(days)].set_index("date").reindex(days)
        nv = y.reindex(days - pd.Timedelta(days=7)).to_numpy()
        keep = ~np.isnan(actual) & ~np.isnan(nv)
        a, fcast, p90, nv = actual[keep], f["forecast"].to_numpy()[keep], f["p90"].to_numpy()[
            keep], nv[keep]
        scale = metrics.one_step_naive_scale(hist)
        rmsse.append(metrics.rmsse(a, fcast, scale)[0])
        naive_rmsse.append(metrics.rmsse(a, nv, scale)[0])
        spl.append(metrics.pinball_loss(a, p90, 0.9)[0]
                   / metrics.seasonal_naive_scale(hist, 7)[0])
        err.append(np.abs(a - fcast).sum())
        tot.append(a.sum())
        hits += int((a <= p90).sum())
        n += len(a)
    row = acc[(acc["category"] == "CAT_A") & (acc["snapshot_as_of"].dt.date == RUNS[0])
              & (acc["horizon_week"] == 1)].iloc[0]
    assert row["n_series"] == 2 and row["scored_days"] == n == 12  # 2 stock-out days unscored
    assert row["rmsse"] == pytest.approx(np.mean(rmsse))
    assert row["naive_rmsse"] == pytest.approx(np.mean(naive_rmsse))
    assert row["value_added_vs_naive"] == pytest.approx(1 - np.mean(rmsse) / np.mean(naive_rmsse))
    assert row["spl_p90"] == pytest.approx(np.mean(spl))
    assert row["wape"] == pytest.approx(sum(err) / sum(tot))
    assert row["coverage_p90"] == pytest.approx(hits / n)

    alerts = read(paths, "select * from marts.alert_history order by as_of, sku")
    assert len(alerts) == 2 * len(RUNS)
    first = alerts[alerts["as_of"].dt.date == RUNS[0]].set_index("sku")
    assert first.loc["A1", "outcome"] == "stocked_out" and first.loc["A1", "stocked_out"]
    assert first.loc["A1", "first_stockout_day"].date() == date(2024, 3, 6)
    # B1 never ran out and its 14-day window is over: the alert was wrong.
    assert first.loc["B1", "outcome"] == "no_stockout" and not first.loc["B1", "stocked_out"]
    assert first.loc["B1", "recommended_order_units"] == 12
    assert set(alerts[alerts["as_of"].dt.date == RUNS[2]]["outcome"]) == {"pending"}
    second = alerts[alerts["as_of"].dt.date == RUNS[1]].set_index("sku")
    assert second.loc["B1", "outcome"] == "pending"  # 7 of 14 days known, no stock-out yet
    assert second.loc["B1", "outcome_through"].date() == RUNS[2]


def test_rerunning_an_as_of_leaves_row_counts_unchanged(env):
    paths, work = env
    for k, as_of in enumerate(RUNS):
        publish(work, paths, as_of, f"run-{k + 1}")
    before = counts(paths)
    acc_before = read(paths, "select * exclude (run_id) from marts.forecast_accuracy_history "
                             "order by all")
    publish(work, paths, RUNS[2], "run-3-again")
    assert counts(paths) == before
    assert read(paths, "select count(*) n from marts.forecast_snapshots "
                       "where run_id = 'run-3'")["n"][0] == 0
    # Re-running an older as_of: its rows are replaced; what later runs scored is kept.
    publish(work, paths, RUNS[1], "run-2-again")
    assert counts(paths) == before
    acc_after = read(paths, "select * exclude (run_id) from marts.forecast_accuracy_history "
                            "order by all")
    pd.testing.assert_frame_equal(acc_before, acc_after)
    alerts = read(paths, "select * from marts.alert_history where as_of = date '2024-03-10'")
    assert set(alerts["run_id"]) == {"run-2-again"}
    assert set(alerts["outcome_through"].dt.date) == {RUNS[2]}  # known outcome kept
    # The next run goes on from there.
    publish(work, paths, RUNS[2] + timedelta(days=7), "run-4")
    assert counts(paths)["forecast_snapshots"] == 4 * 28 * len(SERIES)


def test_history_in_parquet_and_types(env):
    paths, work = env
    publish(work, paths, RUNS[0], "run-1")
    publish(work, paths, RUNS[1], "run-2")
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        for table, columns in HISTORY_TABLES.items():
            got = con.execute(
                "select column_name, data_type from duckdb_columns() where schema_name = "
                "'marts' and table_name = ? order by column_index", [table]).fetchall()
            assert [c for c, _ in got] == [*columns, *RUN_COLUMNS]
            types = {**HISTORY_TYPES[table], "run_id": "varchar", "as_of": "date"}
            assert [t.lower() for _, t in got] == [types[c] for c in (*columns, *RUN_COLUMNS)]
        typed = dict(con.execute(
            "select table_name || '.' || column_name, data_type from duckdb_columns() "
            "where schema_name = 'marts'").fetchall())
    for table, cols in TYPED_COLUMNS.items():
        if table in TABLES:
            for c in cols:
                assert typed[f"{table}.{c.name}"] == ("DATE" if c.type == "date" else "BIGINT")
    with duckdb.connect() as con:
        for table in HISTORY_TABLES:
            n = con.execute("select count(*) from read_parquet(?)",
                            [str(paths.parquet_dir / f"{table}.parquet")]).fetchone()[0]
            assert n == counts(paths)[table]


def test_failed_publish_leaves_history_store_and_outputs_untouched(env):
    paths, work = env
    publish(work, paths, RUNS[0], "run-1")
    store = history_store_path(paths)
    hashes = sha(store), sha(paths.warehouse)

    def boom():
        raise RuntimeError("killed before the swap")

    with pytest.raises(RuntimeError, match="killed"):
        publish(work, paths, RUNS[1], "run-2", before_swap=boom)
    assert (sha(store), sha(paths.warehouse)) == hashes
    assert [p.name for p in store.parent.iterdir()] == [store.name]
    # A work DB without the demand mart fails in the history step, before anything is swapped.
    make_run_db(work, RUNS[1])
    with duckdb.connect(str(work)) as con:
        con.execute("drop table marts.fct_daily_demand")
    with pytest.raises(duckdb.Error):
        publish_tables(work, paths, "run-2", RUNS[1].isoformat(), PublishSettings(), TABLES,
                       history=HistorySettings())
    assert (sha(store), sha(paths.warehouse)) == hashes
    assert [p.name for p in store.parent.iterdir()] == [store.name]


def test_unreadable_store_stops_the_publish_and_lost_store_is_rebuilt(env):
    paths, work = env
    publish(work, paths, RUNS[0], "run-1")
    publish(work, paths, RUNS[1], "run-2")
    store = history_store_path(paths)
    published = sha(paths.warehouse)
    good = store.read_bytes()
    store.write_bytes(b"not a duckdb file" * 100)
    with pytest.raises(HistoryStoreError, match="Refusing"):
        publish(work, paths, RUNS[2], "run-3")
    assert sha(paths.warehouse) == published
    # Store gone (moved aside): the history is carried from the published file.
    store.unlink()
    publish(work, paths, RUNS[2], "run-3")
    assert counts(paths)["forecast_snapshots"] == 3 * 28 * len(SERIES)
    assert store.exists() and store.read_bytes() != good


def test_snapshot_retention_counts_back_from_the_newest_as_of(env):
    paths, work = env
    settings = HistorySettings(snapshot_retention_days=10)
    for k, as_of in enumerate(RUNS):
        publish(work, paths, as_of, f"run-{k + 1}", history=settings)
    kept = read(paths, "select distinct as_of from marts.forecast_snapshots order by 1")
    assert [d.date() for d in kept["as_of"]] == RUNS[1:]
    # Backfilling an old as_of does not prune the newer ones (it is itself beyond retention).
    publish(work, paths, RUNS[0], "backfill", history=settings)
    kept = read(paths, "select distinct as_of from marts.forecast_snapshots order by 1")
    assert [d.date() for d in kept["as_of"]] == RUNS[1:]


def test_parquet_versions_keep_the_newest_n_and_never_the_linked_one(env, tmp_path):
    paths, work = env
    versions = paths.parquet_dir.with_name(paths.parquet_dir.name + ".versions")
    for k in range(5):
        publish(work, paths, RUNS[0], f"run-{k}", parquet_keep_versions=2)
    names = sorted(p.name for p in versions.iterdir())
    assert len(names) == 2 and os.path.basename(os.readlink(paths.parquet_dir)) == names[-1]
    # A grace period keeps recently replaced versions even beyond N.
    for k in range(2):
        make_run_db(work, RUNS[0])
        publish_tables(work, paths, f"g-{k}", RUNS[0].isoformat(), PublishSettings(), TABLES,
                       parquet_keep_versions=1, parquet_grace_seconds=3600)
    assert len(list(versions.iterdir())) == 4
    # The folder the link points at is never deleted, even when it is not among the newest
    # (a version linked back by hand).
    oldest = sorted(versions.iterdir())[0]
    tmp_link = paths.parquet_dir.with_name("link-tmp")
    tmp_link.symlink_to(os.path.relpath(oldest, paths.parquet_dir.parent))
    os.replace(tmp_link, paths.parquet_dir)
    deleted = prune_versions(paths.parquet_dir, keep=1, grace_seconds=0)
    assert oldest.exists() and len(deleted) == 2
    assert sorted(p.name for p in versions.iterdir()) == sorted(
        {oldest.name, max(p.name for p in versions.iterdir())})


PG_URL = f"{PG_SERVER}/test"


@pytest.mark.db
def test_history_and_typed_columns_reach_postgres(env, monkeypatch):
    import sqlalchemy as sa

    require_db_server(PG_URL)
    engine = sa.create_engine(PG_URL)
    paths, work = env
    schema = f"restock_h_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("RESTOCK_TEST_PG_URL", PG_URL)
    settings = PublishSettings(postgres_url_env="RESTOCK_TEST_PG_URL", postgres_schema=schema)
    try:
        for k, as_of in enumerate(RUNS[:2]):
            make_run_db(work, as_of)
            publish_tables(work, paths, f"run-{k}", as_of.isoformat(), settings, TABLES,
                           history=HistorySettings())
        with engine.connect() as conn:
            types = dict(conn.execute(sa.text(
                "select table_name || '.' || column_name, data_type from "
                "information_schema.columns where table_schema = :s"), {"s": schema}).all())
            n = conn.exec_driver_sql(
                f'select count(distinct as_of) from "{schema}".forecast_snapshots').scalar()
        assert n == 2
        assert types["stockout_alerts.projected_stockout_day"] == "date"
        assert types["stockout_alerts.recommended_order_units"] == "bigint"
        assert types["demand_forecasts.forecast_day"] == "date"
        assert types["forecast_accuracy_history.snapshot_as_of"] == "date"
        assert types["alert_history.stocked_out"] == "boolean"
    finally:
        with engine.begin() as conn:
            for suffix in ("", "_stage", "_old"):
                conn.exec_driver_sql(f'drop schema if exists "{schema}{suffix}" cascade')
        engine.dispose()
