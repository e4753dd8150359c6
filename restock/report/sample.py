"""Synthetic report inputs shaped like the published tables (for tests and the bench).

Deterministic (seeded) and vectorised, so an M5 CA_1-sized input (3,049 SKUs) builds in
seconds. The numbers are plausible, not a model of any real store.

``make_report_inputs`` runs named steps in a fixed order, and the steps that draw from the
generator (series, products, history, forecasts, backtest, reorder lines) must keep that order:
the same seed then gives the same inputs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_MODELS = ("seasonal_naive", "moving_average", "auto_ets", "auto_theta", "croston_sba",
                  "tsb", "imapa", "lightgbm_global")
DEMAND_CLASSES = ("smooth", "erratic", "intermittent", "lumpy")
# Typical error of each candidate relative to the noise (lower = better), so rankings are stable.
_MODEL_SKILL = {"seasonal_naive": 1.0, "moving_average": 0.9, "auto_ets": 0.7, "auto_theta": 0.75,
                "croston_sba": 0.85, "tsb": 0.8, "imapa": 0.82, "lightgbm_global": 0.65}


def make_report_inputs(
    *,
    as_of: str = "2016-05-22",
    n_skus: int = 60,
    locations: tuple[str, ...] = ("CA_1",),
    categories: tuple[str, ...] = ("FOODS", "HOBBIES", "HOUSEHOLD"),
    models: tuple[str, ...] = DEFAULT_MODELS[:4],
    folds: int = 3,
    horizon: int = 28,
    history_days: int = 365,
    backtest_per_unit: int = 150,
    replay_service_levels: tuple[float, ...] = (0.8, 0.9, 0.95, 0.98, 0.99),
    static_buffer_days: tuple[float, ...] = (3, 7, 14, 21, 28),
    hostile_name: str | None = None,
    seed: int = 7,
) -> dict:
    """Keyword arguments for ``build_report`` (without ``out_dir``), synthetic but consistent.

    ``hostile_name`` replaces the SKU id of the most valuable series, to test escaping.
    """
    rng = np.random.default_rng(seed)
    end = pd.Timestamp(as_of)
    series, rate, top = _draw_series(rng, n_skus, locations, categories, hostile_name)
    products = _draw_products(rng, series, top)
    days, lam, units, censored = _draw_history(rng, rate, end, history_days)
    history = _history_table(series, days, units, censored)
    chosen_model, demand_forecasts = _draw_forecasts(rng, series, rate, end, models, horizon)
    predictions = _draw_backtest(rng, series, days, lam, units, censored, end, models, folds,
                                 horizon, backtest_per_unit)
    backtest_metrics = _backtest_metrics(predictions, horizon)
    predictions = predictions.drop(columns="demand_class")
    model_selection = _model_selection(backtest_metrics, series, folds, backtest_per_unit)
    reorder = _draw_reorder_lines(rng, series, rate, top, chosen_model)
    stockout_alerts = _stockout_alerts(reorder, end)
    policy_replay = _policy_replay(rate, len(series), categories, replay_service_levels,
                                   static_buffer_days)
    # replayed by the weekly job two days after the nightly's as_of
    policy_replay = policy_replay.assign(replay_as_of=end.date(),
                                         replayed_at=end + pd.Timedelta(days=2, hours=5))
    headline = _headline(policy_replay)
    data_quality_results = _data_quality_results()

    return {
        "as_of": as_of,
        "run_summary": {
            "feed": "var/demo_feed", "as_of": as_of, "run_id": "run-0001",
            "rows": {"demand_forecasts": len(demand_forecasts),
                     "backtest_metrics": len(backtest_metrics),
                     "model_selection": len(model_selection),
                     "reorder_recommendations": len(reorder),
                     "stockout_alerts": len(stockout_alerts),
                     "policy_replay": len(policy_replay),
                     "data_quality_results": len(data_quality_results)},
            "durations": {"ingest": 3.2, "transform": 11.8, "forecast": 412.5,
                          "replenish": 64.0, "report": 2.1},
            "warnings": ["3 inventory rows had stockout_hours > 24 and were clipped"],
        },
        "backtest_metrics": backtest_metrics,
        "model_selection": model_selection,
        "demand_forecasts": demand_forecasts,
        "history": history,
        "backtest_predictions": predictions,
        "reorder_recommendations": reorder,
        "stockout_alerts": stockout_alerts.reset_index(drop=True),
        "policy_replay": policy_replay,
        "policy_headline": headline,
        "data_quality_results": data_quality_results,
        "products": products,
        "quarantine": _quarantine(),
        **_customer_tables(rng, series, end),
    }


def _draw_series(
    rng: np.random.Generator, n_skus: int, locations: tuple[str, ...],
    categories: tuple[str, ...], hostile_name: str | None,
) -> tuple[pd.DataFrame, np.ndarray, int]:
    """One row per SKU x location with its category and demand class; the daily rate; the top."""
    series = pd.DataFrame(
        [(categories[i % len(categories)], i, loc) for loc in locations for i in range(n_skus)],
        columns=["category", "i", "location"],
    )
    series["sku"] = [f"{c}_{1 + i % 3}_{i:04d}" for c, i in zip(series["category"], series["i"],
                                                                strict=True)]
    n = len(series)
    rate = rng.lognormal(mean=0.2, sigma=1.1, size=n)
    top = int(np.argmax(rate))
    if hostile_name is not None:
        series.loc[series["sku"] == series["sku"].iloc[top], "sku"] = hostile_name
    series["demand_class"] = rng.choice(DEMAND_CLASSES, size=n)
    return series, rate, top


def _draw_products(rng: np.random.Generator, series: pd.DataFrame, top: int) -> pd.DataFrame:
    """The products table; the most valuable series gets the highest unit cost."""
    skus = series["sku"].drop_duplicates()
    products = pd.DataFrame({
        "sku": skus.to_numpy(),
        "category": series.drop_duplicates("sku")["category"].to_numpy(),
        "name": [f"Item {s[-4:]}" for s in skus],
        "unit_cost": np.round(rng.uniform(0.5, 20, size=len(skus)), 2),
    })
    products["unit_price"] = np.round(products["unit_cost"] * 1.4, 2)
    products.loc[products["sku"] == series["sku"].iloc[top], "unit_cost"] = 50.0
    products.loc[products["sku"] == series["sku"].iloc[top], "unit_price"] = 70.0
    return products


def _draw_history(
    rng: np.random.Generator, rate: np.ndarray, end: pd.Timestamp, history_days: int
) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray, np.ndarray]:
    """Days, mean demand, units sold and censored flags (series x day) up to ``end``."""
    # Weekly seasonality, ~2% censored (stock-out) days.
    days = pd.date_range(end - pd.Timedelta(days=history_days - 1), end, freq="D")
    weekly = 1 + 0.3 * np.sin(2 * np.pi * days.dayofweek.to_numpy() / 7)
    lam = rate[:, None] * weekly[None, :]
    units = rng.poisson(lam).astype(float)
    censored = rng.random(units.shape) < 0.02
    return days, lam, units, censored


def _history_table(
    series: pd.DataFrame, days: pd.DatetimeIndex, units: np.ndarray, censored: np.ndarray
) -> pd.DataFrame:
    """History: one row per series x day."""
    return pd.DataFrame({
        "sku": np.repeat(series["sku"].to_numpy(), len(days)),
        "location": np.repeat(series["location"].to_numpy(), len(days)),
        "date": np.tile(days.to_numpy(), len(series)),
        "units_sold": units.ravel(),
        "is_censored": censored.ravel(),
    })


def _draw_forecasts(
    rng: np.random.Generator, series: pd.DataFrame, rate: np.ndarray, end: pd.Timestamp,
    models: tuple[str, ...], horizon: int,
) -> tuple[np.ndarray, pd.DataFrame]:
    """The chosen model per series and its forecasts over the horizon after ``end``."""
    # Quantiles from a Poisson-ish spread.
    n = len(series)
    fdays = pd.date_range(end + pd.Timedelta(days=1), periods=horizon, freq="D")
    fweekly = 1 + 0.3 * np.sin(2 * np.pi * fdays.dayofweek.to_numpy() / 7)
    mean = rate[:, None] * fweekly[None, :]
    chosen_model = rng.choice(models, size=n)
    demand_forecasts = pd.DataFrame({
        "sku": np.repeat(series["sku"].to_numpy(), horizon),
        "location": np.repeat(series["location"].to_numpy(), horizon),
        "date": np.tile(fdays.to_numpy(), n),
        "model": np.repeat(chosen_model, horizon),
        "forecast": mean.ravel(),
        "p50": np.floor(mean).ravel(),
        "p90": (mean + 1.28 * np.sqrt(mean)).ravel(),
        "p95": (mean + 1.64 * np.sqrt(mean)).ravel(),
        "p99": (mean + 2.33 * np.sqrt(mean)).ravel(),
    })
    return chosen_model, demand_forecasts


def _draw_backtest(
    rng: np.random.Generator, series: pd.DataFrame, days: pd.DatetimeIndex, lam: np.ndarray,
    units: np.ndarray, censored: np.ndarray, end: pd.Timestamp, models: tuple[str, ...],
    folds: int, horizon: int, backtest_per_unit: int,
) -> pd.DataFrame:
    """Backtest predictions (with demand_class, for the metrics) on a stratified sample."""
    # A stratified sample per category x demand class, every model, every fold.
    sampled = (
        series.reset_index().groupby(["category", "demand_class"], group_keys=False)
        .head(backtest_per_unit)["index"].to_numpy()
    )
    frames = []
    for fold in range(folds):
        cutoff = end - pd.Timedelta(days=horizon * (folds - fold))
        start = days.get_loc(cutoff) + 1
        idx = np.arange(start, start + horizon)
        actual = units[np.ix_(sampled, idx)]
        lam_f = lam[np.ix_(sampled, idx)]
        for model in models:
            skill = _MODEL_SKILL.get(model, 0.9)
            noise = rng.normal(0, skill * np.sqrt(lam_f) + 0.05, size=actual.shape)
            fc = np.clip(lam_f * (1 + 0.05 * (skill - 0.8)) + noise, 0, None)
            frames.append(pd.DataFrame({
                "sku": np.repeat(series["sku"].to_numpy()[sampled], horizon),
                "location": np.repeat(series["location"].to_numpy()[sampled], horizon),
                "category": np.repeat(series["category"].to_numpy()[sampled], horizon),
                "demand_class": np.repeat(series["demand_class"].to_numpy()[sampled], horizon),
                "model": model, "fold": fold + 1, "cutoff": cutoff,
                "date": np.tile(days[idx].to_numpy(), len(sampled)),
                "forecast": fc.ravel(), "p50": np.floor(fc).ravel(),
                "p90": (fc + 1.28 * np.sqrt(fc + 0.5 * skill)).ravel(),
                "actual": actual.ravel(),
                "is_censored": censored[np.ix_(sampled, idx)].ravel(),
            }))
    return pd.concat(frames, ignore_index=True)


def _backtest_metrics(predictions: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Backtest metrics per category x demand class x model x fold, computed from the sample."""
    p = predictions.assign(
        abs_error=(predictions["forecast"] - predictions["actual"]).abs(),
        sq_error=(predictions["forecast"] - predictions["actual"]) ** 2,
        error=predictions["forecast"] - predictions["actual"],
        covered=(predictions["actual"] <= predictions["p90"]).astype(float),
    )
    g = p.groupby(["category", "demand_class", "model", "fold", "cutoff"], as_index=False).agg(
        n_series=("sku", "nunique"), actual=("actual", "sum"), abs_error=("abs_error", "sum"),
        mse=("sq_error", "mean"), mae=("abs_error", "mean"), error=("error", "sum"),
        coverage_p90=("covered", "mean"), mean_actual=("actual", "mean"),
    )
    scale = np.sqrt(g["mean_actual"].clip(lower=0.1))
    return pd.DataFrame({
        "category": g["category"], "model": g["model"], "fold": g["fold"], "cutoff": g["cutoff"],
        "horizon": horizon, "n_series": g["n_series"],
        "mase": g["mae"] / scale, "rmsse": np.sqrt(g["mse"]) / scale,
        "wape": g["abs_error"] / g["actual"].clip(lower=1),
        "bias": g["error"] / g["actual"].clip(lower=1), "pinball_p90": g["mae"] * 0.4,
        "coverage_p90": g["coverage_p90"], "demand_class": g["demand_class"],
        "sample_size": g["n_series"],
    })


def _model_selection(
    backtest_metrics: pd.DataFrame, series: pd.DataFrame, folds: int, backtest_per_unit: int
) -> pd.DataFrame:
    """The lowest mean RMSSE per category x demand class, with its runner-up and naive score."""
    n = len(series)
    rows = []
    pooled = backtest_metrics.groupby(["category", "demand_class", "model"])["rmsse"].mean()
    for (cat, cls), scores in pooled.groupby(level=[0, 1]):
        ranked = scores.droplevel([0, 1]).sort_values()
        naive = float(ranked.get("seasonal_naive", ranked.iloc[-1]))
        best, runner = ranked.index[0], ranked.index[min(1, len(ranked) - 1)]
        rows.append({
            "category": cat, "demand_class": cls, "selected_model": best,
            "score": float(ranked.iloc[0]), "runner_up": runner,
            "runner_up_score": float(ranked.iloc[min(1, len(ranked) - 1)]),
            "naive_score": naive, "value_added": 1 - float(ranked.iloc[0]) / naive,
            "reason": f"lowest mean RMSSE over {folds} folds; beats {runner} by "
                      f"{ranked.iloc[min(1, len(ranked) - 1)] - ranked.iloc[0]:.3f}",
            "n_series": int((series["category"].eq(cat) & series["demand_class"].eq(cls)).sum()),
            "sample_size": min(backtest_per_unit, n),
        })
    return pd.DataFrame(rows)


def _draw_reorder_lines(
    rng: np.random.Generator, series: pd.DataFrame, rate: np.ndarray, top: int,
    chosen_model: np.ndarray,
) -> pd.DataFrame:
    """Reorder lines: one per series; about half need an order now."""
    n = len(series)
    on_hand = np.round(rate * rng.uniform(0, 20, size=n))
    on_hand[top] = np.round(rate[top] * 2)  # the most valuable series needs an order now
    on_order = np.where(rng.random(n) < 0.2, np.round(rate * 7), 0.0)
    lead = rng.choice([3.0, 5.0, 7.0, 14.0], size=n)
    ltd = rate * (lead + 7)
    safety = 1.65 * np.sqrt(rate * (lead + 7))
    order_up_to = np.ceil(ltd + safety)
    position = on_hand + on_order
    qty = np.where(position < ltd * 0.8 + safety, np.maximum(order_up_to - position, 0), 0.0)
    cover = position / np.maximum(rate, 1e-6)
    prob = np.clip(1 - cover / (lead + 7), 0.01, 0.99)
    return pd.DataFrame({
        "sku": series["sku"], "location": series["location"], "category": series["category"],
        "model": chosen_model, "on_hand": on_hand, "on_order": on_order,
        "inventory_position": position, "lead_time_days": lead, "review_days": 7,
        "lead_time_demand": ltd, "safety_stock": safety, "reorder_point": ltd * 0.8 + safety,
        "order_up_to": order_up_to, "recommended_order_qty": qty, "days_of_cover": cover,
        "stockout_probability": prob, "service_level_target": 0.95,
        # no draws here: the generator's sequence (and every figure after it) stays as it was
        "customers_at_risk": (np.arange(n) % 3 == 0).astype("int64"),
        "revenue_at_risk": np.round(rate * 40.0 * (np.arange(n) % 3 == 0), 2),
        "explanation": [
            f"Position {p:.0f} covers {c:.1f} days; lead time {lt:.0f} d + review 7 d needs "
            f"{d:.0f} units plus {s:.0f} safety stock for 95% service."
            for p, c, lt, d, s in zip(position, cover, lead, ltd, safety, strict=True)
        ],
    })


def _stockout_alerts(reorder: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """An alert for every reorder line more likely than not to run out."""
    prob = reorder["stockout_probability"].to_numpy()
    cover = reorder["days_of_cover"].to_numpy()
    at_risk = reorder.loc[prob > 0.5]
    return pd.DataFrame({
        "sku": at_risk["sku"], "location": at_risk["location"],
        "projected_stockout_date": end + pd.to_timedelta(np.ceil(cover[prob > 0.5]), unit="D"),
        "stockout_probability": at_risk["stockout_probability"],
        "recommended_order_qty": at_risk["recommended_order_qty"],
        "severity": np.select([at_risk["stockout_probability"] > 0.9,
                               at_risk["stockout_probability"] > 0.7], ["critical", "high"],
                              "medium"),
        "customers_at_risk": at_risk["customers_at_risk"],
        "revenue_at_risk": at_risk["revenue_at_risk"],
    })


def _customer_tables(rng: np.random.Generator, series: pd.DataFrame, end: pd.Timestamp,
                     n_customers: int = 40) -> dict:
    """customer_stockout_impact, sku_customer_impact, the hits and the summary row."""
    ids = [f"C{i:04d}" for i in range(n_customers)]
    hits_n = rng.poisson(1.0, size=n_customers)
    hits = []
    for cid, n in zip(ids, hits_n, strict=True):
        for _ in range(n):
            row = series.iloc[int(rng.integers(len(series)))]
            hits.append({"customer_id": cid, "sku": row["sku"], "location": row["location"],
                         "date": end - pd.Timedelta(days=int(rng.integers(0, 90))),
                         "reason": "visit"})
    hits = pd.DataFrame(hits, columns=["customer_id", "sku", "location", "date", "reason"])
    by = hits.groupby("customer_id")
    churn = np.round(rng.uniform(0, 1, size=n_customers), 3)
    customers = pd.DataFrame({
        "customer_id": ids, "location": series["location"].iloc[0],
        "purchases_90d": rng.integers(1, 30, size=n_customers),
        "spend_90d": np.round(rng.gamma(2.0, 150.0, size=n_customers), 2),
        "hits_90d": hits_n,
        "repeat_hit": by["date"].nunique().reindex(ids).fillna(0).to_numpy() >= 2,
        "last_hit_date": pd.to_datetime(by["date"].max().reindex(ids).to_numpy()),
        "items_hit": by["sku"].nunique().reindex(ids).fillna(0).astype(int).to_numpy(),
        "churn_risk": churn, "at_risk": (churn >= 0.5) & (hits_n > 0),
    })
    spend = customers.set_index("customer_id")["spend_90d"]
    pairs = hits[["sku", "location", "customer_id"]].drop_duplicates()
    pairs = pairs.assign(spend=spend.reindex(pairs["customer_id"]).to_numpy())
    g = pairs.groupby(["sku", "location"])
    items = pd.DataFrame({"customers_hit_90d": g.size(),
                          "revenue_at_risk": g["spend"].sum()}).reset_index()
    items.insert(2, "regular_customers", items["customers_hit_90d"] + 2)
    summary = {"note": "", "churn_auc": 0.71, "churn_rate_hit": 0.42,
               "churn_rate_not_hit": 0.25, "churn_n_hit": 120, "churn_n_not_hit": 900,
               "churn_eval_cutoff": end - pd.Timedelta(days=90)}
    return {"customer_stockout_impact": customers, "sku_customer_impact": items,
            "customer_hits": hits, "customer_summary": summary}


def _policy_replay(
    rate: np.ndarray, n: int, categories: tuple[str, ...],
    replay_service_levels: tuple[float, ...], static_buffer_days: tuple[float, ...],
) -> pd.DataFrame:
    """Replay points per category and for ALL: Restock's service levels, static buffers."""
    replay_rows = []
    for cat in (*categories, "ALL"):
        share = 1.0 if cat == "ALL" else 1 / len(categories)
        for sl in replay_service_levels:
            # Same curve shape as the static rule, 40% fewer stockouts at equal inventory.
            b_eq = 2 + 26 * (sl - min(replay_service_levels)) / 0.19
            inv = share * float(rate.sum()) * (2 + b_eq * 0.6)
            replay_rows.append(("recommended", sl, cat, inv, inv * 8, 0.054 * np.exp(-b_eq / 12),
                                1 - 0.025 * np.exp(-b_eq / 12), int(n * share * 10)))
        for b in static_buffer_days:
            inv = share * float(rate.sum()) * (2 + b * 0.6)
            replay_rows.append(("static", b, cat, inv, inv * 8, 0.09 * np.exp(-b / 12),
                                1 - 0.04 * np.exp(-b / 12), int(n * share * 13)))
    frame = pd.DataFrame(replay_rows, columns=[
        "policy", "parameter", "category", "avg_inventory_units", "avg_inventory_value",
        "stockout_rate", "fill_rate", "orders"])
    # units as well as days (no random draw: the other inputs stay as they were)
    frame["demand_units"] = frame["avg_inventory_units"] * 10.0
    frame["lost_units"] = frame["demand_units"] * (1.0 - frame["fill_rate"])
    frame["objective"] = "cycle_service"
    frame["units_transferred"] = 0.0  # no transfer policy in the sample
    return frame


def _headline(policy_replay: pd.DataFrame) -> dict:
    """The headline against the 7-day static buffer over ALL categories."""
    static7 = policy_replay.query("policy == 'static' and parameter == 7 and category == 'ALL'")
    headline = {
        "static_parameter": 7.0,
        "static_avg_inventory": float(static7["avg_inventory_units"].iloc[0]),
        "static_stockout_rate": float(static7["stockout_rate"].iloc[0]),
        "restock_stockout_rate_at_same_inventory": 0.6 * float(static7["stockout_rate"].iloc[0]),
    }
    headline["relative_cut"] = 1 - headline["restock_stockout_rate_at_same_inventory"] / \
        headline["static_stockout_rate"]
    return headline


def _data_quality_results() -> pd.DataFrame:
    """A few passed and failed checks of both severities."""
    return pd.DataFrame([
        ("sales", "sku exists in products", "error", True, 0, "all sales SKUs known"),
        ("sales", "quantity is numeric", "error", True, 0, ""),
        ("sales", "no rows dated after as_of", "warning", False, 12, "12 rows dated after as_of"),
        ("products", "lead_time_days >= 0", "error", True, 0, ""),
        ("inventory", "stockout_hours in 0..24", "warning", False, 3, "3 rows out of range"),
        ("inventory", "on_hand >= 0", "error", False, 1, "1 negative on_hand row quarantined"),
        # Rows as restock.quality.gx_suites writes them for GX expectations.
        ("products", "schema", "error", True, 0, "expect_column_to_exist sku"),
        ("products", "key_unique", "error", True, 0, "expect_column_values_to_be_unique sku"),
        ("inventory", "ranges", "error", False, 2,
         "expect_column_values_to_be_between on_hand: 2 unexpected, e.g. [-4.0, -1.0]"),
        ("sales", "types", "error", False, 3, "expect_column_values_to_be_in_set "
         "castable_quantity: 3 unexpected, e.g. [False, False, False]"),
    ], columns=["source", "check", "severity", "passed", "failed_rows", "detail"])


def _quarantine() -> pd.DataFrame:
    """Quarantined feed rows (the published quarantine table's columns)."""
    loaded = pd.Timestamp("2016-05-22 02:00")
    rows = [("inventory", "negative on_hand", '{"sku": "FOODS_1_0003", "on_hand": "-4"}'),
            ("sales", "quantity not a number", '{"sku": "FOODS_1_0001", "quantity": "n/a"}'),
            ("sales", "quantity not a number", '{"sku": "FOODS_1_0002", "quantity": "?"}')]
    return pd.DataFrame([(*r, loaded) for r in rows],
                        columns=["source", "reason", "row", "loaded_at"])
