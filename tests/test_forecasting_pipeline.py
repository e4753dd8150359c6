"""End to end: run_forecasting and the replay planner on a small synthetic chain."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from restock.contract import PUBLISHED_TABLES
from restock.forecasting import ForecastSettings, make_replay_planner, run_forecasting
from restock.forecasting.coldstart import COLD_START_MODELS

CANDIDATES = ["seasonal_naive", "moving_average", "auto_ets", "croston_sba", "tsb", "imapa"]


def synthetic_demand(days: int = 300, seed: int = 0) -> pd.DataFrame:
    """30 series: smooth FOOD, intermittent TOYS, lumpy HOME, one cold start in each, and
    stock-outs on some FOOD days (sales cut, flagged censored)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2023-01-01", periods=days)
    weekly = np.array([1.0, 0.9, 0.9, 1.0, 1.2, 1.5, 1.3])[dates.weekday]
    frames = []
    for category in ("FOOD", "TOYS", "HOME"):
        for j in range(10):
            if category == "FOOD":
                demand = rng.poisson(rng.uniform(3, 20) * weekly)
            elif category == "TOYS":
                demand = rng.binomial(1, 0.15, days) * np.maximum(rng.poisson(2, days), 1)
            else:
                demand = rng.binomial(1, 0.2, days) * rng.geometric(0.2, days)
            demand = demand.astype(float)
            demand[0] = max(demand[0], 1.0)  # the spine starts at the first sale
            sales = demand.copy()
            censored = np.zeros(days, dtype=bool)
            if category == "FOOD":
                censored = rng.random(days) < 0.05
                sales[censored] = np.floor(sales[censored] * 0.3)
            start = days - 45 if j == 9 else 0  # the last item of each category is new
            frames.append(pd.DataFrame({
                "sku": f"{category}_{j}", "location": "S1", "category": category,
                "date": dates[start:], "units_sold": sales[start:],
                "is_censored": censored[start:], "true_demand": demand[start:],
            }))
    frame = pd.concat(frames, ignore_index=True)
    frame["units_returned"] = 0.0
    frame["on_hand"] = np.where(frame["is_censored"], 0.0, 5.0)
    frame["stockout_hours"] = np.nan
    frame["promo"] = False
    frame["discount_pct"] = np.nan
    frame["unit_price"] = 2.5
    frame["n_customers"] = pd.NA
    frame["is_event"] = False
    return frame


@pytest.fixture(scope="module")
def demand() -> pd.DataFrame:
    return synthetic_demand()


@pytest.fixture(scope="module")
def settings() -> ForecastSettings:
    return ForecastSettings(candidates=CANDIDATES, folds=3, step_days=14, horizon=21,
                            min_history_days=56, sample_per_unit=20)


@pytest.fixture(scope="module")
def result(demand, settings):
    history = demand[demand["date"] <= demand["date"].max() - pd.Timedelta(days=21)]
    return run_forecasting(history.drop(columns="true_demand"), history["date"].max(), settings)


def test_contract_columns_present(result):
    for table in ("backtest_metrics", "model_selection", "demand_forecasts"):
        frame = getattr(result, table)
        missing = set(PUBLISHED_TABLES[table]) - set(frame.columns)
        assert not missing, f"{table} lacks {missing}"
        assert len(frame) > 0
    assert {"demand_class", "sample_size"} <= set(result.backtest_metrics.columns)
    assert {"n_series", "sample_size"} <= set(result.model_selection.columns)


def test_forecasts_finite_non_negative_and_ordered(result, settings):
    fc = result.demand_forecasts
    assert len(fc) == 30 * settings.horizon
    values = fc[["forecast", "p50", "p90", "p95", "p99"]].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    assert (fc["p90"] >= fc["p50"]).all() and (fc["p99"] >= fc["p95"]).all()
    assert (fc["p95"] >= fc["p90"]).all()


def test_units_and_selection(result):
    sel = result.model_selection
    units = set(zip(sel["category"], sel["demand_class"], strict=True))
    assert ("FOOD", "smooth") in units
    food = sel[(sel["category"] == "FOOD") & (sel["demand_class"] == "smooth")].iloc[0]
    assert food["selected_model"] in {"seasonal_naive", "moving_average", "auto_ets"}
    assert food["value_added"] == pytest.approx(1 - food["score"] / food["naive_score"])
    assert isinstance(food["reason"], str) and len(food["reason"]) > 20
    slow = sel[sel["category"].isin(["TOYS", "HOME"]) & (sel["sample_size"] > 0)]
    assert not slow["selected_model"].isin(["auto_ets"]).any()  # not a candidate there


def test_cold_start_flagged_and_forecast(result):
    assign = result.series_assignments
    cold = assign[assign["is_cold_start"]]
    assert set(cold["sku"]) == {"FOOD_9", "TOYS_9", "HOME_9"}
    # the cold-start forecaster its category's pooled young-series backtest chose
    assert cold["model"].isin(COLD_START_MODELS).all()
    fc = result.demand_forecasts
    new_food = fc[fc["sku"] == "FOOD_9"]
    assert new_food["is_cold_start"].all() and (new_food["forecast"] > 0).all()


def test_select_and_calibrate_matches_run_forecasting(result, demand, settings):
    """The planner's shortcut (no final forecasts) selects and calibrates exactly as the run."""
    from restock.forecasting.nightly import select_and_calibrate

    history = demand[demand["date"] <= demand["date"].max() - pd.Timedelta(days=21)]
    selection, calibration = select_and_calibrate(
        history.drop(columns="true_demand"), history["date"].max(), settings)
    pd.testing.assert_frame_equal(selection, result.model_selection)
    assert calibration.cumulative.keys() == result.calibration.cumulative.keys()
    for key, table in result.calibration.cumulative.items():
        np.testing.assert_array_equal(calibration.cumulative[key], table)
    for key, table in result.calibration.daily.items():
        np.testing.assert_array_equal(calibration.daily[key], table)


def test_cumulative_quantiles_monotone(result, settings):
    cq = result.cumulative_quantiles
    assert set(cq["horizon_days"]) == set(range(1, settings.horizon + 1))
    assert set(cq["level"]) == {0.0, *settings.cumulative_levels}
    quant = cq[cq["level"] > 0].sort_values(["sku", "location", "level", "horizon_days"])
    steps = quant.groupby(["sku", "level"])["quantity"].diff().dropna()
    assert (steps >= -1e-9).all()
    by_level = cq[cq["level"] > 0].sort_values(["sku", "horizon_days", "level"])
    assert (by_level.groupby(["sku", "horizon_days"])["quantity"].diff().dropna() >= -1e-9).all()


def test_backtest_tables(result, settings):
    bm = result.backtest_metrics
    assert set(bm["fold"]) == {1, 2, 3}
    assert (bm["horizon"] == settings.horizon).all()
    assert bm["coverage_p90"].between(0, 1).all()
    preds = result.backtest_predictions
    assert {"sku", "model", "fold", "cutoff", "date", "forecast", "p50", "p90", "actual",
            "is_censored"} <= set(preds.columns)
    assert preds["is_censored"].any()  # FOOD stock-outs reach the table, flagged


def test_p90_covers_true_demand(result, demand):
    """Out-of-sample: the 21 days after as_of, against the true (uncensored) demand."""
    fc = result.demand_forecasts.merge(demand[["sku", "date", "true_demand"]],
                                       on=["sku", "date"])
    warm = fc[~fc["is_cold_start"]]
    coverage = (warm["true_demand"] <= warm["p90"]).mean()
    assert 0.8 <= coverage <= 0.98


def test_replay_planner_uses_only_past_demand(result, demand, settings):
    planner_demand = demand.drop(columns="true_demand")
    start = demand["date"].max() - pd.Timedelta(days=42)
    planner = make_replay_planner(planner_demand, start, settings,
                                  selection=result.model_selection,
                                  calibration=result.calibration)
    t = start + pd.Timedelta(days=7)
    plan = planner(t)
    assert plan.daily["date"].min() == t + pd.Timedelta(days=1)
    assert np.isfinite(plan.daily["forecast"]).all() and (plan.daily["forecast"] >= 0).all()
    assert set(plan.cumulative.columns) >= {"sku", "location", "horizon_days", "level",
                                            "quantity"}
    # changing demand after t must not change the plan made at t
    altered = planner_demand.copy()
    altered.loc[altered["date"] > t, "units_sold"] *= 10
    again = make_replay_planner(altered, start, settings, selection=result.model_selection,
                                calibration=result.calibration)(t)
    np.testing.assert_allclose(again.daily["forecast"].to_numpy(),
                               plan.daily["forecast"].to_numpy())
    # but demand up to t does
    later = planner(t + pd.Timedelta(days=7))
    assert not np.allclose(later.daily["forecast"].to_numpy()[:50],
                           plan.daily["forecast"].to_numpy()[:50])


def test_replay_planner_updates_the_global_model_without_look_ahead(result, demand, settings,
                                                                     caplog):
    pytest.importorskip("restock.forecasting.global_model")
    planner_demand = demand.drop(columns="true_demand")
    selection = result.model_selection.copy()
    selection.loc[selection["category"] == "FOOD", "selected_model"] = "lightgbm_global"
    start = demand["date"].max() - pd.Timedelta(days=42)
    t = start + pd.Timedelta(days=14)
    plans = []
    for frame in (planner_demand, planner_demand.assign(
            units_sold=np.where(planner_demand["date"] > t, 0.0, planner_demand["units_sold"]))):
        planner = make_replay_planner(frame, start, settings, selection=selection,
                                      calibration=result.calibration)
        with caplog.at_level("WARNING", logger="restock.forecasting"):
            plans.append(planner(t).daily)
    assert "refitting" not in caplog.text and "refitted per review" not in caplog.text
    food = plans[0][plans[0]["model"] == "lightgbm_global"]
    assert len(food) > 0 and np.isfinite(food["forecast"]).all()
    np.testing.assert_allclose(plans[0]["forecast"].to_numpy(), plans[1]["forecast"].to_numpy())


def _planner_selecting(name, result, planner_demand, start, settings):
    """The replay planner with ``name`` selected for category FOOD (the rest as backtested)."""
    selection = result.model_selection.copy()
    selection.loc[selection["category"] == "FOOD", "selected_model"] = name
    return make_replay_planner(planner_demand, start, settings, selection=selection,
                               calibration=result.calibration)


def _replay_window(demand):
    """(the planner's demand, the replay start 42 days before the end, a review 14 days in)."""
    start = demand["date"].max() - pd.Timedelta(days=42)
    return demand.drop(columns="true_demand"), start, start + pd.Timedelta(days=14)


def _assert_combination_is_the_mean(plans, combo, *members):
    """The combination's series forecast the mean of its members' own plans."""
    food = plans[combo]["model"] == combo
    assert food.sum() > 0
    expected = sum(plans[m].loc[food, "forecast"] for m in members) / len(members)
    np.testing.assert_allclose(plans[combo].loc[food, "forecast"], expected, rtol=1e-9)


def test_replay_planner_combination_uses_the_fitted_global_member(result, demand, settings,
                                                                  caplog):
    pytest.importorskip("restock.forecasting.global_model")
    combo = "combination(lightgbm_global+moving_average)"
    planner_demand, start, t = _replay_window(demand)
    plans = {}
    for name in (combo, "lightgbm_global", "moving_average"):
        planner = _planner_selecting(name, result, planner_demand, start, settings)
        with caplog.at_level("INFO", logger="restock.forecasting"):
            caplog.clear()
            plans[name] = planner(t).daily.set_index(["sku", "date"])
        if name == combo:
            # the member comes from the once-fitted model, not a per-review refit on the
            # combination's few series
            assert not any("lightgbm_global: fitted" in r.getMessage() for r in caplog.records)
    _assert_combination_is_the_mean(plans, combo, "lightgbm_global", "moving_average")


def test_replay_planner_forwards_a_combinations_costly_member(result, demand, settings,
                                                              monkeypatch):
    # combination(auto_ets+moving_average): auto_ets is fitted once at the replay start and
    # forwarded at each review, as when auto_ets itself is selected, not refitted per review.
    from restock.forecasting import final as final_module

    combo = "combination(auto_ets+moving_average)"
    planner_demand, start, t = _replay_window(demand)
    plans = {}
    for name in (combo, "auto_ets", "moving_average"):
        planner = _planner_selecting(name, result, planner_demand, start, settings)
        if name == combo:
            assert planner._member_fitted.get("auto_ets")
            real = final_module.forecast_panel

            def no_ets(panel, rows, end, models, *args, **kwargs):
                assert "auto_ets" not in models, "auto_ets refitted at a review"
                return real(panel, rows, end, models, *args, **kwargs)

            monkeypatch.setattr(final_module, "forecast_panel", no_ets)
        plans[name] = planner(t).daily.set_index(["sku", "date"])
        monkeypatch.undo()
    _assert_combination_is_the_mean(plans, combo, "auto_ets", "moving_average")


# --- forecast combination -------------------------------------------------------------------

COMBO_CANDIDATES = [*CANDIDATES, "combination"]


@pytest.fixture(scope="module")
def combo_backtest(demand, settings):
    from restock.forecasting.backtest import run_backtest
    from restock.forecasting.censoring import build_panel
    from restock.forecasting.classify import assign_series
    from restock.forecasting.models import candidates_for_unit

    combo = settings.model_copy(update={"candidates": COMBO_CANDIDATES})
    history = demand[demand["date"] <= demand["date"].max() - pd.Timedelta(days=21)]
    history = history.drop(columns="true_demand")
    as_of = history["date"].max()
    panel = build_panel(history, as_of, combo)
    assignments = assign_series(panel, panel.day_index(as_of), combo)
    units = assignments.groupby("unit").agg(demand_class=("demand_class", "first"),
                                            n=("series_id", "size"))
    cands = {u: candidates_for_unit(combo.candidates, r.demand_class, r.n, combo)
             for u, r in units.iterrows()}
    return panel, combo, run_backtest(panel, assignments, combo, cands)


def scored_rmsse(panel, bt, settings, pos, f, fc):
    """RMSSE of forecasts ``fc`` of sample positions ``pos`` in fold ``f`` (backtest scale)."""
    from restock.forecasting import metrics

    end = panel.day_index(bt.cutoffs[f])
    rows = bt.sample["row"].to_numpy()[pos]
    history = panel.target[rows, max(0, end + 1 - settings.train_window_days) : end + 1]
    return metrics.rmsse(bt.actual[pos, f], fc, metrics.one_step_naive_scale(history))


def test_combination_backtest_score_is_the_score_of_the_averaged_predictions(combo_backtest):
    from restock.forecasting import metrics
    from restock.forecasting.models import combination_members

    panel, combo, bt = combo_backtest
    assert bt.combinations, "every unit has at least two base candidates"
    checked = 0
    for unit, name in bt.combinations.items():
        members = combination_members(name)
        assert 2 <= len(members) <= combo.combination_size and "seasonal_naive" not in members
        assert name in bt.candidates[unit] and "combination" not in bt.candidates[unit]
        pos = np.flatnonzero(bt.sample["unit"].to_numpy() == unit)
        mean = np.mean([bt.forecasts[m][pos] for m in members], axis=0)
        np.testing.assert_allclose(bt.forecasts[name][pos], mean)
        scored = bt.scores[bt.scores["model"] == name].set_index(["pos", "fold"])["rmsse"]
        for f, cutoff in enumerate(bt.cutoffs):
            end = panel.day_index(cutoff)
            rows = bt.sample["row"].to_numpy()[pos]
            history = panel.target[rows, max(0, end + 1 - combo.train_window_days) : end + 1]
            expected = metrics.rmsse(bt.actual[pos, f], mean[:, f],
                                     metrics.one_step_naive_scale(history))
            got = scored.loc[[(p, f + 1) for p in pos]].to_numpy()
            np.testing.assert_allclose(got, expected, equal_nan=True)
        # members come from forward selection: the best base candidate first, then each
        # added one gives the lowest mean RMSSE of the average with those before it
        # (a small unit chooses on its demand class pooled)
        sel = pos
        if len(pos) < combo.min_unit_sample:
            dc = bt.sample["demand_class"].to_numpy()
            sel = np.flatnonzero(dc == dc[pos[0]])
        base = bt.scores[bt.scores["pos"].isin(sel)
                         & ~bt.scores["model"].str.startswith("combination")
                         & (bt.scores["model"] != "seasonal_naive")]
        if len(sel) >= 2:
            single = base.groupby("model")["rmsse"].mean()
            assert set(members) <= set(single.index)

            def score(ms, sel=sel):
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    fc = np.nanmean([bt.forecasts[m][sel] for m in ms], axis=0)
                r = np.concatenate([
                    scored_rmsse(panel, bt, combo, sel, f, fc[:, f])
                    for f in range(len(bt.cutoffs))])
                return np.nanmean(r)

            # the first member is the best single model; each later one was the best addition
            checked += 1
            chosen = list(members)
            first = min(chosen, key=lambda m: single[m])
            assert single[first] == pytest.approx(single.min())
            rest = [m for m in chosen if m != first]
            so_far = [first]
            while rest:
                options = {m: score(so_far + [m]) for m in single.index if m not in so_far}
                best_next = min(options.values())
                pick = [m for m in rest if options[m] == pytest.approx(best_next)]
                assert pick, (unit, so_far, options)
                so_far.append(pick[0])
                rest.remove(pick[0])
    assert checked, "no unit large enough to check the forward selection"


@pytest.fixture(scope="module")
def combo_result(demand, settings):
    """run_forecasting with every unit forced onto its combination (selection patched)."""
    import restock.forecasting.nightly as pipeline

    original = pipeline.select_models

    def prefer_combination(scores, units, settings, folds):
        out = original(scores, units, settings, folds)
        combos = scores[scores["model"].str.startswith("combination(")]
        name = combos.groupby("unit")["model"].first()
        out["selected_model"] = out["unit"].map(name).fillna(out["selected_model"])
        return out

    combo = settings.model_copy(update={"candidates": COMBO_CANDIDATES})
    history = demand[demand["date"] <= demand["date"].max() - pd.Timedelta(days=21)]
    history = history.drop(columns="true_demand")
    mp = pytest.MonkeyPatch()
    mp.setattr(pipeline, "select_models", prefer_combination)
    try:
        result = run_forecasting(history, history["date"].max(), combo)
    finally:
        mp.undo()
    return history, combo, result


def test_combination_final_forecast_is_the_mean_of_its_members(combo_result):
    from restock.forecasting.censoring import build_panel
    from restock.forecasting.fitting import forecast_panel
    from restock.forecasting.models import combination_members

    history, combo, result = combo_result
    fc = result.demand_forecasts
    named = fc[fc["model"].str.startswith("combination(")]
    assert len(named) > 0
    assert np.isfinite(fc[["forecast", "p50", "p90", "p95", "p99"]].to_numpy()).all()
    assert (fc["p50"] <= fc["p90"] + 1e-9).all() and (fc["p90"] <= fc["p99"] + 1e-9).all()
    as_of = history["date"].max()
    panel = build_panel(history, as_of, combo)
    end = panel.day_index(as_of)
    ids = panel.series["series_id"].to_numpy()
    for name, part in named.groupby("model"):
        members = combination_members(name)
        part = part.sort_values(["sku", "location", "date"])
        sids = (part["sku"] + "|" + part["location"]).unique()
        rows = np.flatnonzero(np.isin(ids, sids))
        rows = rows[np.argsort(ids[rows])]
        base = forecast_panel(panel, rows, end, members, combo, combo.horizon)
        expected = np.mean([base[m] for m in members], axis=0)
        got = part["forecast"].to_numpy().reshape(len(sids), combo.horizon)
        order = np.argsort(sids)
        np.testing.assert_allclose(got[order], expected, rtol=1e-6, atol=1e-9)
    sel = result.model_selection
    chosen = sel[sel["selected_model"].str.startswith("combination(")]
    assert len(chosen)
    from restock.forecasting.selection import plain_name

    text = plain_name(chosen["selected_model"].iloc[0])
    assert text.startswith("the average of") and chosen["selected_model"].iloc[0] in text
    # the calibration has pools of the combination (from its backtest residuals)
    assert any(key[-1 if key[0] == "model" else 2] in set(chosen["selected_model"])
               for key in result.calibration.daily if len(key) > 2)


def test_replay_planner_runs_with_a_combination(combo_result):
    history, combo, result = combo_result
    start = history["date"].max() - pd.Timedelta(days=21)
    planner = make_replay_planner(history, start, combo, selection=result.model_selection,
                                  calibration=result.calibration)
    plan = planner(start + pd.Timedelta(days=7))
    assert plan.daily["model"].str.startswith("combination(").any()
    assert np.isfinite(plan.daily["forecast"]).all() and (plan.daily["forecast"] >= 0).all()


def test_replay_planner_refits_members_only_for_series_too_young_at_the_start(combo_result):
    """A combination's forwardable members are fitted once at the replay start; a series too
    young then (but warm at the review) gets its members fitted at the review, the others are
    forwarded, and the two are stitched back in row order."""
    from restock.forecasting.combination import combine
    from restock.forecasting.final import forecast_selected
    from restock.forecasting.fitting import forecast_panel
    from restock.forecasting.models import combination_members

    history, combo, result = combo_result
    # the *_9 items are first sold 24 days before the history ends: 3 days old at the start
    young = combo.model_copy(update={"min_history_days": 10})
    start = history["date"].max() - pd.Timedelta(days=21)
    planner = make_replay_planner(history, start, young, selection=result.model_selection,
                                  calibration=result.calibration)
    t = start + pd.Timedelta(days=14)  # the *_9 items have 17 days of history here: warm
    end = planner.panel.day_index(t)
    models = planner.assignments["model"].to_numpy()
    new = planner.assignments["sku"].str.endswith("_9").to_numpy()
    checked = 0
    for name in sorted({m for m in models if m.startswith("combination(")}):
        fitted = [m for m in combination_members(name) if m in planner._member_fitted]
        old_rows = np.flatnonzero((models == name) & ~new)
        new_rows = np.flatnonzero((models == name) & new)
        if not fitted or not len(old_rows) or not len(new_rows):
            continue
        rows = np.sort(np.concatenate([old_rows[:2], new_rows]))
        for m in fitted:  # the once-fit knows the old series only
            assert all(int(r) in planner._member_fitted[m] for r in old_rows)
            assert not any(int(r) in planner._member_fitted[m] for r in new_rows)
        picked = np.zeros(planner.panel.n_series, dtype=bool)
        picked[rows] = True
        out = np.zeros((planner.panel.n_series, young.horizon))
        forecast_selected(planner.panel, end, models.copy(), out, picked, young, train=rows,
                          known=planner._known(end, young.horizon, {}), n_jobs=1,
                          log_models=False)
        got = out[rows]
        parts = []
        for m in combination_members(name):
            values = forecast_panel(planner.panel, rows, end, [m], young, young.horizon,
                                    n_jobs=1)[m]
            if m in planner._member_fitted:
                is_old = ~np.isin(rows, new_rows)
                values[is_old] = planner._forward(planner._member_fitted[m], rows[is_old], end,
                                                  young.horizon)
            parts.append(values)
        np.testing.assert_allclose(got, combine(parts), rtol=1e-9, atol=1e-12)
        checked += 1
    assert checked, "no combination unit with both old and too-young series"
    plan = planner(t)
    newest = plan.daily[plan.daily["sku"].str.endswith("_9")]
    assert len(newest) and newest["model"].str.startswith("combination(").any()
    assert np.isfinite(newest["forecast"]).all()
