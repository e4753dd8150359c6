"""Unit tests of the forecasting building blocks on small hand-made data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from feedkit import poisson_backtest

from restock.forecasting import ForecastSettings, metrics
from restock.forecasting.calibration import (
    cumulative_quantiles,
    daily_quantiles,
    fit_calibration,
    history_cap,
)
from restock.forecasting.censoring import build_panel, impute_censored
from restock.forecasting.classify import adi_cv2, classify_demand
from restock.forecasting.selection import choose


# --- classification -----------------------------------------------------------------------
def test_each_demand_class_on_a_hand_made_series():
    smooth = np.array([10, 11, 9, 10, 12, 10, 9, 11] * 4, dtype=float)
    erratic = np.array([1, 20, 2, 15, 1, 30, 3, 1] * 4, dtype=float)
    intermittent = np.array([0, 0, 5, 0, 0, 6, 0, 0] * 4, dtype=float)
    lumpy = np.array([0, 0, 1, 0, 0, 40, 0, 0] * 4, dtype=float)
    assert classify_demand(smooth) == "smooth"
    assert classify_demand(erratic) == "erratic"
    assert classify_demand(intermittent) == "intermittent"
    assert classify_demand(lumpy) == "lumpy"


def test_adi_and_cv2_values():
    adi, cv2 = adi_cv2(np.array([0.0, 2.0, 0.0, 4.0]))
    assert adi[0] == pytest.approx(2.0)  # 4 days / 2 demand days
    # sizes 2 and 4: mean 3, population variance 1 -> CV2 = 1/9
    assert cv2[0] == pytest.approx(1 / 9)
    adi, _ = adi_cv2(np.array([np.nan, np.nan, 0.0, 3.0]))  # days before the start ignored
    assert adi[0] == pytest.approx(2.0)


# --- metrics against hand-computed values ----------------------------------------------------
def test_metrics_match_hand_computed_values():
    history = np.array([1.0, 2, 3, 4, 5, 6, 7, 3, 2, 3, 4, 5, 6, 7])
    # seasonal naive (lag 7) in-sample errors: |3-1|,|2-2|,0,0,0,0,0 -> MAE 2/7
    assert metrics.seasonal_naive_scale(history, 7)[0] == pytest.approx(2 / 7)
    # one-step squared diffs: 1,1,1,1,1,1,16,1,1,1,1,1,1 -> 28/13
    assert metrics.one_step_naive_scale(history)[0] == pytest.approx(28 / 13)
    actual = np.array([2.0, 4.0, 0.0, 6.0])
    forecast = np.array([3.0, 3.0, 1.0, 4.0])
    assert metrics.mase(actual, forecast, np.array([2.0]))[0] == pytest.approx(1.25 / 2)
    assert metrics.rmsse(actual, forecast, np.array([2.0]))[0] == pytest.approx(
        np.sqrt((1 + 1 + 1 + 4) / 4 / 2)
    )
    assert metrics.wape(actual, forecast) == pytest.approx(5 / 12)
    assert metrics.bias(actual, forecast) == pytest.approx((11 - 12) / 12)
    # pinball at 0.9 of q=3 vs actual: 2->0.1, 4->0.9, 0->0.3, 6->2.7 -> mean 1.0
    assert metrics.pinball_loss(actual, np.full(4, 3.0), 0.9)[0] == pytest.approx(1.0)
    assert metrics.coverage(actual, np.full(4, 3.0))[0] == pytest.approx(0.5)


def test_metrics_skip_censored_days():
    actual = np.array([2.0, np.nan, 4.0])
    forecast = np.array([2.0, 100.0, 2.0])
    assert metrics.wape(actual, forecast) == pytest.approx(2 / 6)
    assert metrics.coverage(actual, np.array([3.0, 0.0, 3.0]))[0] == pytest.approx(0.5)


# --- censoring ------------------------------------------------------------------------------
def _censored_frame() -> pd.DataFrame:
    dates = pd.date_range("2024-01-01", periods=35)
    sales = np.tile([10.0, 10, 10, 10, 10, 20, 20], 5)
    censored = np.zeros(35, dtype=bool)
    hours = np.zeros(35)
    censored[33] = True  # a Saturday, fully out of stock (closing stock 0): 2 units sold
    sales[33] = 2.0
    censored[30] = True  # a Wednesday with 12 stock-out hours: 6 units sold
    sales[30] = 6.0
    hours[30] = 12.0
    censored[29] = True  # a Tuesday with 4 stock-out hours (too few to show a shortfall)
    sales[29] = 7.0
    hours[29] = 4.0
    censored[31] = True  # sold 15 although out of stock most of the day: never lowered
    sales[31] = 15.0
    return pd.DataFrame({"sku": "A", "location": "S", "category": "C", "date": dates,
                         "units_sold": sales, "is_censored": censored, "stockout_hours": hours})


def test_imputation_replaces_censored_days_only_and_never_lowers_sales():
    frame = _censored_frame()
    settings = ForecastSettings()  # 'learned' rule; too few days to learn: 12 h threshold
    panel = build_panel(frame, frame["date"].max(), settings)
    target, sales = panel.target[0], panel.sales[0]
    uncensored = ~frame["is_censored"].to_numpy()
    np.testing.assert_array_equal(target[uncensored], sales[uncensored])
    assert target[33] == pytest.approx(20.0)  # mean of the previous Saturdays
    assert target[30] == pytest.approx(10.0)  # 12 h out: lifted to the usual Wednesday level
    assert target[29] == pytest.approx(7.0)  # 4 h out: below the threshold, sales kept
    assert panel.censored[0, 29]  # ... but still censored: never scored as demand
    assert target[31] == pytest.approx(15.0)  # estimate 10 < sold 15: keep the sales
    assert (target >= sales).all()


def test_open_hours_rule_scales_sales_by_the_open_hours():
    frame = _censored_frame()
    panel = build_panel(frame, frame["date"].max(), ForecastSettings(stockout_rule="open_hours"))
    assert panel.target[0, 30] == pytest.approx(12.0)  # 6 units in 12 open hours -> 12 a day
    assert panel.target[0, 29] == pytest.approx(7.0 * 24 / 20)
    assert panel.target[0, 33] == pytest.approx(20.0)


def test_learned_rule_lifts_only_stockouts_that_cost_sales():
    # 40 flat series (10 a day); from day 28, Thursdays are out 6 h and Saturdays 20 h.
    # Category A loses half its sales on 20 h days; category B's stock-outs are at night
    # (9.8 sold, about the usual 10): only A's 20 h days are lifted.
    n, t = 40, 70
    day = np.arange(t)
    sales = np.full((n, t), 10.0)
    hours = np.zeros((n, t))
    hours[:, (day >= 28) & (day % 7 == 3)] = 6.0
    long_out = (day >= 28) & (day % 7 == 5)
    hours[:, long_out] = 20.0
    groups = np.array(["A"] * 20 + ["B"] * 20)
    sales[:20, long_out] = 5.0
    sales[20:, long_out] = 9.8
    censored = hours > 0
    target = impute_censored(sales, censored, hours, ForecastSettings(), groups)
    np.testing.assert_array_equal(target[~censored], sales[~censored])  # uncensored untouched
    np.testing.assert_array_equal(target[:, hours[0] == 6.0], 10.0)  # 6 h: no shortfall, kept
    np.testing.assert_allclose(target[:20][:, long_out], 10.0)  # A, 20 h: lifted to the level
    np.testing.assert_array_equal(target[20:][:, long_out], 9.8)  # B, 20 h: sales kept
    assert (target >= sales).all()
    # the same data with 'fixed' at 12 h lifts both categories' 20 h days
    fixed = impute_censored(sales, censored, hours, ForecastSettings(stockout_rule="fixed"),
                            groups)
    np.testing.assert_allclose(fixed[:, long_out], 10.0)


def test_no_imputation_when_switched_off():
    frame = _censored_frame()
    panel = build_panel(frame, frame["date"].max(), ForecastSettings(censored_handling="none"))
    np.testing.assert_array_equal(panel.target, panel.sales)


def test_impute_without_history_keeps_sales():
    sales = np.array([[3.0, 1.0]])
    out = impute_censored(sales, np.array([[False, True]]), None, ForecastSettings())
    assert out[0, 1] == pytest.approx(3.0)  # the only uncensored day of the last 28


# --- selection ------------------------------------------------------------------------------
def test_tie_within_one_percent_goes_to_the_simpler_model():
    table = pd.DataFrame({"model": ["auto_ets", "moving_average", "seasonal_naive"],
                          "score": [0.800, 0.805, 0.95], "bias": [0.0, 0.3, 0.0]})
    selected, runner_up, tie = choose(table, 0.01)
    assert (selected, runner_up, tie) == ("moving_average", "auto_ets", True)


def test_clear_winner_is_kept():
    table = pd.DataFrame({"model": ["auto_ets", "moving_average", "seasonal_naive"],
                          "score": [0.70, 0.80, 0.95], "bias": [0.2, 0.0, 0.0]})
    selected, runner_up, tie = choose(table, 0.01)
    assert (selected, runner_up, tie) == ("auto_ets", "moving_average", False)


# --- calibration ----------------------------------------------------------------------------
def test_quantiles_are_non_negative_and_monotone():
    n, folds, h = 60, 3, 14
    rng, fc, actual, sample = poisson_backtest(1, n, folds, h)
    level = fc.mean(axis=2)
    settings = ForecastSettings(horizon=20)
    cal = fit_calibration(sample, {"m": fc}, actual, actual, level, settings)
    pools = pd.DataFrame({"unit": ["C/smooth", "X/lumpy"], "demand_class": ["smooth", "lumpy"],
                          "model": ["m", "m"]})
    forecast = np.array([[0.0] * 20, np.linspace(3, 0, 20)])
    lv = np.array([0.01, 2.0])
    daily = daily_quantiles(cal, pools, forecast, lv)
    levels = sorted(daily)
    for lo, hi in zip(levels, levels[1:], strict=False):
        assert (daily[hi] >= daily[lo] - 1e-12).all()
    assert all((q >= 0).all() for q in daily.values())
    cum = cumulative_quantiles(cal, pools, forecast, lv)
    assert cum.shape == (2, 20, len(settings.cumulative_levels))
    assert (cum >= 0).all()
    assert (np.diff(cum, axis=1) >= -1e-12).all()  # non-decreasing in k (beyond h too)
    assert (np.diff(cum, axis=2) >= -1e-12).all()  # non-decreasing in the level


def test_calibrated_p90_covers_about_90_percent_of_new_draws():
    rng = np.random.default_rng(7)
    n, folds, h = 200, 3, 7
    fc = np.repeat(rng.uniform(1, 10, size=(n, 1, 1)), folds, axis=1).repeat(h, axis=2)
    actual = rng.poisson(fc).astype(float)
    sample = pd.DataFrame({"unit": ["C/smooth"] * n, "demand_class": ["smooth"] * n})
    level = fc[:, :, 0]
    cal = fit_calibration(sample, {"m": fc}, actual, actual, level, ForecastSettings(horizon=7))
    new = rng.poisson(fc[:, 0]).astype(float)
    pools = sample.assign(model="m")
    p90 = daily_quantiles(cal, pools, fc[:, 0], level[:, 0])[0.9]
    assert 0.86 <= (new <= p90).mean() <= 0.95


def test_small_unit_borrows_its_demand_class_choice():
    from restock.forecasting.selection import select_models

    rng = np.random.default_rng(0)
    rows = []
    # big unit A/smooth: auto_ets clearly best on 30 series
    for pos in range(30):
        for model, score in (("seasonal_naive", 1.0), ("moving_average", 0.9), ("auto_ets", 0.7)):
            rows.append(("A/smooth", "A", "smooth", pos, model, score + rng.normal(0, 0.01)))
    # tiny unit B/smooth: 2 series where moving_average happens to win
    for pos in (30, 31):
        for model, score in (("seasonal_naive", 1.0), ("moving_average", 0.6), ("auto_ets", 0.8)):
            rows.append(("B/smooth", "B", "smooth", pos, model, score))
    scores = pd.DataFrame(rows, columns=["unit", "category", "demand_class", "pos", "model",
                                         "rmsse"])
    scores["err"] = 0.0
    scores["actual_sum"] = 10.0
    units = pd.DataFrame({"unit": ["A/smooth", "B/smooth"], "category": ["A", "B"],
                          "demand_class": ["smooth", "smooth"], "n_series": [30, 2],
                          "sample_size": [30, 2]})
    sel = select_models(scores, units, ForecastSettings(min_unit_sample=10), folds=1).set_index(
        "unit")
    assert sel.loc["A/smooth", "selected_model"] == "auto_ets"
    assert sel.loc["B/smooth", "selected_model"] == "auto_ets"  # pooled over 32 series
    assert sel.loc["B/smooth", "reason"].startswith("Only 2 items")
    own = select_models(scores, units, ForecastSettings(min_unit_sample=1), folds=1)
    assert own.set_index("unit").loc["B/smooth", "selected_model"] == "moving_average"


# --- combination members and ties -------------------------------------------------------------
def _one_series(**levels: float) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Constant forecasts (1 series x 1 fold x 4 days) against an actual of 1 a day, scale 1."""
    forecasts = {m: np.full((1, 1, 4), v) for m, v in levels.items()}
    return forecasts, np.ones((1, 1, 4)), np.ones((1, 1))


def test_mean_rmsse_scores_the_equal_weight_mean():
    from restock.forecasting.combination import mean_rmsse

    fc, actual, scale = _one_series(auto_ets=1.2, tsb=0.75)
    pos = np.array([0])
    assert mean_rmsse(fc, ["auto_ets"], pos, actual, scale) == pytest.approx(0.2)
    # mean forecast 0.975: error 0.025 every day
    assert mean_rmsse(fc, ["auto_ets", "tsb"], pos, actual, scale) == pytest.approx(0.025)


def test_forward_selection_adds_the_member_that_offsets_errors_not_the_runner_up():
    from restock.forecasting.combination import forward_members, mean_rmsse

    # singles: auto_ets 0.20, moving_average 0.21 (a near-copy), tsb 0.30 (errs the other way)
    fc, actual, scale = _one_series(auto_ets=1.2, moving_average=1.21, tsb=0.7)
    pos = np.array([0])

    def score(members: list[str]) -> float:
        return mean_rmsse(fc, members, pos, actual, scale)

    ranked = ["auto_ets", "moving_average", "tsb"]
    # size 2: auto_ets+tsb (mean 0.95, 0.05) beats auto_ets+moving_average (1.205, 0.205)
    assert forward_members(ranked, score, 2) == ["auto_ets", "tsb"]
    # size 3: adding moving_average gives mean 1.0367 (0.0367 < 0.05), so it joins
    assert forward_members(ranked, score, 3) == ["auto_ets", "tsb", "moving_average"]
    # a third member that does not lower the score stays out: tsb at 0.8 makes auto_ets+tsb
    # exact (mean 1.0), and nothing added to it can improve
    fc["tsb"][:] = 0.8
    assert forward_members(ranked, score, 3) == ["auto_ets", "tsb"]
    assert forward_members(["auto_ets"], score, 3) == []


def test_choose_members_uses_forward_selection_with_the_backtest_forecasts():
    from restock.forecasting.combination import choose_members

    fc, actual, scale = _one_series(auto_ets=1.2, moving_average=1.21, tsb=0.7,
                                    seasonal_naive=1.0)
    scores = pd.DataFrame({"pos": 0, "fold": 1,
                           "model": ["auto_ets", "moving_average", "tsb", "seasonal_naive"],
                           "rmsse": [0.2, 0.21, 0.3, 0.0]})
    sample = pd.DataFrame({"unit": ["A/smooth"], "demand_class": ["smooth"]})
    settings = ForecastSettings(combination_size=2, min_unit_sample=1)
    cands = ["seasonal_naive", "moving_average", "auto_ets", "tsb", "combination"]
    # without forecasts: the two best by score; seasonal naive never a member
    assert choose_members(scores, sample, cands, "A/smooth", settings) == [
        "auto_ets", "moving_average"]
    assert choose_members(scores, sample, cands, "A/smooth", settings, fc, actual,
                          scale) == ["auto_ets", "tsb"]


def test_a_tied_combination_wins_unless_a_single_model_is_reliably_better():
    combo = "combination(auto_ets+tsb)"
    table = pd.DataFrame({"model": ["auto_ets", "moving_average", combo, "seasonal_naive"],
                          "score": [0.800, 0.806, 0.803, 0.95], "bias": 0.0})
    assert choose(table, 0.01, combination_first=True) == (combo, "auto_ets", True)
    assert choose(table, 0.01)[0] == "moving_average"  # old rule: simplest, combination last
    # outside the margin the best single model still wins
    table.loc[table["model"] == combo, "score"] = 0.82
    assert choose(table, 0.01, combination_first=True)[0] == "moving_average"
    # inside the margin, but auto_ets beats the combination on every series: not a tie
    n = 100
    base = np.linspace(0.5, 1.1, n)
    paired = pd.DataFrame({
        "pos": np.tile(np.arange(n), 2), "fold": 1,
        "model": np.repeat(["auto_ets", combo], n),
        "rmsse": np.concatenate([base, base * 1.004]),
    })
    table = paired.groupby("model")["rmsse"].mean().rename("score").reset_index()
    table["bias"] = 0.0
    assert choose(table, 0.01, paired, 2.0, combination_first=True)[0] == "auto_ets"
    assert choose(table, 0.01, combination_first=True)[0] == combo


def test_dispersion_scale_sizes_each_series_cumulative_quantile_by_its_own_spread():
    """A pool of count series and wholesale series of the same mean (2 a day; 40-unit orders on
    5% of days): scaled by sqrt(level x k) one pooled tail is too wide for the first and too
    narrow for the second; with each series' index of dispersion both cover about as asked."""
    from restock.forecasting.calibration import spread_index

    def draw(rng, days):
        count = rng.poisson(2.0, size=(150, days)).astype(float)
        orders = np.where(rng.random((50, days)) < 0.05, 40.0, 0.0)
        return np.vstack([count, orders])

    rng = np.random.default_rng(3)
    folds, h = 3, 14
    spread = spread_index(draw(rng, 364), 363)
    assert np.median(spread[:150]) < 1.3 and np.median(spread[150:]) > 30
    actual = np.stack([draw(rng, h) for _ in range(folds)], axis=1)
    fc, level = np.full((200, folds, h), 2.0), np.full((200, folds), 2.0)
    sample = pd.DataFrame({"unit": ["C/lumpy"] * 200, "demand_class": ["lumpy"] * 200})
    totals = np.stack([draw(rng, h).sum(axis=1) for _ in range(200)], axis=1)
    coverage = {}
    for name, by_fold in (("count", None), ("dispersion", np.repeat(spread[:, None], 3, 1))):
        cal = fit_calibration(sample, {"m": fc}, actual, actual, level,
                              ForecastSettings(horizon=h), spread=by_fold)
        cum = cumulative_quantiles(cal, sample.assign(model="m"), fc[:, 0], level[:, 0],
                                   None if by_fold is None else spread)
        p95 = cum[:, h - 1, list(cal.cumulative_levels).index(0.95)]
        covered = (totals <= p95[:, None]).mean(axis=1)
        coverage[name] = (covered[:150].mean(), covered[150:].mean())
    assert coverage["count"][0] > 0.98 and coverage["count"][1] < 0.88
    assert 0.93 <= coverage["dispersion"][0] <= 0.98
    assert 0.93 <= coverage["dispersion"][1] <= 0.99


def test_history_cap_is_the_largest_k_day_total_or_the_forecast_times_the_multiple():
    nan = np.nan
    # a: two orders of 10 three days apart; b: launched two days before the end (NaN before)
    history = np.array([[0, 10, 0, 0, 10, 0, 0, 0, 0, 0],
                        [nan, nan, nan, nan, nan, nan, nan, nan, 4, 2]], dtype=float)
    forecast = np.array([[0.5] * 5, [3.0] * 5])
    cap = history_cap(history, 9, forecast, 3.0)
    # a's largest 1..3-day totals are 10, 4 days and more hold both orders: 20
    assert cap[0].tolist() == [30.0, 30.0, 30.0, 60.0, 60.0]
    # b: 4 on its best day, 6 over its two days; from k = 3 its forecast total (9, 12, 15) leads
    assert cap[1].tolist() == [12.0, 18.0, 27.0, 36.0, 45.0]
    # only the history up to ``end`` counts (no peeking in the replay)
    assert history_cap(history, 3, forecast, 3.0)[0].tolist() == [30.0] * 5


def test_cumulative_quantiles_never_exceed_the_cap_and_stay_ordered():
    rng = np.random.default_rng(3)
    n, folds, h = 60, 3, 14
    # a pool where a few series sell in huge orders: their errors make a wide tail
    fc = np.repeat(rng.uniform(0.5, 3, size=(n, 1, 1)), folds, axis=1).repeat(h, axis=2)
    actual = rng.poisson(fc).astype(float)
    actual[:6, :, 3] += 500.0
    sample = pd.DataFrame({"unit": ["C/lumpy"] * n, "demand_class": ["lumpy"] * n})
    level = fc[:, :, 0]
    cal = fit_calibration(sample, {"m": fc}, actual, actual, level, ForecastSettings(horizon=h))
    pools = sample.assign(model="m")
    history = rng.poisson(fc[:, 0, :1], size=(n, 200)).astype(float)
    cap = history_cap(history, 199, fc[:, 0], 3.0)
    free = cumulative_quantiles(cal, pools, fc[:, 0], level[:, 0])
    held = cumulative_quantiles(cal, pools, fc[:, 0], level[:, 0], cap=cap)
    assert (free[:, :, -1] > cap).any()  # the pool's tail went over what these series ever did
    assert (held <= cap[:, :, None] + 1e-9).all()
    assert (held <= free + 1e-9).all()
    assert (np.diff(held, axis=1) >= -1e-12).all() and (np.diff(held, axis=2) >= -1e-12).all()
    # where the cap does not bind, nothing changes
    loose = cumulative_quantiles(cal, pools, fc[:, 0], level[:, 0], cap=cap * 1e6)
    assert np.array_equal(loose, free)


def test_a_runaway_forecast_is_replaced_by_the_capped_moving_average():
    from restock.forecasting.final import IMPLAUSIBLE_FALLBACK, replace_implausible

    dates = pd.date_range("2024-01-01", periods=120, freq="D")
    rng = np.random.default_rng(5)
    rows = []
    for sku, units in (("steady", rng.poisson(5, 120)), ("spiky", rng.poisson(2, 120))):
        rows += [{"sku": sku, "location": "S", "category": "C", "date": d, "units_sold": float(u)}
                 for d, u in zip(dates, units, strict=True)]
    settings = ForecastSettings(horizon=14)
    panel = build_panel(pd.DataFrame(rows), dates[-1], settings)
    end = panel.day_index(dates[-1])
    order = panel.series["sku"].tolist()
    spiky, steady = order.index("spiky"), order.index("steady")
    models = np.array(["auto_ets", "auto_ets"], dtype=object)
    forecast = np.zeros((2, 14))
    forecast[steady] = 5.0
    forecast[spiky] = 60.0  # a trend ran away to 60 a day
    replaced = replace_implausible(panel, end, models, forecast, np.ones(2, dtype=bool), settings,
                                   train=np.arange(2))
    assert replaced.tolist() == [i == spiky for i in range(2)]
    assert models[spiky] == IMPLAUSIBLE_FALLBACK and models[steady] == "auto_ets"
    assert forecast[steady].tolist() == [5.0] * 14  # a plausible forecast is kept as it was
    sold = panel.sales[spiky, : end + 1]
    assert forecast[spiky].sum() <= sold[-28:].sum() / 28 * 14 + 1e-9  # its 28-day average
    assert forecast[spiky].min() > 0


def test_a_dormant_series_loses_the_half_year_floor_of_its_level_a_slow_mover_keeps_it():
    from restock.forecasting.backtest import series_level

    days, nan = 200, np.nan
    history = np.zeros((4, days))
    history[0, 0:100:10] = 5.0  # ten sales 10 days apart, then 109 days without: dormant
    history[1, 0::20] = 5.0  # every 20 days, the last 19 days ago: a slow mover
    history[2, :150] = nan  # launched 50 days ago, three sales, the last 29 days ago
    history[2, [150, 160, 170]] = 4.0
    history[3, 10] = 500.0  # one order in 200 days: its rhythm is unknown, not dormant
    end = days - 1
    off = series_level(history, end)
    on = series_level(history, end, dormant_intervals=3.0)
    recent = np.nan_to_num(np.nanmean(history[:, -28:], axis=1))
    # without the rule each keeps the larger of its 28-day mean and half its window mean
    assert off == pytest.approx(np.maximum(np.maximum(recent, 0.5 * np.nanmean(history, axis=1)),
                                           0.01))
    assert off[0] == pytest.approx(0.125)
    # the dormant series falls to its 28-day mean (none: the 0.01 floor)
    assert on[0] == pytest.approx(0.01)
    # 19 days since a sale every 20; 29 days since sales every ~17 days in 50 (3 intervals:
    # 50); a single order: each keeps its level
    assert on[1:] == pytest.approx(off[1:])
    # switched off by the setting's 0
    assert ForecastSettings().dormant_after_intervals == 0  # off by default
    assert series_level(history, end,
                        dormant_intervals=ForecastSettings().dormant_after_intervals) == \
        pytest.approx(off)
