"""Reorder lines: one line per active sku x location, what a buyer's numbers mean.

The maths sits in two modules: :mod:`restock.inventory.distributions` (demand over the
protection interval P = L + R from the forecast's cumulative quantiles and the lead time) and
:mod:`restock.inventory.levels` (reorder point s, order-up-to level S, service targets, order
rounding). This module assembles them per series, in named steps (:func:`build_reorder_lines`),
and adds what the buyer sees beside the levels:

* recommended_order_qty = 0 when inventory_position > reorder_point, else order_up_to -
  inventory_position rounded UP to a multiple of pack_size, raised to moq, and again to a pack
  multiple.
* stockout_probability = P(demand over the lead time L > inventory_position): the chance of
  running out before anything ordered today can arrive.
* days_of_cover = on_hand / mean daily forecast; a zero forecast gives settings.days_of_cover_cap
  (999) and larger values are capped there. NULL when stock is unknown.
* Stock unknown (no inventory data for the series): on_hand, inventory_position, days_of_cover,
  stockout_probability are NULL and recommended_order_qty is 0; the explanation gives the reorder
  point and order-up-to level to compare with a manual count.
* explanation: a sentence per line that a buyer can check by hand.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from restock.contract import PUBLISHED_TABLES
from restock.inventory.classes import classify_series
from restock.inventory.distributions import (
    KEYS,
    demand_mixture,
    dense_cumulative,
    resolve_lead_times,
)
from restock.inventory.levels import (
    PolicyLevels,
    allocate_service_levels,
    lost_sales_quantile,
    lot_spread,
    order_quantity,
    policy_levels,
    whole_unit_level,
)
from restock.inventory.settings import ReplenishSettings

log = logging.getLogger("restock.inventory")


# ------------------------------------------------------------------------------------------------
# Reorder lines
# ------------------------------------------------------------------------------------------------
def build_reorder_lines(
    products: pd.DataFrame,
    stock_position: pd.DataFrame | None,
    lead_times: pd.DataFrame | None,
    series_assignments: pd.DataFrame,
    cumulative_quantiles: pd.DataFrame,
    daily_forecasts: pd.DataFrame,
    demand: pd.DataFrame | None,
    as_of: pd.Timestamp | str,
    settings: ReplenishSettings,
    open_purchase_orders: pd.DataFrame | None = None,
    service_level_override: float | None = None,
) -> pd.DataFrame:
    """One reorder line per active sku x location that has a forecast.

    Parameters
    ----------
    products : DataFrame
        dim_products.
    stock_position : DataFrame or None
        fct_stock_position (sku, location, stock_known, on_hand, on_order, backorders).
    lead_times : DataFrame or None
        fct_lead_times; overrides products' lead times from settings.lead_time_min_receipts
        receipts.
    series_assignments : DataFrame
        sku, location, category, demand_class, model, is_cold_start, backtest_rmsse,
        mean_daily_demand.
    cumulative_quantiles : DataFrame
        sku, location, horizon_days, level, quantity (level 0 = mean).
    daily_forecasts : DataFrame
        demand_forecasts: sku, location, date, forecast.
    demand : DataFrame or None
        fct_daily_demand, for ABC / XYZ classes (None: every series is "CZ" unless products
        give a service level).
    as_of : date
        The planning date; forecasts start the day after.
    settings : ReplenishSettings
    open_purchase_orders : DataFrame, optional
        fct_open_purchase_orders (sku, location, expected_date, open_quantity): arrivals used by
        projected_stockout_date.
    service_level_override : float, optional
        Use this target for every series (the policy replay).

    Returns
    -------
    DataFrame
        The contract columns of reorder_recommendations, then abc_class, xyz_class,
        projected_stockout_date, stock_known, demand_class, pack_size, moq, and more extras.
    """
    as_of = pd.Timestamp(as_of).normalize()
    prod = products.copy()
    if "active" in prod:
        prod = prod[prod["active"].fillna(True).astype(bool)]
    series = series_assignments.merge(prod[["sku"]].drop_duplicates(), on="sku", how="inner")
    if len(series) < len(series_assignments):
        log.info("%d forecast series skipped: product inactive or not in dim_products",
                 len(series_assignments) - len(series))
    have_fc = pd.MultiIndex.from_frame(cumulative_quantiles[KEYS].drop_duplicates())
    has = pd.MultiIndex.from_frame(series[KEYS]).isin(have_fc)
    if (~has).any():
        log.warning("%d active series have no cumulative forecast: no reorder line",
                    int((~has).sum()))
    series = series.loc[has].drop_duplicates(KEYS).reset_index(drop=True)
    n = len(series)
    if n == 0:
        return pd.DataFrame(columns=[*PUBLISHED_TABLES["reorder_recommendations"], *EXTRA_COLUMNS])
    p = prod.drop_duplicates("sku").set_index("sku")

    def pcol(name: str) -> pd.Series | None:
        return series["sku"].map(p[name]) if name in p else None

    lt = resolve_lead_times(series, prod, lead_times, settings.lead_time_min_receipts)
    lt_mean = lt["lead_time_days"].to_numpy(dtype=float)
    lt_std = lt["lead_time_std_days"].to_numpy(dtype=float)
    pack = np.maximum(_num(pcol("pack_size"), 1.0, n), 1.0)
    moq = np.maximum(_num(pcol("moq"), 1.0, n), 1.0)
    max_stock = _num(pcol("max_stock"), np.nan, n)

    # Service-level targets: product override, else ABC x XYZ class default.
    if demand is not None and len(demand):
        cls = classify_series(demand, prod, as_of, settings)
        series = series.merge(cls[[*KEYS, "abc_class", "xyz_class"]], on=KEYS, how="left")
    else:
        series["abc_class"] = np.nan
        series["xyz_class"] = np.nan
    series["abc_class"] = series["abc_class"].fillna("C")
    series["xyz_class"] = series["xyz_class"].fillna("Z")
    class_target = (series["abc_class"] + series["xyz_class"]).map(settings.service_levels)
    own_target = _num(pcol("service_level"), np.nan, n)
    target = np.where(np.isnan(own_target), class_target.fillna(0.9).to_numpy(dtype=float),
                      own_target)
    target_source = np.where(np.isnan(own_target), "class", "product")

    cum = dense_cumulative(cumulative_quantiles, series[KEYS])
    if (lt_mean + settings.review_days > cum.horizon).any():
        log.warning("%d series need demand beyond the %d-day cumulative horizon: extrapolated",
                    int((lt_mean + settings.review_days > cum.horizon).sum()), cum.horizon)
    protection = demand_mixture(cum, lt_mean, lt_std, float(settings.review_days),
                                settings.cover_earlier_orders)
    if service_level_override is not None:
        target = np.full(n, float(service_level_override))
        target_source = np.full(n, "override")
    elif settings.service_allocation == "exchange_curve" and settings.service_level_mode == "cycle":
        free = np.isnan(own_target)
        if free.any():
            lower, upper = settings.service_level_bounds
            alloc = allocate_service_levels(
                protection, _num(pcol("unit_cost"), np.nan, n),
                np.array([settings.service_level_average]), lower, upper, free,
                lost_sales=settings.lost_sales)[:, 0]
            target = np.where(free, alloc, target)
            target_source = np.where(free, "exchange_curve", target_source)
    # Whole units: demand sold in whole units is covered by floor(level) as well as by level.
    whole = np.zeros(n, dtype=bool)
    if demand is not None and len(demand) and "units_sold" in demand:
        past = demand[pd.to_datetime(demand["date"]) <= as_of]
        frac = (past["units_sold"] - past["units_sold"].round()).abs().fillna(0.0) > 1e-9
        fractional = frac.groupby([past[k] for k in KEYS]).any()
        whole = ~series[KEYS].merge(fractional.rename("_f").reset_index(), on=KEYS,
                                    how="left")["_f"].fillna(True).to_numpy(dtype=bool)
    spread = lot_spread(pack, moq, whole) if settings.lot_adjustment else None
    levels = policy_levels(cum, lt_mean, lt_std, target[:, None], settings.review_days,
                           settings.service_level_mode, max_stock,
                           settings.order_up_to_review_periods, spread,
                           settings.cover_earlier_orders, settings.lost_sales, protection)
    plain_point = whole_unit_level(levels.protection_quantile[:, 0], whole)
    reorder_point = whole_unit_level(levels.reorder_point[:, 0], whole)
    order_up_to = np.maximum(whole_unit_level(levels.order_up_to[:, 0], whole), reorder_point)
    safety_stock = np.minimum(np.maximum(reorder_point - levels.lead_time_demand, 0.0),
                              reorder_point)

    # Stock position.
    sp = series[KEYS].copy()
    if stock_position is not None and len(stock_position):
        sp = sp.merge(stock_position, on=KEYS, how="left")
    known = sp["stock_known"].fillna(False).astype(bool).to_numpy() if "stock_known" in sp \
        else np.zeros(n, bool)
    on_hand = _num(sp.get("on_hand"), np.nan, n)
    known &= np.isfinite(on_hand)
    on_hand = np.where(known, on_hand, np.nan)
    on_order = _num(sp.get("on_order"), 0.0, n)
    backorders = _num(sp.get("backorders"), 0.0, n)
    position = on_hand + on_order - backorders  # NaN when stock unknown
    qty = order_quantity(np.where(known, position, np.inf), reorder_point, order_up_to, pack, moq)
    stockout_prob = np.full(n, np.nan)
    if known.any():
        cdf = levels.lead_demand.cdf(np.where(known, position, 0.0)[:, None])[:, 0]
        stockout_prob = np.where(known, np.clip(1.0 - cdf, 0.0, 1.0), np.nan)

    # Days of cover and projected stockout from the daily mean forecast.
    fc = daily_forecasts.loc[pd.to_datetime(daily_forecasts["date"]) > as_of,
                             [*KEYS, "date", "forecast"]].copy()
    fc["date"] = pd.to_datetime(fc["date"])
    mean_daily = series[KEYS].merge(
        fc.groupby(KEYS, as_index=False)["forecast"].mean(), on=KEYS, how="left"
    )["forecast"].fillna(0.0).to_numpy()
    cap = settings.days_of_cover_cap
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(mean_daily > 0, on_hand / mean_daily, cap)
    cover = np.where(known, np.minimum(cover, cap), np.nan)
    stockout_date = projected_stockout_dates(series[KEYS], on_hand, fc, open_purchase_orders)
    stockout_date = stockout_date.where(known)

    lines = series[KEYS].copy()
    lines["category"] = series["category"] if "category" in series else pcol("category")
    lines["model"] = series["model"] if "model" in series else None
    lines["on_hand"] = on_hand
    lines["on_order"] = on_order
    lines["inventory_position"] = np.where(known, position, np.nan)
    lines["lead_time_days"] = lt_mean
    lines["review_days"] = settings.review_days
    lines["lead_time_demand"] = levels.lead_time_demand
    lines["safety_stock"] = safety_stock
    lines["reorder_point"] = reorder_point
    lines["order_up_to"] = order_up_to
    lines["recommended_order_qty"] = qty
    lines["days_of_cover"] = cover
    lines["stockout_probability"] = stockout_prob
    lines["service_level_target"] = target
    lines["abc_class"] = series["abc_class"].to_numpy()
    lines["xyz_class"] = series["xyz_class"].to_numpy()
    lines["projected_stockout_date"] = stockout_date.to_numpy()
    lines["stock_known"] = known
    lines["demand_class"] = series["demand_class"] if "demand_class" in series else None
    lines["pack_size"] = pack
    lines["moq"] = moq
    lines["lead_time_std_days"] = lt_std
    lines["lead_time_source"] = lt["lead_time_source"].to_numpy()
    lines["review_period_demand"] = levels.review_demand
    lines["mean_daily_forecast"] = mean_daily
    lines["max_stock"] = max_stock
    lines["backorders"] = backorders
    lines["next_possible_arrival"] = as_of + pd.to_timedelta(np.ceil(lt_mean), unit="D")
    lines["plan_date"] = as_of
    lines["service_level_source"] = target_source
    lines["protection_quantile"] = plain_point
    lines["lot_spread"] = spread if spread is not None else np.zeros(n)
    lines["explanation"] = _explanations(lines, series, levels, settings)
    return lines[[*PUBLISHED_TABLES["reorder_recommendations"], *EXTRA_COLUMNS]]


EXTRA_COLUMNS = [
    "abc_class", "xyz_class", "projected_stockout_date", "stock_known", "demand_class",
    "pack_size", "moq", "lead_time_std_days", "lead_time_source", "review_period_demand",
    "mean_daily_forecast", "max_stock", "backorders", "next_possible_arrival", "plan_date",
    "service_level_source", "protection_quantile", "lot_spread",
]


def projected_stockout_dates(
    keys: pd.DataFrame,
    on_hand: np.ndarray,
    daily_forecasts: pd.DataFrame,
    open_purchase_orders: pd.DataFrame | None = None,
) -> pd.Series:
    """First forecast date whose cumulative mean demand exceeds on_hand plus arrivals so far.

    Arrivals come from open purchase orders' expected_date when given. NaT when stock lasts
    beyond the forecast horizon or on_hand is unknown.
    """
    k = keys[KEYS].reset_index(drop=True).copy()
    k["_row"] = np.arange(len(k))
    k["_on_hand"] = on_hand
    f = daily_forecasts[[*KEYS, "date", "forecast"]].merge(k, on=KEYS, how="inner")
    f = f.sort_values(["_row", "date"])
    f["_cum"] = f.groupby("_row")["forecast"].cumsum()
    f["_arrived"] = 0.0
    if open_purchase_orders is not None and len(open_purchase_orders):
        po = open_purchase_orders[[*KEYS, "expected_date", "open_quantity"]].dropna()
        po = po.assign(date=pd.to_datetime(po["expected_date"]))
        arr = f[[*KEYS, "date"]].merge(po, on=KEYS, how="left", suffixes=("", "_po"))
        arr["q"] = np.where(arr["date_po"] <= arr["date"], arr["open_quantity"], 0.0)
        got = arr.groupby([*KEYS, "date"], sort=False)["q"].sum()
        f["_arrived"] = got.reindex(pd.MultiIndex.from_frame(f[[*KEYS, "date"]])).fillna(0.0) \
            .to_numpy()
    first = f.loc[f["_cum"] > f["_on_hand"] + f["_arrived"]].groupby("_row")["date"].min()
    result = pd.Series(pd.NaT, index=k.index, dtype="datetime64[ns]")
    result.loc[first.index] = first.to_numpy()
    return result


def _explanations(
    lines: pd.DataFrame, series: pd.DataFrame, levels: PolicyLevels, settings: ReplenishSettings
) -> list[str]:
    """A sentence per line that a buyer can check by hand."""
    out = []
    mode = settings.service_level_mode
    rmsse = series["backtest_rmsse"] if "backtest_rmsse" in series else pd.Series(np.nan,
                                                                                   index=series.index)
    cold = series["is_cold_start"] if "is_cold_start" in series else pd.Series(False,
                                                                              index=series.index)
    for i, r in enumerate(lines.itertuples(index=False)):
        pack, moq = r.pack_size, r.moq
        lt = (f"Lead time {_fmt(r.lead_time_days)}±{_fmt(r.lead_time_std_days)} days"
              if r.lead_time_std_days > 0 else f"Lead time {_fmt(r.lead_time_days)} days")
        protect = r.lead_time_days + r.review_days
        fit = f"Forecast {r.mean_daily_forecast:.1f}/day by {r.model}"
        if np.isfinite(rmsse.iloc[i]):
            fit += f" (backtest RMSSE {rmsse.iloc[i]:.2f})"
        if bool(cold.iloc[i]):
            fit += ", cold start: little history"
        target = f"{r.service_level_target * 100:.3g}%"
        what = "quantile" if mode == "cycle" else "fill-rate target"
        if mode == "cycle" and settings.lost_sales:
            level = float(lost_sales_quantile(r.service_level_target))
            what = (f"cycle service (unmet demand is lost, so the {level * 100:.3g}% "
                    f"quantile)")
        if r.service_level_source == "exchange_curve":
            target += (f" (exchange curve: {settings.service_level_average * 100:.3g}% on "
                       f"average over items, more where stock is cheap per point of service)")
        elif r.service_level_source == "product":
            target += " (the product's own service level)"
        lot = ""
        if r.protection_quantile - r.reorder_point > 0.05:
            lot = (f", lowered to {_fmt(r.reorder_point)} for ordering in lots of "
                   f"{_fmt(max(pack, math.ceil(moq / pack - 1e-9) * pack))}: stock after an "
                   f"order lies up to {_fmt(r.lot_spread)} above it, which meets the target on "
                   f"average")
        core = (f"{fit}. {lt} + review {r.review_days} days: {_fmt(protect)}-day demand "
                f"{_fmt(r.lead_time_demand)}, {target} {what} {_fmt(r.protection_quantile)}"
                f"{lot} -> reorder point {_fmt(r.reorder_point)} (safety stock "
                f"{_fmt(r.safety_stock)}).")
        if levels.max_stock_below_reorder_point[i, 0]:
            cap = (f" Max stock {_fmt(r.max_stock)} is below the reorder point: order-up-to "
                   f"held at the reorder point to keep the service target; raise max_stock.")
        elif levels.order_up_to_capped[i, 0]:
            cap = f" Order-up-to capped at max stock {_fmt(r.max_stock)}."
        else:
            cap = ""
        if not r.stock_known:
            out.append(
                f"Stock unknown: no inventory data, so no quantity is recommended (0). {core}"
                f" Count the shelf: if stock + open orders ({_fmt(r.on_order)}) is at or below "
                f"{_fmt(r.reorder_point)}, order up to {_fmt(r.order_up_to)}.{cap}"
            )
            continue
        pos = (f"Position {_fmt(r.inventory_position)} (on hand {_fmt(r.on_hand)} + on order "
               f"{_fmt(r.on_order)}"
               + (f" - backorders {_fmt(r.backorders)}" if r.backorders else "") + ")")
        if r.recommended_order_qty > 0:
            raw = r.order_up_to - r.inventory_position
            packs = r.recommended_order_qty / pack
            head = (f"Order {_fmt(r.recommended_order_qty)}"
                    + (f" ({_fmt(packs)} {_plural(packs, 'pack')} of {_fmt(pack)})"
                       if pack > 1 else "") + ".")
            rounding = f" {pos} <= {_fmt(r.reorder_point)}: order up to {_fmt(r.order_up_to)}" \
                       f" = {_fmt(raw)}"
            if pack > 1:
                rounding += (f", rounded up to {_fmt(packs)} {_plural(packs, 'pack')} = "
                             f"{_fmt(r.recommended_order_qty)}")
            if moq > 1:
                in_packs = math.ceil(raw / pack - 1e-9) * pack
                rounding += (f"; MOQ {_fmt(moq)} met" if in_packs >= moq - 1e-9
                             else f"; raised to MOQ {_fmt(moq)}")
            out.append(f"{head} {core}{rounding}.{cap}")
        else:
            out.append(f"No order. {core} {pos} > reorder point {_fmt(r.reorder_point)}.{cap}")
    return out


def _num(s: pd.Series | None, default: float, n: int) -> np.ndarray:
    if s is None:
        return np.full(n, default)
    return pd.to_numeric(s, errors="coerce").fillna(default).to_numpy(dtype=float)


def _plural(n: float, word: str) -> str:
    return word if abs(n - 1) < 1e-9 else word + "s"


def _fmt(x: float) -> str:
    """A quantity for a sentence: whole numbers without decimals, else one decimal."""
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:.0f}" if abs(x - round(x)) < 0.05 or abs(x) >= 100 else f"{x:.1f}"
