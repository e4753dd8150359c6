"""The forecasts: model leaderboard, accuracy by horizon and fold, forecast vs actual plots."""

from __future__ import annotations

import numpy as np
import pandas as pd

import restock.report.data as prep
import restock.report.figures as figures
from restock.report.chrome import Page
from restock.report.data import ReportLimits, is_empty, missing_columns
from restock.report.formatting import capped_note, defs, empty, esc, fmt_num, fmt_pct, table


def leaderboard_section(
    metrics: pd.DataFrame, selection: pd.DataFrame, limits: ReportLimits
) -> str:
    parts = [defs([
        ("RMSSE", "root mean squared error scaled by a naive forecast's error on the history; "
                  "below 1 beats naive. The selection score."),
        ("MASE", "mean absolute error scaled the same way."),
        ("WAPE", "total absolute error / total units sold."),
        ("Bias", "(forecast units - actual units) / actual units; above 0 = over-forecast."),
        ("p90 coverage", "share of days with sales at or under the p90 forecast; target 90%."),
        ("Value added", "1 - chosen score / naive score: the share of the naive forecast's error "
                        "the chosen model removes."),
    ])]
    if not is_empty(selection) and not missing_columns(selection, ["category", "selected_model"]):
        parts.append("<h3>Chosen model per category and demand class</h3>")
        rows = []
        for r in selection.head(limits.leaderboard_groups).to_dict("records"):
            rows.append([
                esc(r.get("category")), esc(r.get("demand_class")),
                f'{esc(r.get("selected_model"))}<span class="badge">chosen</span>',
                fmt_pct(r.get("value_added")),
                f'{fmt_num(r.get("score"), 3)} vs {fmt_num(r.get("naive_score"), 3)}',
                f'{esc(r.get("runner_up"))} ({fmt_num(r.get("runner_up_score"), 3)})',
                fmt_num(r.get("n_series")), esc(r.get("reason")),
            ])
        parts.append(table(
            [("category", ""), ("demand class", ""), ("chosen model", ""),
             ("value added", "num"), ("score vs naive", "num"), ("runner-up", ""),
             ("series", "num"), ("reason", "explain")],
            rows, ["selection"] * len(rows),
        ))
        parts.append(capped_note(min(len(selection), limits.leaderboard_groups), len(selection),
                                  "selections"))
    elif is_empty(metrics):
        return empty("No backtest ran this run, so there is no leaderboard.")
    if is_empty(metrics) or missing_columns(metrics, ["category", "model"]):
        parts.append(empty("No backtest metrics this run: the chosen models above could not be "
                           "compared with the alternatives."))
        return "".join(parts)
    leader = prep.mark_chosen(prep.leaderboard(metrics), selection)
    has_class = "demand_class" in leader.columns
    metric_cols = [m for m in prep.METRIC_COLUMNS if m in leader.columns]
    labels = {"rmsse": "RMSSE", "mase": "MASE", "wape": "WAPE", "bias": "bias",
              "pinball_p90": "pinball p90", "coverage_p90": "p90 coverage"}
    categories = list(leader.groupby("category", sort=True, dropna=False))
    for category, group in categories[: limits.leaderboard_groups]:
        parts.append(f"<h3>{esc(category)}: models compared in the backtest</h3>")
        rows, classes = [], []
        sub_groups = group.groupby("demand_class", sort=True, dropna=False) if has_class \
            else [(None, group)]
        for demand_class, sub in sub_groups:
            for i, r in enumerate(sub.to_dict("records")):
                name = esc(r["model"])
                if r["is_chosen"]:
                    name += '<span class="badge">chosen</span>'
                row = [esc(demand_class) if i == 0 else ""] if has_class else []
                row.append(name)
                for m in metric_cols:
                    value = r.get(m)
                    row.append(fmt_pct(value) if m in ("wape", "bias", "coverage_p90")
                               else fmt_num(value, 3))
                row.append(fmt_num(r.get("folds")))
                rows.append(row)
                css = ["chosen" if r["is_chosen"] else "", "group-start" if i == 0 else ""]
                classes.append(" ".join(c for c in css if c))
        headers = ([("demand class", "")] if has_class else []) + [("model", "")]
        headers += [(labels[m], "num") for m in metric_cols] + [("folds", "num")]
        parts.append(table(headers, rows, classes))
    parts.append(capped_note(min(len(categories), limits.leaderboard_groups), len(categories),
                              "categories"))
    return "".join(parts)


def accuracy_section(
    predictions: pd.DataFrame, metrics: pd.DataFrame, selection: pd.DataFrame, page: Page,
    limits: ReportLimits,
) -> str:
    parts = [defs([
        ("WAPE", "total absolute error / total units sold, pooled over the backtested series; "
                 "stock-out days are left out because their sales understate demand."),
        ("Bias", "(forecast - actual) / actual; above 0 = over-forecast (excess stock), "
                 "below 0 = under-forecast (stockouts)."),
        ("Days ahead", "how far after the backtest cutoff the forecast day lies."),
        ("p90 coverage", "share of days at or under the p90 forecast; well calibrated = 90%."),
    ])]
    needed = ["model", "fold", "cutoff", "date", "forecast", "actual"]
    plots = []
    if is_empty(predictions) and is_empty(metrics):
        return empty("No backtest predictions this run, so accuracy by horizon and fold cannot "
                     "be shown.")
    if is_empty(predictions) or missing_columns(predictions, needed):
        parts.append(empty("No backtest predictions this run, so accuracy by horizon and fold "
                           "cannot be shown."))
    else:
        models = prep.most_used_models(predictions, limits.max_models_plotted)
        subset = predictions.loc[predictions["model"].astype(str).isin(models)]
        errors = prep.error_frame(subset, keys=("model", "fold"))
        by_horizon = prep.accuracy_by_horizon(subset, errors)
        by_fold = prep.accuracy_by_fold(subset, errors)
        plots.append(page.figure(figures.horizon_figure(by_horizon, models, "wape"),
                                 "Error grows with the days ahead; flat lines are good."))
        plots.append(page.figure(figures.horizon_figure(by_horizon, models, "bias"),
                                 "Bias near 0 at every horizon means no systematic over/under."))
        plots.append(page.figure(figures.fold_figure(by_fold, models),
                                 "Stable error across folds means the ranking is not luck."))
    if not is_empty(metrics) and "coverage_p90" in metrics.columns and "model" in metrics.columns:
        coverage = prep.coverage_of_selected(prep.leaderboard(metrics), selection)
        if len(coverage):
            plots.append(page.figure(figures.coverage_figure(coverage),
                                     "Green: within 5 points of 90%. Red: bands too narrow "
                                     "(below) or too wide (above)."))
    elif not is_empty(predictions):
        parts.append(empty("No backtest metrics this run, so p90 coverage per category is not "
                           "shown."))
    if plots:
        parts.append(f'<div class="plots">{"".join(plots)}</div>')
    return "".join(parts)


def series_section(
    history: pd.DataFrame, predictions: pd.DataFrame, forecasts: pd.DataFrame,
    selection: pd.DataFrame, products: pd.DataFrame | None, as_of: pd.Timestamp, page: Page,
    limits: ReportLimits,
) -> str:
    has_forecasts = not is_empty(forecasts) and not missing_columns(
        forecasts, ["sku", "location", "date", "forecast", "p50", "p90"])
    has_predictions = not is_empty(predictions) and not missing_columns(
        predictions, ["sku", "location", "model", "fold", "cutoff", "date", "forecast", "actual"])
    if not has_forecasts and not has_predictions:
        return empty("No forecasts and no backtest predictions this run: nothing to plot.")
    per_series, category_default = prep.selected_model_per_series(forecasts, selection)
    picks: list[tuple[str, str, str]] = []  # sku, location, why
    basis = None
    if has_forecasts:
        top, basis = prep.top_value_series(forecasts, products, limits.top_value_series)
        label = f"forecast value at {basis}" if basis else "forecast units"
        for r in top.itertuples(index=False):
            picks.append((str(r.sku), str(r.location),
                          f"Top by {esc(label)}: {fmt_num(r.value)} over the horizon."))
    if has_predictions:
        exclude = {(s, loc) for s, loc, _ in picks}
        worst = prep.worst_series(predictions, per_series, category_default,
                                  limits.worst_series, exclude)
        for r in worst.itertuples(index=False):
            picks.append((str(r.sku), str(r.location),
                          f"Among the largest backtest misses: WAPE {fmt_pct(r.wape, 0)} for "
                          f"{esc(r.model)}."))
    if not picks:
        return empty("No series qualified for plotting.")
    keys = pd.DataFrame(picks, columns=["sku", "location", "why"])
    names = prep.product_names(products)
    hist = _rows_for(history, keys, ["sku", "location", "date", "units_sold", "is_censored"])
    fc = _rows_for(forecasts, keys, ["sku", "location", "date", "forecast", "p50", "p90"]) \
        if has_forecasts else pd.DataFrame()
    bt = _rows_for(predictions, keys, ["sku", "location", "model", "fold", "cutoff", "date",
                                       "forecast", "p50", "p90", "actual"]) \
        if has_predictions else pd.DataFrame()
    model_of = {(str(r.sku), str(r.location)): str(r.model) for r in per_series.itertuples()}
    plots = []
    for sku, location, why in picks:
        model = model_of.get((sku, location))
        s_bt = _one(bt, sku, location)
        if len(s_bt):
            cat = str(s_bt["category"].iloc[0]) if "category" in s_bt else ""
            model = model or category_default.get(cat)
            chosen = s_bt.loc[s_bt["model"].astype(str) == str(model)] if model else s_bt.iloc[:0]
            # Not the forecasting model in the backtest sample: show its best-known stand-in.
            s_bt = chosen if len(chosen) else s_bt.loc[s_bt["model"] == s_bt["model"].iloc[0]]
            model = model if len(chosen) else str(s_bt["model"].iloc[0])
        s_hist = _one(hist, sku, location)
        start = as_of - pd.Timedelta(days=limits.history_tail_days)
        if len(s_bt):
            start = min(start, pd.Timestamp(s_bt["date"].min()) - pd.Timedelta(days=14))
        s_hist = s_hist.loc[s_hist["date"] >= start] if len(s_hist) else s_hist
        title = f"{esc(sku)} @ {esc(location)}"
        if sku in names.index:
            title += f" - {esc(names[sku])}"
        if model:
            title += f" ({esc(model)})"
        note = why if len(s_bt) else why + " Not in the backtest sample."
        plots.append(page.figure(
            figures.series_figure(title, s_hist, s_bt, _one(fc, sku, location), as_of), note))
    intro = (
        "<p>The most valuable SKU-locations, then those the backtest forecast worst. Grey: units "
        "sold (red x: stock-out day, sales below demand). Orange: the backtest forecast made at "
        "each fold's cutoff, with its p50-p90 band. Blue: the forecast from the planning date "
        "on.</p>"
    )
    return intro + defs([
        ("p50-p90 band", "half of the days should land below p50; 9 in 10 below p90."),
    ]) + f'<div class="plots">{"".join(plots)}</div>'


def _rows_for(frame: pd.DataFrame, keys: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Rows of ``frame`` for the plotted series only (big frames are filtered once, here)."""
    if is_empty(frame):
        return pd.DataFrame(columns=columns)
    cols = [c for c in [*columns, "category"] if c in frame.columns]
    # Cheap sku filter first (history can hold millions of rows), exact pairs on the rest.
    out = frame.loc[frame["sku"].astype(str).isin(set(keys["sku"])), cols]
    wanted = {f"{s}\x1f{loc}" for s, loc in zip(keys["sku"], keys["location"], strict=True)}
    pair = out["sku"].astype(str) + "\x1f" + out["location"].astype(str)
    out = out.loc[pair.isin(wanted)].copy()
    out["sku"] = out["sku"].astype(str)
    out["location"] = out["location"].astype(str)
    out["date"] = pd.to_datetime(out["date"])
    for c in ("forecast", "p50", "p90", "actual", "units_sold"):
        if c in out.columns:
            out[c] = pd.to_numeric(out[c], errors="coerce")
        elif c in columns:
            out[c] = np.nan  # e.g. a backtest without quantiles: plot the mean only
    if "is_censored" in columns and "is_censored" not in out.columns:
        out["is_censored"] = False
    return out


def _one(frame: pd.DataFrame, sku: str, location: str) -> pd.DataFrame:
    if frame.empty:
        return frame
    return frame.loc[(frame["sku"] == sku) & (frame["location"] == location)]
