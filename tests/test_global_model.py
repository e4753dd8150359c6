"""LightGBMGlobalForecaster: shape, non-negativity, promo lift, beats seasonal naive, no leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from restock.forecasting.features import build_exogenous
from restock.forecasting.global_model import LightGBMGlobalForecaster
from restock.forecasting.settings import ForecastSettings

H = 28
N_SERIES = 50
N_DAYS = 420
DOW = np.array([0.7, 0.8, 0.9, 1.0, 1.3, 1.8, 1.5])
LIFT = 3.0


def _panel(seed: int = 7):
    """Poisson demand with a weekly pattern and a 3x promotion lift; the last H days held out."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2023-01-02", periods=N_DAYS, freq="D")
    skus = [f"SKU{i:03d}" for i in range(N_SERIES)]
    level = rng.gamma(2.0, 3.0, N_SERIES) + 0.5
    promo = rng.random((N_SERIES, N_DAYS)) < 0.08
    rate = level[:, None] * DOW[dates.dayofweek][None, :] * np.where(promo, LIFT, 1.0)
    units = rng.poisson(rate).astype(float)
    demand = pd.DataFrame(
        {
            "sku": np.repeat(skus, N_DAYS),
            "location": "S1",
            "category": "food",
            "date": np.tile(dates, N_SERIES),
            "units_sold": units.reshape(-1),
            "is_censored": False,
            "promo": promo.reshape(-1),
            "discount_pct": np.where(promo.reshape(-1), 0.3, np.nan),
            "unit_price": 5.0,
            "is_event": False,
        }
    )
    index = pd.MultiIndex.from_arrays(
        [(demand["sku"] + "|S1").to_numpy(), pd.DatetimeIndex(demand["date"])],
        names=["series_id", "date"],
    )
    y = pd.DataFrame({"demand": units.reshape(-1)}, index=index)
    cutoff = dates[-H - 1]
    history = demand[demand["date"] <= cutoff]
    # the promotions mart holds the future promo days (planned) as well as past ones
    promotions = demand.loc[demand["promo"], ["sku", "location", "date", "discount_pct"]]
    X = build_exogenous(index, history, promotions, None, None, None, ForecastSettings())
    in_fit = index.get_level_values("date") <= cutoff
    return y, X, in_fit, dates, promo, rate


@pytest.fixture(scope="module")
def panel():
    return _panel()


@pytest.fixture(scope="module")
def fitted(panel):
    y, X, in_fit, dates, promo, rate = panel
    settings = ForecastSettings(n_jobs=2, seed=3)
    forecaster = LightGBMGlobalForecaster.from_settings(settings)
    forecaster.fit(y[in_fit], X=X[in_fit], fh=np.arange(1, H + 1))
    return forecaster, forecaster.predict(X=X[~in_fit])


def test_shape_index_and_non_negative(panel, fitted) -> None:
    y, X, in_fit, dates, promo, rate = panel
    _, pred = fitted
    assert pred.index.equals(y[~in_fit].index)
    assert list(pred.columns) == ["demand"]
    assert pred["demand"].notna().all()
    assert (pred["demand"] >= 0).all()


def test_lift_on_future_promo_days(panel, fitted) -> None:
    y, X, in_fit, dates, promo, rate = panel
    _, pred = fitted
    forecast = pred["demand"].to_numpy().reshape(N_SERIES, H)
    # compare with the same series' no-promo forecast, weekday pattern removed
    deseason = forecast / DOW[dates[-H:].dayofweek][None, :]
    future_promo = promo[:, -H:]
    ratios = [
        deseason[s, future_promo[s]].mean() / deseason[s, ~future_promo[s]].mean()
        for s in range(N_SERIES)
        if future_promo[s].any()
    ]
    assert np.median(ratios) > 2.0  # true lift is 3x


def test_beats_seasonal_naive(panel, fitted) -> None:
    y, X, in_fit, dates, promo, rate = panel
    _, pred = fitted
    actual = y[~in_fit]["demand"].to_numpy().reshape(N_SERIES, H)
    history = y[in_fit]["demand"].to_numpy().reshape(N_SERIES, -1)
    naive = np.tile(history[:, -7:], H // 7)
    model_mae = np.abs(pred["demand"].to_numpy().reshape(N_SERIES, H) - actual).mean()
    naive_mae = np.abs(naive - actual).mean()
    assert model_mae < 0.8 * naive_mae


def test_deterministic_for_a_seed(panel, fitted) -> None:
    y, X, in_fit, dates, promo, rate = panel
    _, pred = fitted
    again = LightGBMGlobalForecaster.from_settings(ForecastSettings(n_jobs=2, seed=3))
    again.fit(y[in_fit], X=X[in_fit], fh=np.arange(1, H + 1))
    np.testing.assert_array_equal(again.predict(X=X[~in_fit])["demand"], pred["demand"])


def test_future_actuals_do_not_change_the_forecast(panel, fitted) -> None:
    y, X, in_fit, dates, promo, rate = panel
    _, pred = fitted
    changed = y.copy()
    changed.loc[~in_fit, "demand"] = 1000.0  # wildly different future actuals
    forecaster = LightGBMGlobalForecaster.from_settings(ForecastSettings(n_jobs=2, seed=3))
    forecaster.fit(changed[in_fit], X=X[in_fit], fh=np.arange(1, H + 1))
    np.testing.assert_array_equal(forecaster.predict(X=X[~in_fit])["demand"], pred["demand"])


@pytest.mark.parametrize("strategy", ["recursive", "direct"])
def test_features_never_read_at_or_after_the_target(strategy: str) -> None:
    """Changing demand on and after day t - gap + 1 leaves the features of day t unchanged."""
    settings = ForecastSettings(horizon=14)
    forecaster = LightGBMGlobalForecaster.from_settings(settings, strategy=strategy)
    forecaster._learn_time_axis(pd.date_range("2024-01-01", periods=200))
    forecaster._origin_ = pd.Timestamp("2024-01-01")
    forecaster._scale_ = np.ones(3)
    forecaster._x_columns_ = []
    rng = np.random.default_rng(0)
    norm = rng.random((3, 200))
    target = np.array([150])
    base = forecaster._features(norm, target, 0, {})
    altered = norm.copy()
    altered[:, 150 - forecaster._gap() + 1 :] = 99.0
    after = forecaster._features(altered, target, 0, {})
    for name in base:
        np.testing.assert_array_equal(base[name], after[name], err_msg=name)
    # and the newest allowed day does matter (the features are not trivially constant)
    altered[:, 150 - forecaster._gap()] = 99.0
    moved = forecaster._features(altered, target, 0, {})
    assert any(not np.array_equal(base[n], moved[n]) for n in base)


def test_direct_strategy_and_single_series(panel) -> None:
    y, X, in_fit, dates, promo, rate = panel
    settings = ForecastSettings(horizon=H, n_jobs=2)
    direct = LightGBMGlobalForecaster.from_settings(settings, strategy="direct", n_estimators=50)
    direct.fit(y[in_fit], X=X[in_fit], fh=np.arange(1, H + 1))
    pred = direct.predict(X=X[~in_fit])
    assert pred.index.equals(y[~in_fit].index)
    assert (pred["demand"] >= 0).all()

    one = y.loc["SKU000|S1"][: -H]  # a plain single series (DatetimeIndex)
    single = LightGBMGlobalForecaster.from_settings(settings, n_estimators=20)
    single = single.fit(one, fh=[1, 2, 3])
    out = single.predict()
    assert list(out.index) == list(pd.date_range(one.index[-1], periods=4)[1:])
    assert (out["demand"] >= 0).all()


@pytest.mark.slow
def test_sktime_estimator_checks() -> None:
    from sktime.utils.estimator_checks import check_estimator

    results = check_estimator(LightGBMGlobalForecaster, raise_exceptions=False, verbose=False)
    failed = {k: v for k, v in results.items() if v != "PASSED"}
    assert not failed


def test_update_moves_the_origin_without_refitting(panel) -> None:
    y, X, in_fit, dates, promo, rate = panel
    early_cut = dates[-2 * H - 1]
    day = y.index.get_level_values("date")
    first_part, second_part = day <= early_cut, (day > early_cut) & in_fit
    forecaster = LightGBMGlobalForecaster.from_settings(ForecastSettings(n_jobs=2), n_estimators=60)
    forecaster.fit(y[first_part], X=X[first_part], fh=np.arange(1, H + 1))
    booster = forecaster._booster_
    forecaster.update(y[second_part], X=X[second_part], update_params=False)
    pred = forecaster.predict(X=X[~in_fit])
    assert forecaster._booster_ is booster
    assert pred.index.equals(y[~in_fit].index)
    actual = y[~in_fit]["demand"].to_numpy().reshape(N_SERIES, H)
    history = y[in_fit]["demand"].to_numpy().reshape(N_SERIES, -1)
    naive = np.tile(history[:, -7:], H // 7)
    model_mae = np.abs(pred["demand"].to_numpy().reshape(N_SERIES, H) - actual).mean()
    assert model_mae < 0.8 * np.abs(naive - actual).mean()


def test_for_series_reproduces_fitted_series_and_forecasts_unseen_ones(panel, fitted) -> None:
    y, X, in_fit, dates, promo, rate = panel
    forecaster, pred = fitted
    # the same series' own data: the copy forecasts exactly what the fitted model does
    same = forecaster.for_series(y[in_fit])
    np.testing.assert_allclose(same.predict(X=X[~in_fit])["demand"], pred["demand"])
    # fitted on the first 30 series only, then asked for the other 20 (never seen by the trees)
    ids = y.index.get_level_values(0)
    seen = ids.isin(np.unique(ids)[:30])
    small = LightGBMGlobalForecaster.from_settings(ForecastSettings(n_jobs=2, seed=3))
    small.fit(y[in_fit & seen], X=X[in_fit & seen], fh=np.arange(1, H + 1))
    unseen = small.for_series(y[in_fit & ~seen]).predict(X=X[~in_fit & ~seen])
    assert unseen.index.equals(y[~in_fit & ~seen].index)
    actual = y[~in_fit & ~seen]["demand"].to_numpy().reshape(20, H)
    got = unseen["demand"].to_numpy().reshape(20, H)
    # each unseen series is forecast at its own level: close to its true mean rate
    true_mean = rate[30:, -H:].mean(axis=1)
    assert np.corrcoef(got.mean(axis=1), true_mean)[0, 1] > 0.95
    history = y[in_fit & ~seen]["demand"].to_numpy().reshape(20, -1)
    naive = np.tile(history[:, -7:], H // 7)
    assert np.abs(got - actual).mean() < 0.8 * np.abs(naive - actual).mean()


def test_pipeline_fits_global_model_on_a_sample_and_forecasts_every_series(caplog) -> None:
    from restock.forecasting.censoring import build_panel
    from restock.forecasting.fitting import ExogenousInputs, forecast_panel

    y, X, in_fit, dates, promo, rate = _panel()
    ids = y.index.get_level_values(0)
    demand = pd.DataFrame({
        "sku": ids.str.split("|").str[0], "location": "S1", "category": "food",
        "date": y.index.get_level_values(1), "units_sold": y["demand"].to_numpy(),
        "is_censored": False, "promo": promo.reshape(-1), "discount_pct": 0.3,
        "unit_price": 5.0, "is_event": False,
    })
    cutoff = dates[-H - 1]
    settings = ForecastSettings(n_jobs=2, seed=3, global_max_series=20)
    panel = build_panel(demand, cutoff, settings)
    rows = np.arange(panel.n_series)
    end = panel.day_index(cutoff)
    exog = ExogenousInputs(demand[demand["date"] <= cutoff])
    with caplog.at_level("INFO", logger="restock.forecasting"):
        capped = forecast_panel(panel, rows, end, ["lightgbm_global"], settings, H, exog)
    assert "fitted on 20 of 50 series, forecast all in 3 chunks" in caplog.text
    got = capped["lightgbm_global"]
    assert got.shape == (N_SERIES, H) and np.isfinite(got).all()
    full = forecast_panel(panel, rows, end, ["lightgbm_global"],
                          settings.model_copy(update={"global_max_series": 1000}), H, exog)
    actual = y[~in_fit]["demand"].to_numpy().reshape(N_SERIES, H)
    err_capped = np.abs(got - actual).mean()
    err_full = np.abs(full["lightgbm_global"] - actual).mean()
    assert err_capped < 1.1 * err_full  # 20 series teach the trees nearly as well as 50
