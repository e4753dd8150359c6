"""Checks on the pipeline's outputs that gate publication (wrapped as blocking asset checks).

Plain functions over DataFrames returning a :class:`CheckResult`; no Dagster here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # the settings module pulls in every stage's settings
    from restock.config import QualitySettings


QUANTILE_COLUMNS = ("p50", "p90", "p95", "p99")
# An order is never "absurd" below this many units (or below the product's moq / pack size):
# tiny series with a max 28-day demand of 1 would otherwise trip the check on a normal order.
ORDER_QTY_FLOOR_UNITS = 100.0
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one check: ``severity`` 'error' blocks publication, 'warning' does not."""

    check: str
    passed: bool
    failed_rows: int
    detail: str
    severity: str = "error"

    def as_row(self, source: str) -> dict:
        """This result as a data_quality_results row."""
        return {"source": source, "check": self.check, "severity": self.severity,
                "passed": self.passed, "failed_rows": self.failed_rows, "detail": self.detail}


def _examples(frame: pd.DataFrame, columns: list[str]) -> str:
    cols = [c for c in columns if c in frame.columns]
    return "; ".join(
        ", ".join(f"{c}={row[c]}" for c in cols)
        for _, row in frame.head(MAX_EXAMPLES).iterrows()
    )


def check_forecasts_valid(demand_forecasts: pd.DataFrame) -> CheckResult:
    """Forecasts are finite, non-negative and p50 <= p90 <= p95 <= p99.

    Parameters
    ----------
    demand_forecasts : pandas.DataFrame
        sku, location, date, forecast, p50, p90, p95, p99.

    Returns
    -------
    CheckResult
    """
    name = "forecasts_valid"
    needed = ["forecast", *QUANTILE_COLUMNS]
    missing = [c for c in needed if c not in demand_forecasts.columns]
    if missing:
        return CheckResult(name, False, len(demand_forecasts), f"missing columns {missing}")
    if demand_forecasts.empty:
        return CheckResult(name, False, 0, "no forecasts")
    values = demand_forecasts[needed].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    tolerance = 1e-9
    bad_value = ~np.isfinite(values).all(axis=1) | (values < -tolerance).any(axis=1)
    quantiles = values[:, 1:]
    crossing = (np.diff(quantiles, axis=1) < -tolerance).any(axis=1)
    bad = bad_value | crossing
    n_bad = int(bad.sum())
    if n_bad == 0:
        return CheckResult(name, True, 0, f"{len(values)} forecast rows finite, >= 0, ordered")
    detail = (
        f"{int(bad_value.sum())} rows not finite or negative, {int(crossing.sum())} rows with "
        f"crossing quantiles, e.g. "
        + _examples(demand_forecasts[bad], ["sku", "location", "date", *needed])
    )
    return CheckResult(name, False, n_bad, detail)


def check_reorder_coverage(
    reorder_lines: pd.DataFrame, stock_position: pd.DataFrame, products: pd.DataFrame
) -> CheckResult:
    """Every active sku x location of the stock position has exactly one reorder line.

    Parameters
    ----------
    reorder_lines : pandas.DataFrame
        The reorder recommendations (sku, location, ...).
    stock_position : pandas.DataFrame
        marts.fct_stock_position (sku, location, ...).
    products : pandas.DataFrame
        marts.dim_products (sku, active).

    Returns
    -------
    CheckResult
        failed_rows = series without a line + series with more than one line.
    """
    name = "reorder_coverage"
    active = products.loc[products["active"].fillna(True).astype(bool), "sku"]
    expected = stock_position.loc[stock_position["sku"].isin(active), ["sku", "location"]]
    expected = expected.drop_duplicates()
    counts = reorder_lines.groupby(["sku", "location"]).size().rename("n_lines").reset_index()
    merged = expected.merge(counts, on=["sku", "location"], how="left")
    merged["n_lines"] = merged["n_lines"].fillna(0).astype(int)
    missing = merged[merged["n_lines"] == 0]
    duplicated = counts[counts["n_lines"] > 1]
    extra = counts.merge(expected, on=["sku", "location"], how="left", indicator=True)
    n_extra = int((extra["_merge"] == "left_only").sum())
    failed = len(missing) + len(duplicated)
    detail = (
        f"{len(expected)} active series, {len(missing)} without a line, "
        f"{len(duplicated)} with several lines, {n_extra} lines outside the stock position"
    )
    if len(missing):
        detail += "; missing e.g. " + _examples(missing, ["sku", "location"])
    if len(duplicated):
        detail += "; duplicated e.g. " + _examples(duplicated, ["sku", "location", "n_lines"])
    return CheckResult(name, failed == 0, failed, detail)


def max_28_day_demand(demand: pd.DataFrame) -> pd.DataFrame:
    """Per sku x location, the largest demand (units_sold) of any 28 consecutive days."""
    frame = demand[["sku", "location", "date", "units_sold"]].sort_values(
        ["sku", "location", "date"]
    )
    keys = [frame["sku"], frame["location"]]
    cumulative = frame["units_sold"].fillna(0).groupby(keys).cumsum()
    # the spine is complete (one row per day), so 28 rows back = 28 days back
    lagged = cumulative.groupby(keys).shift(28).fillna(0)
    frame = frame.assign(window=cumulative - lagged)
    return (
        frame.groupby(["sku", "location"], as_index=False)["window"]
        .max()
        .rename(columns={"window": "max_28d_demand"})
    )


#: max_28_day_demand in SQL, for the warehouse: the mart of a big feed stays in DuckDB
MAX_28_DAY_DEMAND_SQL = (
    "select sku, location, max(window_units) as max_28d_demand from ("
    "select sku, location, sum(coalesce(units_sold, 0)) over (partition by sku, location "
    "order by date rows between 27 preceding and current row) as window_units "
    "from marts.fct_daily_demand) group by sku, location"
)


def check_order_quantities(
    reorder_lines: pd.DataFrame,
    demand: pd.DataFrame,
    settings: QualitySettings,
    products: pd.DataFrame | None = None,
    floor_units: float = ORDER_QTY_FLOOR_UNITS,
) -> CheckResult:
    """No recommended order above ``max_order_multiple`` x the series' max 28-day demand.

    The limit is ``max(max_order_multiple * max_28d_demand, floor_units, moq, pack_size)``
    so tiny or new series do not trip the check on an ordinary minimum order.

    Parameters
    ----------
    reorder_lines : pandas.DataFrame
        sku, location, recommended_order_qty.
    demand : pandas.DataFrame
        fct_daily_demand (sku, location, date, units_sold), or its :func:`max_28_day_demand`
        already computed (sku, location, max_28d_demand; e.g. by ``MAX_28_DAY_DEMAND_SQL``).
    settings : QualitySettings
        max_order_multiple.
    products : pandas.DataFrame, optional
        dim_products (sku, moq, pack_size) to raise the floor to the product's minimum order.
    floor_units : float
        The smallest limit.

    Returns
    -------
    CheckResult
    """
    name = "order_quantities_plausible"
    maxima = demand[["sku", "location", "max_28d_demand"]] if "max_28d_demand" in demand \
        else max_28_day_demand(demand)
    lines = reorder_lines[["sku", "location", "recommended_order_qty"]].merge(
        maxima, on=["sku", "location"], how="left"
    )
    lines["max_28d_demand"] = lines["max_28d_demand"].fillna(0.0)
    floor = pd.Series(floor_units, index=lines.index)
    if products is not None:
        minimums = products.set_index("sku")[["moq", "pack_size"]].astype(float).max(axis=1)
        floor = np.maximum(floor, lines["sku"].map(minimums).fillna(0.0))
    lines["limit"] = np.maximum(settings.max_order_multiple * lines["max_28d_demand"], floor)
    qty = pd.to_numeric(lines["recommended_order_qty"], errors="coerce")
    bad = lines[~np.isfinite(qty) | (qty > lines["limit"]) | (qty < 0)]
    if bad.empty:
        return CheckResult(
            name, True, 0,
            f"{len(lines)} lines within {settings.max_order_multiple:g}x the max 28-day demand "
            f"(floor {floor_units:g} units)",
        )
    detail = (
        f"{len(bad)} lines above {settings.max_order_multiple:g}x the max 28-day demand, "
        "negative or not finite, e.g. "
        + _examples(bad, ["sku", "location", "recommended_order_qty", "max_28d_demand", "limit"])
    )
    return CheckResult(name, False, len(bad), detail)


def historical_maxima(demand: pd.DataFrame, horizons: list[int] | np.ndarray) -> pd.DataFrame:
    """Per sku x location, the largest demand of any ``k`` consecutive days for each ``k``.

    Parameters
    ----------
    demand : pandas.DataFrame
        fct_daily_demand (sku, location, date, units_sold; one row per series and day).
    horizons : list of int
        Window lengths ``k`` (1 = the max daily demand).

    Returns
    -------
    pandas.DataFrame
        sku, location, horizon_days, max_demand.
    """
    frame = demand[["sku", "location", "date", "units_sold"]].sort_values(
        ["sku", "location", "date"]
    )
    keys = [frame["sku"], frame["location"]]
    cumulative = frame["units_sold"].fillna(0).clip(lower=0).groupby(keys).cumsum()
    out = []
    for k in sorted({int(k) for k in horizons}):
        # the spine is complete (one row per day), so k rows back = k days back
        window = cumulative - cumulative.groupby(keys).shift(k).fillna(0)
        best = window.groupby(keys).max().rename("max_demand").reset_index()
        out.append(best.assign(horizon_days=k))
    if not out:
        return pd.DataFrame(columns=["sku", "location", "horizon_days", "max_demand"])
    return pd.concat(out, ignore_index=True)[["sku", "location", "horizon_days", "max_demand"]]


def historical_maxima_sql(horizons: tuple[int, ...] | list[int]) -> str:
    """:func:`historical_maxima` in SQL over ``marts.fct_daily_demand`` (for the warehouse)."""
    parts = [
        f"select sku, location, {int(k)} as horizon_days, max(w) as max_demand from ("
        f"select sku, location, sum(greatest(coalesce(units_sold, 0), 0)) over (partition by "
        f"sku, location order by date rows between {int(k) - 1} preceding and current row) as w "
        f"from marts.fct_daily_demand) group by sku, location"
        for k in sorted({int(k) for k in horizons})
    ]
    return " union all ".join(parts)


def check_forecast_magnitudes(
    demand_forecasts: pd.DataFrame,
    maxima: pd.DataFrame,
    settings: QualitySettings,
    cumulative_quantiles: pd.DataFrame | None = None,
) -> CheckResult:
    """No forecast or quantile above ``max_forecast_multiple`` x the series' historical max.

    A daily value (forecast, p50..p99) is compared with the series' largest daily demand, a
    cumulative quantile over ``k`` days with its largest ``k``-day total; the limit is
    ``max(max_forecast_multiple * max, forecast_floor_units * k)`` so that a slow mover that
    sold one unit on its best day can still get a p99 of a few units. A series without
    history (cold start) has a max of 0: only the floor applies. Failing rows name the series.

    Parameters
    ----------
    demand_forecasts : pandas.DataFrame
        sku, location, date, forecast, p50, p90, p95, p99.
    maxima : pandas.DataFrame
        :func:`historical_maxima` (sku, location, horizon_days, max_demand), with at least
        ``horizon_days = 1``; cumulative quantiles are checked at the other horizons it holds
        (e.g. ``historical_maxima_sql((1, 7, 14, 28))``).
    settings : QualitySettings
        max_forecast_multiple, forecast_floor_units.
    cumulative_quantiles : pandas.DataFrame, optional
        sku, location, horizon_days, level, quantity (the policy's cumulative quantiles).

    Returns
    -------
    CheckResult
    """
    name = "forecast_magnitudes_plausible"
    multiple, floor = settings.max_forecast_multiple, settings.forecast_floor_units
    keyed = maxima.set_index(["sku", "location", "horizon_days"])["max_demand"]
    daily_max = keyed.xs(1, level="horizon_days") if len(keyed) else keyed
    cols = ["forecast", *[c for c in QUANTILE_COLUMNS if c in demand_forecasts.columns]]
    frame = demand_forecasts[["sku", "location", "date", *cols]]
    top = frame[cols].max(axis=1)
    peak = frame.assign(value=top).groupby(["sku", "location"], as_index=False)["value"].max()
    hist = daily_max.reindex(pd.MultiIndex.from_frame(peak[["sku", "location"]]))
    peak["max_demand"] = np.nan_to_num(hist.to_numpy(dtype=float))
    peak["limit"] = np.maximum(multiple * peak["max_demand"], floor)
    peak["horizon_days"] = 1
    bad = [peak[~np.isfinite(peak["value"]) | (peak["value"] > peak["limit"])]]
    n_cum = 0
    if cumulative_quantiles is not None and len(cumulative_quantiles):
        # horizons without a historical max are not checked (the caller picks them)
        have = set(maxima["horizon_days"].astype(int))
        cq = cumulative_quantiles[(cumulative_quantiles["level"] > 0)
                                  & cumulative_quantiles["horizon_days"].isin(have)]
        worst = cq.groupby(["sku", "location", "horizon_days"], as_index=False)["quantity"].max()
        worst = worst.rename(columns={"quantity": "value"})
        n_cum = worst.groupby(["sku", "location"]).ngroups
        hist = keyed.reindex(pd.MultiIndex.from_frame(worst[["sku", "location", "horizon_days"]]))
        worst["max_demand"] = np.nan_to_num(hist.to_numpy(dtype=float))
        worst["limit"] = np.maximum(multiple * worst["max_demand"],
                                    floor * worst["horizon_days"])
        bad.append(worst[~np.isfinite(worst["value"]) | (worst["value"] > worst["limit"])])
    bad_rows = pd.concat(bad, ignore_index=True)
    series = bad_rows.drop_duplicates(["sku", "location"])
    if series.empty:
        return CheckResult(
            name, True, 0,
            f"{len(peak)} series' forecasts and quantiles (cumulative for {n_cum}) within "
            f"{multiple:g}x their historical max (floor {floor:g} units a day)",
        )
    worst_first = bad_rows.assign(ratio=bad_rows["value"] / bad_rows["limit"]).sort_values(
        "ratio", ascending=False).drop_duplicates(["sku", "location"])
    detail = (
        f"{len(series)} series with a forecast or quantile above {multiple:g}x their "
        f"historical max demand (floor {floor:g} units a day) or not finite, e.g. "
        + _examples(worst_first, ["sku", "location", "horizon_days", "value", "max_demand",
                                  "limit"])
    )
    return CheckResult(name, False, len(series), detail)
