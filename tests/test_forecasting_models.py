"""The panel-native statsforecast forecaster and the candidate factory."""

from __future__ import annotations

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
    panel_to_long,
    statsforecast_model,
    uses_exogenous,
    wide_to_panel,
)


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


def test_unknown_candidate_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown forecast candidate"):
        build_candidate("prophet", ForecastSettings())


def test_candidate_rule_by_demand_class():
    settings = ForecastSettings(candidates=["auto_ets", "croston_sba", "moving_average",
                                            "auto_arima"], auto_arima_max_series=10)
    smooth = candidates_for_unit(settings.candidates, "smooth", 5, settings)
    lumpy = candidates_for_unit(settings.candidates, "lumpy", 5, settings)
    big = candidates_for_unit(settings.candidates, "erratic", 50, settings)
    assert smooth == ["seasonal_naive", "auto_ets", "moving_average", "auto_arima"]
    assert lumpy == ["seasonal_naive", "croston_sba", "moving_average"]
    assert "auto_arima" not in big


def test_statsforecast_candidates_ignore_exogenous_data():
    assert not uses_exogenous(build_candidate("auto_ets", ForecastSettings()))


def test_importing_the_package_stays_light():
    code = ("import sys, restock.forecasting as f; "
            "print(any(m.startswith(('sktime', 'statsforecast', 'lightgbm')) "
            "for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
