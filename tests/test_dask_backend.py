"""Forecasting on a dask.distributed cluster gives the same forecasts as the local backend."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
from test_forecasting_pipeline import synthetic_demand

from restock.forecasting import ForecastSettings, run_forecasting

pytestmark = pytest.mark.slow

CANDIDATES = ["seasonal_naive", "moving_average", "auto_ets", "croston_sba", "tsb"]


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    # Separate worker processes on the loopback address, like a small real cluster.
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    ) as local_cluster:
        yield local_cluster


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["sku", "location", "date"]).reset_index(drop=True)


def test_dask_forecasts_equal_local_ones(cluster, caplog):
    from distributed import Client

    demand = synthetic_demand(days=240, seed=5)
    as_of = pd.Timestamp(demand["date"].max())
    local = ForecastSettings(candidates=CANDIDATES, folds=2, sample_per_unit=20, horizon=14,
                             n_jobs=1)
    on_dask = local.model_copy(update={"backend": "dask",
                                       "dask_address": cluster.scheduler_address})

    expected = run_forecasting(demand, as_of, local)
    with caplog.at_level(logging.WARNING, logger="restock.forecasting"):
        got = run_forecasting(demand, as_of, on_dask)
    assert not [r for r in caplog.records if "dask backend failed" in r.getMessage()], \
        "the dask path fell back to local"

    with Client(cluster.scheduler_address) as client:
        transitions = client.run_on_scheduler(
            lambda dask_scheduler: len(dask_scheduler.transition_log))
    assert transitions > 0, "no task ran on the cluster"

    cols = ["sku", "location", "date", "model", "forecast", "p50", "p90", "p95", "p99"]
    # Same models, same series; values agree to ~1e-6 units (floats cross process boundaries
    # through Arrow on the cluster), far below any quantity that matters for ordering.
    pd.testing.assert_frame_equal(_sorted(got.demand_forecasts)[cols],
                                  _sorted(expected.demand_forecasts)[cols],
                                  check_exact=False, rtol=1e-5, atol=1e-5)
    pd.testing.assert_frame_equal(
        got.model_selection.sort_values(["category", "demand_class"]).reset_index(drop=True),
        expected.model_selection.sort_values(["category", "demand_class"]).reset_index(drop=True),
    )
