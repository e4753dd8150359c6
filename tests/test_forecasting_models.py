"""The panel-native statsforecast forecaster and the candidate factory."""

from __future__ import annotations

import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from restock.forecasting import ForecastSettings
from restock.forecasting.models import (
    build_candidate,
    candidates_for_unit,
    make_panel_forecaster,
    uses_exogenous,
    wide_to_panel,
)
from restock.forecasting.panel import panel_to_long, statsforecast_model


def _panel(n: int = 6, t: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = rng.poisson(rng.uniform(0.3, 8, size=(n, 1)), size=(n, t)).astype(float)
    start = np.array([0, 0, 10, 0, 30, 0])[:n]  # unequal lengths
    ids = [f"SKU{i}|S1" for i in range(n)]
    return wide_to_panel(ids, values, pd.date_range("2024-01-01", periods=t), start)


def test_panel_forecaster_equals_statsforecast_for_several_models():
    from sktime.forecasting.base import ForecastingHorizon
    from statsforecast import StatsForecast

    settings = ForecastSettings()
    names = ["seasonal_naive", "moving_average", "auto_ets", "croston_sba", "tsb"]
    y = _panel()
    forecaster = make_panel_forecaster(names, settings)
    fh = ForecastingHorizon(np.arange(1, 15), is_relative=True)
    forecaster.fit(y, fh=fh)
    ours = forecaster.predict_by_model(fh)
    raw = StatsForecast(models=[statsforecast_model(m, settings) for m in names], freq="D",
                        n_jobs=1).forecast(h=14, df=panel_to_long(y))
    raw = raw.set_index(["unique_id", "ds"]).sort_index()
    ours = ours.sort_index()
    assert ours.shape == (6 * 14, len(names))
    np.testing.assert_allclose(ours.to_numpy(), raw[names].to_numpy(), rtol=1e-10)
    # sktime's predict returns the first model, as a y-like panel
    first = forecaster.predict(fh).sort_index()
    np.testing.assert_allclose(first["demand"].to_numpy(), raw["seasonal_naive"].to_numpy())
    assert first.index.get_level_values(1).min() == pd.Timestamp("2024-04-30")


def test_panel_forecaster_keeps_models_for_forward():
    settings = ForecastSettings()
    y = _panel()
    forecaster = make_panel_forecaster(["auto_ets"], settings, keep_models=True)
    forecaster.fit(y)
    assert forecaster.fitted_models_.shape == (6, 1)
    series = y.xs("SKU0|S1")["demand"].to_numpy()
    position = list(forecaster.series_ids_.astype(str)).index("SKU0|S1")
    again = forecaster.fitted_models_[position, 0].forward(y=series, h=7)["mean"]
    direct = forecaster.predict(fh=np.arange(1, 8)).xs("SKU0|S1")["demand"].to_numpy()
    np.testing.assert_allclose(again, direct, rtol=1e-8)


def _sigterm_is_default(_) -> bool:
    return signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_forked_workers_die_on_sigterm_under_a_flag_only_handler():
    """Dagster maps SIGTERM to an interrupt handler that in some phases only sets a flag. Pool
    workers forked under it ignored Pool.terminate's SIGTERM, and a worker left waiting on the
    task-queue lock made the fit hang in Pool.__exit__ (a nightly run stalled this way)."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        forecaster = make_panel_forecaster(["auto_ets"], ForecastSettings(), n_jobs=2,
                                           keep_models=True)
        pool_class, kwargs = forecaster._statsforecast()._get_pool()  # fit's pool
        with pool_class(2, **kwargs) as pool:
            assert all(pool.map(_sigterm_is_default, range(8)))
        with ProcessPoolExecutor(2, mp_context=get_context("fork")) as executor:  # forecast's
            assert all(executor.map(_sigterm_is_default, range(8)))
        assert signal.getsignal(signal.SIGTERM) != signal.SIG_DFL  # the parent keeps its own
        forecaster.fit(_panel())  # statsforecast's own fit pool (n_jobs=2) starts and ends
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert forecaster.fitted_models_.shape == (6, 1)


def test_unknown_candidate_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown forecast candidate"):
        build_candidate("prophet", ForecastSettings())


def test_candidate_rule_by_demand_class():
    settings = ForecastSettings(candidates=["auto_ets", "croston_sba", "moving_average",
                                            "auto_arima"], auto_arima_max_series=10,
                                smoothing_on_intermittent=[])
    smooth = candidates_for_unit(settings.candidates, "smooth", 5, settings)
    lumpy = candidates_for_unit(settings.candidates, "lumpy", 5, settings)
    big = candidates_for_unit(settings.candidates, "erratic", 50, settings)
    assert smooth == ["seasonal_naive", "auto_ets", "moving_average", "auto_arima"]
    assert lumpy == ["seasonal_naive", "croston_sba", "moving_average"]
    assert "auto_arima" not in big
    # by default auto_ets (only) is also tried on intermittent and lumpy units
    default = settings.model_copy(update={"smoothing_on_intermittent": ["auto_ets"]})
    assert candidates_for_unit(default.candidates, "lumpy", 5, default) == [
        "seasonal_naive", "auto_ets", "croston_sba", "moving_average"]
    assert ForecastSettings().smoothing_on_intermittent == ["auto_ets"]


def test_statsforecast_candidates_ignore_exogenous_data():
    assert not uses_exogenous(build_candidate("auto_ets", ForecastSettings()))


def test_importing_the_package_stays_light():
    code = ("import sys, restock.forecasting as f; "
            "print(any(m.startswith(('sktime', 'statsforecast', 'lightgbm')) "
            "for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- forecast combination and the tie rule --------------------------------------------------
def test_combination_names_round_trip_and_are_validated():
    from restock.forecasting.models import (
        combination_members,
        combination_name,
        is_combination,
    )

    name = combination_name(["moving_average", "auto_ets", "lightgbm_global"])
    assert name == "combination(auto_ets+lightgbm_global+moving_average)"
    assert is_combination(name) and is_combination("combination")
    assert not is_combination("auto_ets")
    assert combination_members(name) == ["auto_ets", "lightgbm_global", "moving_average"]
    with pytest.raises(ValueError):
        combination_members("combination(auto_ets+prophet)")
    with pytest.raises(ValueError):
        build_candidate("combination", ForecastSettings())
    assert "combination" in ForecastSettings().candidates


def test_tie_rule_keeps_a_consistently_better_model():
    from restock.forecasting.selection import choose

    rng = np.random.default_rng(0)
    n = 200
    base = rng.uniform(0.5, 1.0, n)
    rows = []
    for pos in range(n):
        rows.append((pos, 1, "moving_average", base[pos]))
        rows.append((pos, 1, "lightgbm_global", base[pos] * 0.995))  # 0.5 % better, every item
    paired = pd.DataFrame(rows, columns=["pos", "fold", "model", "rmsse"])
    table = paired.groupby("model")["rmsse"].mean().rename("score").reset_index()
    table["bias"] = 0.0
    assert choose(table, 0.01)[0] == "moving_average"  # plain 1 % rule: the simpler one
    assert choose(table, 0.01, paired, 2.0)[0] == "lightgbm_global"
    # noisy differences of the same mean size stay a tie
    noisy = paired.copy()
    better = noisy["model"] == "lightgbm_global"
    noisy.loc[better, "rmsse"] = base * 0.995 + rng.normal(0, 0.2, n)
    table = noisy.groupby("model")["rmsse"].mean().rename("score").reset_index()
    table["bias"] = 0.0
    if table.set_index("model")["score"].idxmin() == "lightgbm_global":
        assert choose(table, 0.05, noisy, 2.0)[0] == "moving_average"
