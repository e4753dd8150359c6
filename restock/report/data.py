"""Frame preparation for the run report: plain pandas, no plotting, no HTML.

Each function turns one or more published tables into the small frame a section shows, so the
HTML module only formats and the numbers can be tested on their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SEVERITY_ORDER = ("critical", "high", "medium", "warning", "low", "info")


@dataclass(frozen=True)
class ReportLimits:
    """Caps that keep the report small and fast to open on big runs.

    Tables have no cap: every reorder line, alert and check is in the page (paged, searchable
    and downloadable there); the caps are on plots.
    """

    top_value_series: int = 6
    worst_series: int = 6
    history_tail_days: int = 112
    drilldown_history_days: int = 91
    max_models_plotted: int = 10
    leaderboard_groups: int = 40


def is_empty(frame: pd.DataFrame | None) -> bool:
    """True when ``frame`` is missing or has no rows."""
    return frame is None or len(frame) == 0


def missing_columns(frame: pd.DataFrame, columns: tuple[str, ...] | list[str]) -> list[str]:
    """The names in ``columns`` that ``frame`` lacks."""
    return [c for c in columns if c not in frame.columns]


def unit_values(products: pd.DataFrame | None, column: str) -> pd.Series:
    """Per-SKU money value (``unit_cost`` or ``unit_price``) indexed by sku; empty if unknown."""
    if is_empty(products) or "sku" not in products.columns or column not in products.columns:
        return pd.Series(dtype=float)
    values = pd.to_numeric(products[column], errors="coerce")
    out = pd.Series(values.to_numpy(), index=products["sku"].astype(str))
    return out[~out.index.duplicated()].dropna()


def product_names(products: pd.DataFrame | None) -> pd.Series:
    """Product name indexed by sku (empty when products has no names)."""
    if is_empty(products) or "name" not in products.columns or "sku" not in products.columns:
        return pd.Series(dtype=object)
    out = pd.Series(products["name"].to_numpy(), index=products["sku"].astype(str))
    return out[~out.index.duplicated()].dropna()


def _price_for(skus: pd.Series, products: pd.DataFrame | None, prefer: tuple[str, ...]):
    """Unit money value per row of ``skus`` from the first column in ``prefer`` that is known.

    Returns (values, basis) where basis names the column used, or None (values are then 1: the
    ranking falls back to units).
    """
    for column in prefer:
        prices = unit_values(products, column)
        if len(prices) and prices.gt(0).any():
            mapped = skus.astype(str).map(prices)
            return mapped.fillna(0.0).astype(float), column
    return pd.Series(1.0, index=skus.index), None


def stock_unknown(reorder: pd.DataFrame) -> pd.Series:
    """True for lines without inventory data (no quantity can be recommended for them)."""
    if "stock_known" in reorder.columns:
        return ~reorder["stock_known"].fillna(False).astype(bool)
    return pd.to_numeric(reorder.get("on_hand"), errors="coerce").isna() \
        if "on_hand" in reorder.columns else pd.Series(False, index=reorder.index)


def top_orders(
    reorder: pd.DataFrame, products: pd.DataFrame | None, limit: int | None = None
) -> tuple[pd.DataFrame, dict]:
    """Reorder lines with a positive quantity, the most valuable first (all, or ``limit``).

    Value = quantity x unit_cost (else unit_price): what the buyer commits. Returns the capped
    frame (with ``order_value`` and ``product_name``) and totals over all lines to place.
    """
    qty = pd.to_numeric(reorder["recommended_order_qty"], errors="coerce").fillna(0.0)
    lines = reorder.loc[qty > 0].copy()
    lines["recommended_order_qty"] = qty[qty > 0]
    price, basis = _price_for(lines["sku"], products, ("unit_cost", "unit_price"))
    lines["order_value"] = lines["recommended_order_qty"] * price if basis else np.nan
    names = product_names(products)
    lines["product_name"] = lines["sku"].astype(str).map(names) if len(names) else None
    sort_key = "order_value" if basis else "recommended_order_qty"
    lines = lines.sort_values([sort_key, "sku"], ascending=[False, True], kind="mergesort")
    totals = {
        "lines_total": len(reorder),
        "lines_to_place": len(lines),
        "stock_unknown": int(stock_unknown(reorder).sum()),
        "units": float(lines["recommended_order_qty"].sum()),
        "value": float(lines["order_value"].sum()) if basis else None,
        "value_basis": basis,
    }
    return (lines if limit is None else lines.head(limit)), totals


def unknown_stock_lines(
    reorder: pd.DataFrame, products: pd.DataFrame | None, limit: int | None = None
) -> pd.DataFrame:
    """Lines without stock data, largest order-up-to value first: the shelves to count first."""
    lines = reorder.loc[stock_unknown(reorder)].copy()
    level = pd.to_numeric(lines.get("order_up_to"), errors="coerce").fillna(0.0) \
        if "order_up_to" in lines.columns else pd.Series(0.0, index=lines.index)
    price, _ = _price_for(lines["sku"], products, ("unit_cost", "unit_price"))
    lines["_value"] = level * price
    names = product_names(products)
    lines["product_name"] = lines["sku"].astype(str).map(names) if len(names) else None
    lines = lines.sort_values(["_value", "sku"], ascending=[False, True], kind="mergesort")
    lines = lines.drop(columns="_value")
    return lines if limit is None else lines.head(limit)


def sorted_alerts(
    alerts: pd.DataFrame, limit: int | None = None
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Alerts by severity (most severe first), stockout date, probability; plus counts."""
    severity = alerts["severity"].astype(str).str.lower()
    rank = severity.map({s: i for i, s in enumerate(SEVERITY_ORDER)}).fillna(len(SEVERITY_ORDER))
    prob = pd.to_numeric(alerts.get("stockout_probability"), errors="coerce").fillna(0.0)
    when = pd.to_datetime(alerts.get("projected_stockout_date"), errors="coerce")
    # Most severe first, then the soonest stockout, then the likeliest.
    ordered = alerts.assign(_rank=rank, _when=when, _prob=prob).sort_values(
        ["_rank", "_when", "_prob", "sku"], ascending=[True, True, False, True],
        kind="mergesort", na_position="last",
    )
    counts = (
        ordered.assign(_sev=ordered["severity"].astype(str))
        .groupby(["_rank", "_sev"], sort=True)
        .size()
    )
    by_severity = {sev: int(n) for (_, sev), n in counts.items()}
    ordered = ordered.drop(columns=["_rank", "_when", "_prob"])
    return (ordered if limit is None else ordered.head(limit)), by_severity


METRIC_COLUMNS = ("rmsse", "mase", "wape", "bias", "pinball_p90", "coverage_p90")


def leaderboard(backtest_metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per category (x demand class) x model: metrics pooled over folds and horizons.

    Pooled as means weighted by ``n_series`` (each fold row summarises that many series), so a
    fold that scored more series counts more.
    """
    keys = ["category"] + (["demand_class"] if "demand_class" in backtest_metrics.columns else [])
    keys.append("model")
    frame = backtest_metrics.copy()
    if "n_series" in frame.columns:
        frame["_w"] = pd.to_numeric(frame["n_series"], errors="coerce").fillna(1.0).clip(lower=0)
    else:
        frame["_w"] = 1.0
    metrics = [m for m in METRIC_COLUMNS if m in frame.columns]
    sums = {}
    for m in metrics:
        value = pd.to_numeric(frame[m], errors="coerce")
        # Weighted mean over the rows that have the metric: sum(w * m) / sum(w where m known).
        frame[f"_wm_{m}"] = (value * frame["_w"]).where(value.notna())
        frame[f"_w_{m}"] = frame["_w"].where(value.notna())
        sums[f"_wm_{m}"] = "sum"
        sums[f"_w_{m}"] = "sum"
    grouped = frame.groupby(keys, sort=True, dropna=False)
    out = grouped.agg(sums) if sums else grouped.size().to_frame("_n")
    for m in metrics:
        out[m] = out[f"_wm_{m}"] / out[f"_w_{m}"].where(out[f"_w_{m}"] > 0)
    out["folds"] = grouped["fold"].nunique() if "fold" in frame.columns else np.nan
    out = out[[*metrics, "folds"]].reset_index()
    sort = [*keys[:-1], "rmsse" if "rmsse" in out.columns else "model"]
    return out.sort_values(sort, kind="mergesort").reset_index(drop=True)


def error_frame(
    predictions: pd.DataFrame,
    keys: tuple[str, ...] = ("sku", "location", "category", "model", "fold"),
) -> pd.DataFrame:
    """Per prediction row: actual, error, absolute error, days ahead and p90 hit.

    Stock-out (censored) days are left out: their sales understate demand. Only ``keys`` are
    carried along, since copying text columns of a million-row backtest is the costly part.
    """
    forecast = pd.to_numeric(predictions["forecast"], errors="coerce").to_numpy(dtype=float)
    actual = pd.to_numeric(predictions["actual"], errors="coerce").to_numpy(dtype=float)
    keep = np.isfinite(forecast) & np.isfinite(actual)
    if "is_censored" in predictions.columns:
        censored = predictions["is_censored"].fillna(False).to_numpy(dtype=bool)
        # A panel where every day is censored still deserves a number: use all rows then.
        if (keep & ~censored).any():
            keep &= ~censored
    out = predictions.loc[keep, [k for k in keys if k in predictions.columns]]
    days = (pd.to_datetime(predictions["date"]) - pd.to_datetime(predictions["cutoff"])).dt.days
    error = forecast[keep] - actual[keep]
    out = out.assign(actual=actual[keep], error=error, abs_error=np.abs(error),
                     days_ahead=days.to_numpy()[keep])
    if "p90" in predictions.columns:
        p90 = pd.to_numeric(predictions["p90"], errors="coerce").to_numpy(dtype=float)[keep]
        out["covered"] = np.where(np.isfinite(p90), (actual[keep] <= p90).astype(float), np.nan)
    return out


def _pooled(errors: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    agg = errors.groupby(keys, sort=True).agg(
        actual=("actual", "sum"), abs_error=("abs_error", "sum"), error=("error", "sum"),
        rows=("actual", "size"),
        **({"coverage_p90": ("covered", "mean")} if "covered" in errors else {}),
    )
    denom = agg["actual"].where(agg["actual"] > 0)
    agg["wape"] = agg["abs_error"] / denom
    agg["bias"] = agg["error"] / denom
    return agg.reset_index()


def accuracy_by_horizon(predictions: pd.DataFrame, errors: pd.DataFrame | None = None):
    """WAPE, bias and p90 coverage per model x days ahead, pooled over series and folds.

    ``errors``: error_frame(predictions) when the caller already has it.
    """
    return _pooled(error_frame(predictions) if errors is None else errors, ["model", "days_ahead"])


def accuracy_by_fold(predictions: pd.DataFrame, errors: pd.DataFrame | None = None):
    """WAPE, bias and p90 coverage per model x fold, pooled over series and days ahead."""
    return _pooled(error_frame(predictions) if errors is None else errors, ["model", "fold"])


def most_used_models(predictions: pd.DataFrame, limit: int) -> list[str]:
    """Up to ``limit`` models, those with the most prediction rows first (cap on plot lines)."""
    counts = predictions["model"].astype(str).value_counts()
    return sorted(counts.head(limit).index.tolist())


def coverage_of_selected(leader: pd.DataFrame, selection: pd.DataFrame | None) -> pd.DataFrame:
    """p90 coverage of the chosen model per category (x demand class)."""
    if "coverage_p90" not in leader.columns:
        return pd.DataFrame()
    chosen = mark_chosen(leader, selection)
    rows = chosen.loc[chosen["is_chosen"]]
    if rows.empty:
        # No selection table: show the best-RMSSE model of each group instead.
        keys = [c for c in ("category", "demand_class") if c in leader.columns]
        rows = leader.groupby(keys, sort=True, dropna=False).head(1)
    return rows.reset_index(drop=True)


def mark_chosen(leader: pd.DataFrame, selection: pd.DataFrame | None) -> pd.DataFrame:
    """Add ``is_chosen``: the model_selection's selected model of the row's group."""
    out = leader.copy()
    out["is_chosen"] = False
    if is_empty(selection) or missing_columns(selection, ["category", "selected_model"]):
        return out
    by_class = (
        "demand_class" in out.columns
        and "demand_class" in selection.columns
        and set(out["demand_class"].astype(str)) & set(selection["demand_class"].astype(str))
    )
    keys = ["category", "demand_class"] if by_class else ["category"]
    chosen = set(
        zip(*[selection[k].astype(str) for k in keys], selection["selected_model"].astype(str),
            strict=True)
    )
    labels = zip(*[out[k].astype(str) for k in keys], out["model"].astype(str), strict=True)
    out["is_chosen"] = [label in chosen for label in labels]
    return out


def selected_model_per_series(
    forecasts: pd.DataFrame | None, selection: pd.DataFrame | None
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The model that forecasts each series (from demand_forecasts), and a per-category default.

    The per-category default is the model most often selected in that category: series that
    have no forecast row (e.g. inactive) are judged on it.
    """
    per_series = pd.DataFrame(columns=["sku", "location", "model"])
    if not is_empty(forecasts) and not missing_columns(forecasts, ["sku", "location", "model"]):
        per_series = forecasts[["sku", "location", "model"]].drop_duplicates(["sku", "location"])
    default: dict[str, str] = {}
    if not is_empty(selection) and not missing_columns(selection, ["category", "selected_model"]):
        for cat, group in selection.groupby("category"):
            default[str(cat)] = str(group["selected_model"].astype(str).mode().iloc[0])
    return per_series, default


def top_value_series(
    forecasts: pd.DataFrame, products: pd.DataFrame | None, limit: int
) -> tuple[pd.DataFrame, str | None]:
    """The ``limit`` series with the highest forecast value over the horizon.

    Value = forecast units x unit_price (else unit_cost, else units). Returns sku, location,
    value and the basis used.
    """
    units = (
        forecasts.assign(_f=pd.to_numeric(forecasts["forecast"], errors="coerce").fillna(0.0))
        .groupby(["sku", "location"], sort=False)["_f"].sum().reset_index()
    )
    price, basis = _price_for(units["sku"], products, ("unit_price", "unit_cost"))
    units["value"] = units["_f"] * price
    units = units.sort_values(["value", "sku", "location"], ascending=[False, True, True])
    return units.head(limit).drop(columns="_f").reset_index(drop=True), basis


def worst_series(
    predictions: pd.DataFrame,
    per_series_model: pd.DataFrame,
    category_default: dict[str, str],
    limit: int,
    exclude: set[tuple[str, str]],
) -> pd.DataFrame:
    """Series whose selected model missed most in the backtest (highest WAPE).

    Only series selling at least the median volume compete, so a SKU that sold 2 units with a
    forecast of 5 does not crowd out real misses. Returns sku, location, model, wape.
    """
    preds = predictions
    if len(per_series_model):
        preds = preds.merge(
            per_series_model.rename(columns={"model": "_selected"}), on=["sku", "location"],
            how="left",
        )
    else:
        preds = preds.assign(_selected=np.nan)
    fallback = preds["category"].astype(str).map(category_default) if "category" in preds else None
    if fallback is not None:
        preds["_selected"] = preds["_selected"].fillna(fallback)
    preds = preds.loc[preds["model"].astype(str) == preds["_selected"].astype(str)]
    if preds.empty:
        return pd.DataFrame(columns=["sku", "location", "model", "wape"])
    errors = _pooled(error_frame(preds), ["sku", "location", "model"])
    errors = errors.loc[errors["actual"] > 0]
    errors = errors.loc[errors["actual"] >= errors["actual"].median()]
    keys = list(zip(errors["sku"].astype(str), errors["location"].astype(str), strict=True))
    errors = errors.loc[[k not in exclude for k in keys]]
    errors = errors.sort_values(["wape", "sku"], ascending=[False, True])
    return errors.head(limit)[["sku", "location", "model", "wape"]].reset_index(drop=True)


def frontier(
    policy_replay: pd.DataFrame, measure: str | None = None
) -> tuple[pd.DataFrame, str]:
    """Policy replay totals (category ALL) with the inventory axis to plot.

    ``measure`` (the headline's inventory_measure) wins when the table has it; else money
    (avg_inventory_value) when every row has it, else units. When no ``ALL`` rows are present,
    rows are averaged over categories weighted equally.
    """
    frame = policy_replay.copy()
    frame["parameter"] = pd.to_numeric(frame["parameter"], errors="coerce")
    for c in ("avg_inventory_units", "avg_inventory_value", "stockout_rate", "fill_rate"):
        if c in frame.columns:
            frame[c] = pd.to_numeric(frame[c], errors="coerce")
    totals = frame.loc[frame["category"].astype(str).str.upper() == "ALL"]
    if totals.empty:
        totals = frame.groupby(["policy", "parameter"], as_index=False).mean(numeric_only=True)
    value = totals.get("avg_inventory_value")
    if measure in ("avg_inventory_value", "avg_inventory_units") and measure in totals.columns \
            and totals[measure].notna().all():
        return totals.sort_values(["policy", measure]).reset_index(drop=True), measure
    axis = (
        "avg_inventory_value"
        if value is not None and value.notna().all() and value.gt(0).any()
        else "avg_inventory_units"
    )
    return totals.sort_values(["policy", axis]).reset_index(drop=True), axis


# The numbers of a reorder line the drill-down shows (the last, "value", is qty x unit cost).
DRILL_NUMBERS = ("on_hand", "on_order", "inventory_position", "reorder_point", "order_up_to",
                 "safety_stock", "lead_time_days", "review_days", "lead_time_demand",
                 "days_of_cover", "stockout_probability", "service_level_target",
                 "recommended_order_qty", "value")


def _round_list(values: np.ndarray, digits: int) -> list:
    """Floats rounded for the page's JSON; NaN becomes null (a gap in the line)."""
    out = np.round(values.astype(float), digits)
    return [None if not np.isfinite(v) else (int(v) if digits == 0 or v == int(v) else float(v))
            for v in out]


def drilldown_series(
    reorder: pd.DataFrame,
    alerts: pd.DataFrame | None,
    history: pd.DataFrame | None,
    forecasts: pd.DataFrame | None,
    products: pd.DataFrame | None,
    as_of: pd.Timestamp,
    history_days: int,
) -> dict:
    """Per SKU-location of the reorder lines: history tail, forecast band, stock, order, reason.

    Returns a JSON-ready dict: ``h0`` (first history day), ``f0`` (first forecast day), and
    ``series``: one dict per reorder line with ``h`` (units sold per day from h0, null when no
    row), ``c`` (indexes of stock-out days in ``h``), ``m``/``p50``/``p90`` (forecast per day
    from f0) and the line's numbers and explanation. Dates are implicit (consecutive days), so
    3,000 series of 13 weeks of history and 4 weeks of forecast stay ~2 MB.
    """
    lines = reorder.copy()
    lines["sku"] = lines["sku"].astype(str)
    lines["location"] = lines["location"].astype(str)
    lines = lines.drop_duplicates(["sku", "location"]).reset_index(drop=True)
    key = lines["sku"] + "\x1f" + lines["location"]
    position = pd.Series(np.arange(len(lines)), index=key.to_numpy())
    h0 = as_of - pd.Timedelta(days=history_days - 1)
    hist = np.full((len(lines), history_days), np.nan)
    censored: list[list[int]] = [[] for _ in range(len(lines))]
    if not is_empty(history) and not missing_columns(history, ["sku", "location", "date",
                                                               "units_sold"]):
        dates = pd.to_datetime(history["date"])
        keep = (dates >= h0) & (dates <= as_of)
        h = history.loc[keep]
        rows = (h["sku"].astype(str) + "\x1f" + h["location"].astype(str)).map(position)
        cols = (dates[keep] - h0).dt.days.to_numpy()
        ok = rows.notna().to_numpy()
        r, c = rows.to_numpy()[ok].astype(int), cols[ok]
        hist[r, c] = pd.to_numeric(h["units_sold"], errors="coerce").to_numpy(dtype=float)[ok]
        if "is_censored" in h.columns:
            flag = h["is_censored"].fillna(False).to_numpy(dtype=bool)[ok]
            for i, j in zip(r[flag], c[flag], strict=True):
                censored[i].append(int(j))
    f0 = as_of + pd.Timedelta(days=1)
    fc = dict.fromkeys(("m", "p50", "p90"))
    horizon = 0
    if not is_empty(forecasts) and not missing_columns(forecasts, ["sku", "location", "date",
                                                                   "forecast"]):
        dates = pd.to_datetime(forecasts["date"])
        horizon = int(max((dates.max() - f0).days + 1, 0)) if len(dates) else 0
        keep = (dates >= f0).to_numpy()
        f = forecasts.loc[keep]
        rows = (f["sku"].astype(str) + "\x1f" + f["location"].astype(str)).map(position)
        cols = (dates[keep] - f0).dt.days.to_numpy()
        ok = rows.notna().to_numpy()
        r, c = rows.to_numpy()[ok].astype(int), cols[ok]
        for name, column in (("m", "forecast"), ("p50", "p50"), ("p90", "p90")):
            if column in f.columns:
                grid = np.full((len(lines), horizon), np.nan)
                grid[r, c] = pd.to_numeric(f[column], errors="coerce").to_numpy(dtype=float)[ok]
                fc[name] = grid
    severity: dict[str, str] = {}
    stockout: dict[str, str] = {}
    if not is_empty(alerts) and not missing_columns(alerts, ["sku", "location", "severity"]):
        akey = alerts["sku"].astype(str) + "\x1f" + alerts["location"].astype(str)
        severity = dict(zip(akey, alerts["severity"].astype(str), strict=True))
        if "projected_stockout_date" in alerts.columns:
            when = pd.to_datetime(alerts["projected_stockout_date"], errors="coerce")
            stockout = {k: d.strftime("%Y-%m-%d") for k, d in zip(akey, when, strict=True)
                        if pd.notna(d)}
    names = product_names(products)
    price, basis = _price_for(lines["sku"], products, ("unit_cost", "unit_price"))
    numbers = DRILL_NUMBERS[:-1]
    unknown = stock_unknown(lines).to_numpy()
    series = []
    for i, line in enumerate(lines.to_dict("records")):
        k = key.iloc[i]
        item = {
            "sku": line["sku"], "loc": line["location"],
            "name": str(names.get(line["sku"])) if line["sku"] in names.index else None,
            "cat": None if pd.isna(line.get("category")) else str(line.get("category")),
            "model": None if pd.isna(line.get("model")) else str(line.get("model")),
            "why": None if pd.isna(line.get("explanation")) else str(line.get("explanation")),
            "sev": severity.get(k), "out": stockout.get(k), "unknown": bool(unknown[i]),
            "h": _round_list(hist[i], 1), "c": censored[i],
        }
        for name, grid in fc.items():
            if grid is not None:
                item[name] = _round_list(grid[i], 1)
        for column in numbers:
            value = pd.to_numeric(pd.Series([line.get(column)]), errors="coerce").iloc[0]
            item[column] = None if pd.isna(value) else round(float(value), 3)
        qty = item.get("recommended_order_qty")
        item["value"] = round(qty * float(price.iloc[i]), 2) if basis and qty else None
        series.append(item)
    return {"h0": h0.strftime("%Y-%m-%d"), "f0": f0.strftime("%Y-%m-%d"),
            "asof": as_of.strftime("%Y-%m-%d"), "basis": basis, "series": series}
