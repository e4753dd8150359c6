"""Plotly figures of the run report, returned as JSON strings for an offline page.

plotly is imported inside each function: pipelines.definitions imports restock.report and must
load fast. Figures use the empty ``none`` template (the default one adds ~7 kB of JSON to every
figure) and text from the data is HTML-escaped, since plotly renders a subset of HTML in labels.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

PALETTE = (
    "#1f5f8b", "#d9822b", "#3c8d5a", "#b23a48", "#6c5b9e", "#8a6d3b", "#c05a9b", "#5f6b73",
    "#2a9d8f", "#9c6644",
)
ACTUAL_COLOR = "#4a4a4a"
FORECAST_COLOR = "#1f5f8b"
BACKTEST_COLOR = "#d9822b"
STOCKOUT_COLOR = "#b23a48"


def _esc(value: object) -> str:
    return html.escape(str(value))


def _level(share: float) -> str:
    """A service level with the decimals it needs (0.995 -> 99.5%, never 100% below 1)."""
    from restock.report.formatting import fmt_level

    return fmt_level(share)


def _layout(title: str, x_title: str, y_title: str, height: int = 340, **extra) -> dict:
    axis = {"gridcolor": "#e6e8eb", "zeroline": False, "linecolor": "#9aa3ab", "showline": True}
    layout = {
        "template": "none",
        "title": {"text": title, "x": 0.01, "font": {"size": 14}},
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 48, "b": 96 if x_title else 70},
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12,
                 "color": "#24292f"},
        "xaxis": {**axis, "title": {"text": x_title, "standoff": 6}},
        "yaxis": {**axis, "title": {"text": y_title}},
        # Below the axis title, anchored by its top edge so it never overlaps tick labels.
        "legend": {"orientation": "h", "x": 0, "y": -0.30 if x_title else -0.16,
                   "yanchor": "top"},
        "hovermode": "x unified",
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
    }
    layout.update(extra)
    return layout


def _to_json(data: list[dict], layout: dict) -> str:
    import plotly.graph_objects as go
    import plotly.io as pio

    # Building a go.Figure validates every property (catches typos at build time, not in the
    # reader's browser); to_json escapes <, > and / so the JSON is safe inside a <script>.
    return pio.to_json(go.Figure(data=data, layout=layout), validate=False, engine="json")


def _models_lines(frame: pd.DataFrame, x: str, y: str, models: list[str]) -> list[dict]:
    traces = []
    for i, model in enumerate(models):
        rows = frame.loc[frame["model"].astype(str) == model].sort_values(x)
        traces.append({
            "type": "scatter", "mode": "lines+markers", "name": _esc(model),
            "x": rows[x].to_numpy(), "y": rows[y].to_numpy(dtype=float),
            "line": {"color": PALETTE[i % len(PALETTE)], "width": 2}, "marker": {"size": 4},
        })
    return traces


def horizon_figure(by_horizon: pd.DataFrame, models: list[str], metric: str) -> str:
    """WAPE or bias per days ahead, one line per model."""
    label = {"wape": "WAPE", "bias": "Bias"}[metric]
    layout = _layout(f"{label} by days ahead", "days after the backtest cutoff", label,
                     yaxis={"tickformat": ".0%", "gridcolor": "#e6e8eb", "zeroline": True,
                            "zerolinecolor": "#9aa3ab", "title": {"text": label}})
    return _to_json(_models_lines(by_horizon, "days_ahead", metric, models), layout)


def fold_figure(by_fold: pd.DataFrame, models: list[str]) -> str:
    """WAPE per backtest fold, grouped bars per model."""
    traces = []
    for i, model in enumerate(models):
        rows = by_fold.loc[by_fold["model"].astype(str) == model].sort_values("fold")
        traces.append({
            "type": "bar", "name": _esc(model), "x": [f"fold {f}" for f in rows["fold"]],
            "y": rows["wape"].to_numpy(dtype=float), "marker": {"color": PALETTE[i % len(PALETTE)]},
        })
    layout = _layout("WAPE by backtest fold (older cutoffs first)", "", "WAPE",
                     barmode="group", hovermode="closest",
                     yaxis={"tickformat": ".0%", "gridcolor": "#e6e8eb", "title": {"text": "WAPE"}})
    return _to_json(traces, layout)


def coverage_figure(coverage: pd.DataFrame) -> str:
    """p90 coverage of each chosen model against the 90% target (horizontal bars)."""
    group_cols = [c for c in ("category", "demand_class") if c in coverage.columns]
    labels = [
        " / ".join(_esc(v) for v in values)
        for values in zip(*[coverage[c].astype(str) for c in group_cols], strict=True)
    ]
    values = coverage["coverage_p90"].to_numpy(dtype=float)
    # Within 5 points of the target counts as calibrated.
    colors = ["#3c8d5a" if abs(v - 0.9) <= 0.05 else "#b23a48" for v in np.nan_to_num(values)]
    traces = [{
        "type": "bar", "orientation": "h", "y": labels, "x": values, "name": "p90 coverage",
        "marker": {"color": colors},
        "text": [f"{v:.0%}" if np.isfinite(v) else "" for v in values], "textposition": "auto",
        "customdata": [_esc(m) for m in coverage["model"].astype(str)],
        "hovertemplate": "%{y}<br>model %{customdata}<br>coverage %{x:.1%}<extra></extra>",
    }]
    layout = _layout(
        "p90 coverage of the chosen model (target 90%)", "", "",
        height=max(260, 90 + 26 * len(labels)), hovermode="closest", showlegend=False,
        margin={"l": 170, "r": 20, "t": 48, "b": 40},
        xaxis={"tickformat": ".0%", "range": [0, 1.02], "gridcolor": "#e6e8eb"},
        yaxis={"autorange": "reversed", "automargin": True},
        shapes=[{"type": "line", "yref": "paper", "x0": 0.9, "x1": 0.9, "y0": 0, "y1": 1,
                 "line": {"color": "#24292f", "dash": "dash", "width": 1.5}}],
        annotations=[{"yref": "paper", "x": 0.9, "y": 1, "yanchor": "bottom", "xanchor": "center",
                      "text": "90% target", "showarrow": False, "font": {"size": 11}}],
    )
    return _to_json(traces, layout)


def _gapped(frame: pd.DataFrame, columns: list[str], by: str) -> dict[str, list]:
    """Concatenate groups (e.g. folds) into one trace, with a None between them (a line gap)."""
    out: dict[str, list] = {c: [] for c in ["date", *columns]}
    for _, group in frame.sort_values([by, "date"]).groupby(by, sort=True):
        if out["date"]:
            for c in out:
                out[c].append(None)
        out["date"].extend(d.strftime("%Y-%m-%d") for d in group["date"])
        for c in columns:
            out[c].extend(float(v) if pd.notna(v) else None for v in group[c])
    return out


def _band(x: list, low: list, high: list, name: str, color: str, group: str) -> list[dict]:
    """A shaded p50..p90 band: an invisible lower edge, then the upper edge filled down to it."""
    return [
        {"type": "scatter", "mode": "lines", "x": x, "y": low, "line": {"width": 0},
         "showlegend": False, "hoverinfo": "skip", "legendgroup": group},
        {"type": "scatter", "mode": "lines", "x": x, "y": high, "fill": "tonexty",
         "fillcolor": color, "line": {"width": 0}, "name": name, "legendgroup": group,
         "hovertemplate": "p90 %{y:.1f}<extra></extra>"},
    ]


def series_figure(
    title: str,
    history: pd.DataFrame,
    backtest: pd.DataFrame,
    forecast: pd.DataFrame,
    as_of: pd.Timestamp,
) -> str:
    """Sales history tail, backtest predictions and the forecast with p50..p90 bands.

    ``history``: date, units_sold, is_censored. ``backtest``: date, fold, forecast, p50, p90,
    actual (the selected model only). ``forecast``: date, forecast, p50, p90.
    """
    traces: list[dict] = []
    if len(history):
        h = history.sort_values("date")
        traces.append({
            "type": "scatter", "mode": "lines", "name": "units sold",
            "x": h["date"].dt.strftime("%Y-%m-%d").tolist(),
            "y": h["units_sold"].to_numpy(dtype=float),
            "line": {"color": ACTUAL_COLOR, "width": 1.5},
        })
        censored = h.loc[h["is_censored"].fillna(False).astype(bool)]
        if len(censored):
            traces.append({
                "type": "scatter", "mode": "markers", "name": "stock-out day (sales < demand)",
                "x": censored["date"].dt.strftime("%Y-%m-%d").tolist(),
                "y": censored["units_sold"].to_numpy(dtype=float),
                "marker": {"color": STOCKOUT_COLOR, "symbol": "x", "size": 7},
            })
    if len(backtest):
        # One band per fold: a filled trace with gaps would fill across the gaps too.
        for i, (_, fold) in enumerate(backtest.sort_values("date").groupby("fold", sort=True)):
            if fold["p90"].isna().all():
                continue
            band = _band(fold["date"].dt.strftime("%Y-%m-%d").tolist(),
                         fold["p50"].astype(float).tolist(), fold["p90"].astype(float).tolist(),
                         "backtest p50-p90", "rgba(217,130,43,0.22)", "backtest")
            band[1]["showlegend"] = i == 0
            traces += band
        b = _gapped(backtest, ["forecast"], "fold")
        traces.append({
            "type": "scatter", "mode": "lines", "name": "backtest forecast", "x": b["date"],
            "y": b["forecast"], "line": {"color": BACKTEST_COLOR, "width": 1.5, "dash": "dot"},
            "legendgroup": "backtest",
        })
    if len(forecast):
        f = forecast.sort_values("date")
        x = f["date"].dt.strftime("%Y-%m-%d").tolist()
        traces += _band(x, f["p50"].astype(float).tolist(), f["p90"].astype(float).tolist(),
                        "forecast p50-p90", "rgba(31,95,139,0.20)", "forecast")
        traces.append({
            "type": "scatter", "mode": "lines", "name": "forecast (mean)", "x": x,
            "y": f["forecast"].to_numpy(dtype=float),
            "line": {"color": FORECAST_COLOR, "width": 2}, "legendgroup": "forecast",
        })
    day = as_of.strftime("%Y-%m-%d")
    layout = _layout(
        title, "", "units per day", height=330,
        shapes=[{"type": "line", "xref": "x", "yref": "paper", "x0": day, "x1": day, "y0": 0,
                 "y1": 1, "line": {"color": "#9aa3ab", "dash": "dash", "width": 1}}],
        annotations=[{"xref": "x", "yref": "paper", "x": day, "y": 1, "text": "as of",
                      "showarrow": False, "xanchor": "left", "yanchor": "bottom",
                      "font": {"size": 10, "color": "#5f6b73"}}],
    )
    return _to_json(traces, layout)


def frontier_figure(
    totals: pd.DataFrame, axis: str, headline: dict | None, static_point: dict | None
) -> str:
    """Stockout rate against average inventory: Restock per service level, static per buffer."""
    names = {"recommended": ("Restock (service level)", "#1f5f8b"),
             "recommended_transfers": ("Restock with transfers (service level)", "#2e8b57"),
             "static": ("static rule (buffer days)", "#d9822b")}
    traces = []
    for policy, rows in totals.groupby(totals["policy"].astype(str), sort=True):
        label, color = names.get(policy, (_esc(policy), "#5f6b73"))
        is_service = policy in ("recommended", "recommended_transfers")
        texts = [
            (_level(p) if is_service and p < 1 else f"{p:g} d") if pd.notna(p) else ""
            for p in rows["parameter"]
        ]
        traces.append({
            "type": "scatter", "mode": "lines+markers+text", "name": label,
            "x": rows[axis].to_numpy(dtype=float), "y": rows["stockout_rate"].to_numpy(dtype=float),
            "text": texts, "textposition": "top right", "textfont": {"size": 10},
            "line": {"color": color, "width": 2}, "marker": {"size": 8, "color": color},
            "hovertemplate": label + " %{text}<br>inventory %{x:,.0f}<br>stockout rate "
                             "%{y:.2%}<extra></extra>",
        })
    if headline and static_point:
        x = static_point["x"]
        y0, y1 = static_point["y"], headline.get("restock_stockout_rate_at_same_inventory")
        if y1 is not None and np.isfinite(y1):
            traces.append({
                "type": "scatter", "mode": "markers", "name": "headline: same inventory",
                "x": [x, x], "y": [y0, y1],
                "marker": {"size": 14, "symbol": ["circle-open", "star"], "color": "#b23a48",
                           "line": {"width": 2, "color": "#b23a48"}},
                "hovertemplate": "stockout rate %{y:.2%}<extra>headline</extra>",
            })
    x_label = "average inventory value" if axis == "avg_inventory_value" else \
        "average inventory (units)"
    layout = _layout(
        "Stockout rate against average inventory (lower-left is better)", x_label,
        "stockout rate", height=440, hovermode="closest",
        legend={"x": 0.99, "xanchor": "right", "y": 0.98, "yanchor": "top",
                "bgcolor": "rgba(255,255,255,0.85)", "bordercolor": "#d8dde2", "borderwidth": 1},
        margin={"l": 60, "r": 20, "t": 48, "b": 60},
        yaxis={"tickformat": ".1%", "gridcolor": "#e6e8eb", "rangemode": "tozero",
               "title": {"text": "stockout rate"}},
    )
    return _to_json(traces, layout)


def tracked_wape_figure(weekly: pd.DataFrame) -> str:
    """WAPE of each run's forecast (x: the run's as_of), one line per week ahead."""
    traces = []
    for i, (week, rows) in enumerate(weekly.groupby("horizon_week", sort=True)):
        rows = rows.sort_values("snapshot_as_of")
        traces.append({
            "type": "scatter", "mode": "lines+markers", "name": f"week {int(week)} ahead",
            "x": [d.date().isoformat() for d in rows["snapshot_as_of"]],
            "y": rows["wape"].to_numpy(dtype=float),
            "line": {"color": PALETTE[i % len(PALETTE)], "width": 2}, "marker": {"size": 6},
        })
    layout = _layout("WAPE of each run's forecast, by week ahead", "run that forecast (as_of)",
                     "WAPE", yaxis={"tickformat": ".0%", "gridcolor": "#e6e8eb",
                                    "title": {"text": "WAPE"}})
    return _to_json(traces, layout)
