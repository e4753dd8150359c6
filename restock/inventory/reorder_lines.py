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
* explanation: a sentence per line that a buyer can check by hand
  (:mod:`restock.inventory.explanations`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from restock.contract import PUBLISHED_TABLES
from restock.inventory.classes import classify_series
from restock.inventory.distributions import (
    KEYS,
    CumulativeDemand,
    Mixture,
    demand_mixture,
    dense_cumulative,
    resolve_lead_times,
)
from restock.inventory.explanations import explain_lines
from restock.inventory.levels import (
    PolicyLevels,
    allocate_fill_rates,
    allocate_service_levels,
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
@dataclass
class ReorderInputs:
    """What one night's reorder lines are built from (see :func:`build_reorder_lines`)."""

    products: pd.DataFrame
    stock_position: pd.DataFrame | None
    lead_times: pd.DataFrame | None
    series_assignments: pd.DataFrame
    cumulative_quantiles: pd.DataFrame
    daily_forecasts: pd.DataFrame
    demand: pd.DataFrame | None
    as_of: pd.Timestamp
    settings: ReplenishSettings
    open_purchase_orders: pd.DataFrame | None = None
    service_level_override: float | None = None
    customers: pd.DataFrame | None = None


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
    customers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One reorder line per active sku x location that has a forecast.

    The arguments are gathered into a :class:`ReorderInputs` and handed to
    :func:`reorder_lines`, which runs the named steps.

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
    customers : DataFrame, optional
        Per sku x location (restock.customers.exposure): customers_at_risk, revenue_at_risk,
        copied onto the lines (0 where absent or None); an optional ``service_uplift`` is
        added to the line's service target, never above ``service_level_cap``, unless an
        override is given (the customers' service-level uplift, off by default).

    Returns
    -------
    DataFrame
        The contract columns of reorder_recommendations, then abc_class, xyz_class,
        projected_stockout_date, stock_known, demand_class, pack_size, moq, and more extras.
    """
    return reorder_lines(ReorderInputs(
        products, stock_position, lead_times, series_assignments, cumulative_quantiles,
        daily_forecasts, demand, pd.Timestamp(as_of).normalize(), settings,
        open_purchase_orders, service_level_override, customers,
    ))


def reorder_lines(inputs: ReorderInputs) -> pd.DataFrame:
    """The reorder lines of :func:`build_reorder_lines`, step by step.

    1. the active series with a forecast (:func:`_planned_series`);
    2. their supply terms: lead time, pack, MOQ, max stock, cost (:func:`_item_terms`);
    3. ABC / XYZ classes (:func:`_with_classes`);
    4. demand over the protection interval (:func:`_protection_demand`);
    5. service targets: override, product, exchange curve or class (:func:`_service_targets`);
    6. reorder point and order-up-to level in whole units where sales are (:func:`_line_levels`);
    7. stock position, order quantity, stockout probability (:func:`_position_and_order`);
    8. days of cover and projected stockout date (:func:`_cover`);
    9. the table with an explanation per line (:func:`_assemble_lines`).
    """
    settings, as_of = inputs.settings, inputs.as_of
    prod = _active_products(inputs.products)
    series = _planned_series(inputs.series_assignments, prod, inputs.cumulative_quantiles)
    if len(series) == 0:
        return pd.DataFrame(columns=[*PUBLISHED_TABLES["reorder_recommendations"], *EXTRA_COLUMNS])
    terms = _item_terms(series, prod, inputs.lead_times, settings)
    series = _with_classes(series, prod, inputs.demand, as_of, settings)
    cum, protection = _protection_demand(inputs.cumulative_quantiles, series, terms, settings)
    targets = _service_targets(series, terms, cum, protection, settings,
                               inputs.service_level_override)
    exposure = _customer_exposure(series, inputs.customers)
    if inputs.service_level_override is None:
        targets = _with_uplift(targets, exposure)
    whole = _whole_units(series, inputs.demand, as_of)
    levels = _line_levels(cum, protection, terms, targets.target, whole, settings)
    position = _position_and_order(series, inputs.stock_position, levels, terms)
    cover = _cover(series, position, inputs.daily_forecasts, inputs.open_purchase_orders,
                   as_of, settings.days_of_cover_cap)
    return _assemble_lines(series, inputs, terms, targets, levels, position, cover)


@dataclass
class _ItemTerms:
    """Supply terms of the S series (arrays aligned with the series' rows)."""

    lead_time_mean: np.ndarray
    lead_time_std: np.ndarray
    lead_time_source: np.ndarray
    pack: np.ndarray
    moq: np.ndarray
    max_stock: np.ndarray
    unit_cost: np.ndarray
    own_target: np.ndarray  # the product's own service level (NaN: none)
    category: pd.Series | None  # the product's category, when dim_products has one


@dataclass
class _Targets:
    """Service-level target per series and where it came from."""

    target: np.ndarray
    source: np.ndarray  # "override", "product", "exchange_curve" or "class"


@dataclass
class _LineLevels:
    """Levels of the S series at their targets, in whole units where sales are."""

    policy: PolicyLevels
    spread: np.ndarray | None  # lot spread (settings.lot_adjustment)
    protection_quantile: np.ndarray
    reorder_point: np.ndarray
    order_up_to: np.ndarray
    safety_stock: np.ndarray


@dataclass
class _Position:
    """Stock position, the order to place now and the chance of running out before it lands."""

    known: np.ndarray
    on_hand: np.ndarray  # NaN when stock unknown
    on_order: np.ndarray
    backorders: np.ndarray
    position: np.ndarray  # NaN when stock unknown
    order_qty: np.ndarray
    stockout_probability: np.ndarray


@dataclass
class _Cover:
    """Mean daily forecast, days of cover and projected stockout date per series."""

    mean_daily: np.ndarray
    days_of_cover: np.ndarray
    stockout_date: pd.Series


def _active_products(products: pd.DataFrame) -> pd.DataFrame:
    prod = products.copy()
    if "active" in prod:
        prod = prod[prod["active"].fillna(True).astype(bool)]
    return prod


def _planned_series(series_assignments: pd.DataFrame, prod: pd.DataFrame,
                    cumulative_quantiles: pd.DataFrame) -> pd.DataFrame:
    """Series of active products that have a cumulative forecast, one row each."""
    series = series_assignments.merge(prod[["sku"]].drop_duplicates(), on="sku", how="inner")
    if len(series) < len(series_assignments):
        log.info("%d forecast series skipped: product inactive or not in dim_products",
                 len(series_assignments) - len(series))
    have_fc = pd.MultiIndex.from_frame(cumulative_quantiles[KEYS].drop_duplicates())
    has = pd.MultiIndex.from_frame(series[KEYS]).isin(have_fc)
    if (~has).any():
        log.warning("%d active series have no cumulative forecast: no reorder line",
                    int((~has).sum()))
    return series.loc[has].drop_duplicates(KEYS).reset_index(drop=True)


def _item_terms(series: pd.DataFrame, prod: pd.DataFrame, lead_times: pd.DataFrame | None,
                settings: ReplenishSettings) -> _ItemTerms:
    """Lead times (purchase orders or products) and the products' pack, MOQ, caps and costs."""
    n = len(series)
    p = prod.drop_duplicates("sku").set_index("sku")

    def pcol(name: str) -> pd.Series | None:
        return series["sku"].map(p[name]) if name in p else None

    lt = resolve_lead_times(series, prod, lead_times, settings.lead_time_min_receipts)
    return _ItemTerms(
        lead_time_mean=lt["lead_time_days"].to_numpy(dtype=float),
        lead_time_std=lt["lead_time_std_days"].to_numpy(dtype=float),
        lead_time_source=lt["lead_time_source"].to_numpy(),
        pack=np.maximum(_num(pcol("pack_size"), 1.0, n), 1.0),
        moq=np.maximum(_num(pcol("moq"), 1.0, n), 1.0),
        max_stock=_num(pcol("max_stock"), np.nan, n),
        unit_cost=_num(pcol("unit_cost"), np.nan, n),
        own_target=_num(pcol("service_level"), np.nan, n),
        category=pcol("category"),
    )


def _with_classes(series: pd.DataFrame, prod: pd.DataFrame, demand: pd.DataFrame | None,
                  as_of: pd.Timestamp, settings: ReplenishSettings) -> pd.DataFrame:
    """``series`` with abc_class and xyz_class ("C" and "Z" without demand history)."""
    if demand is not None and len(demand):
        cls = classify_series(demand, prod, as_of, settings)
        series = series.merge(cls[[*KEYS, "abc_class", "xyz_class"]], on=KEYS, how="left")
    else:
        series = series.assign(abc_class=np.nan, xyz_class=np.nan)
    series["abc_class"] = series["abc_class"].fillna("C")
    series["xyz_class"] = series["xyz_class"].fillna("Z")
    return series


def _protection_demand(cumulative_quantiles: pd.DataFrame, series: pd.DataFrame,
                       terms: _ItemTerms, settings: ReplenishSettings
                       ) -> tuple[CumulativeDemand, Mixture]:
    """Dense cumulative quantiles of the series and their demand over L + R."""
    cum = dense_cumulative(cumulative_quantiles, series[KEYS])
    beyond = terms.lead_time_mean + settings.review_days > cum.horizon
    if beyond.any():
        log.warning("%d series need demand beyond the %d-day cumulative horizon: extrapolated",
                    int(beyond.sum()), cum.horizon)
    protection = demand_mixture(cum, terms.lead_time_mean, terms.lead_time_std,
                                float(settings.review_days), settings.cover_earlier_orders)
    return cum, protection


def _service_targets(series: pd.DataFrame, terms: _ItemTerms, cum: CumulativeDemand,
                     protection: Mixture, settings: ReplenishSettings, override: float | None
                     ) -> _Targets:
    """Override for every series, else the product's own level, else the exchange curve (or
    the ABC x XYZ class default with settings.service_allocation = "class"). The exchange curve
    is the replay's: cycle service levels, or fill rates on units lost (objective fill_rate)
    whose demand-weighted mean is service_level_average."""
    n = len(series)
    own_target = terms.own_target
    class_target = (series["abc_class"] + series["xyz_class"]).map(settings.service_levels)
    target = np.where(np.isnan(own_target), class_target.fillna(0.9).to_numpy(dtype=float),
                      own_target)
    source = np.where(np.isnan(own_target), "class", "product")
    if override is not None:
        target = np.full(n, float(override))
        source = np.full(n, "override")
    elif settings.service_allocation == "exchange_curve":
        free = np.isnan(own_target)
        if free.any():
            lower, upper = settings.service_level_bounds
            average = np.array([settings.service_level_average])
            if settings.service_level_mode == "cycle":
                alloc = allocate_service_levels(protection, terms.unit_cost, average, lower,
                                                upper, free, lost_sales=settings.lost_sales)
            else:
                lead = demand_mixture(cum, terms.lead_time_mean, terms.lead_time_std, 0.0)
                alloc = allocate_fill_rates(
                    protection, np.maximum(protection.mean - lead.mean, 0.0), terms.unit_cost,
                    average, lower, upper, free,
                    lead=lead if settings.fill_rate_per_cycle else None)
            alloc = alloc[:, 0]
            target = np.where(free, alloc, target)
            source = np.where(free, "exchange_curve", source)
    return _Targets(target, source)


def _customer_exposure(series: pd.DataFrame, customers: pd.DataFrame | None) -> pd.DataFrame:
    """customers_at_risk, revenue_at_risk, service_uplift, service_level_cap aligned with
    ``series`` (0 / 0 / 0 / 1 where the item has no customer row)."""
    out = pd.DataFrame({"customers_at_risk": np.zeros(len(series), dtype="int64"),
                        "revenue_at_risk": np.zeros(len(series)),
                        "service_uplift": np.zeros(len(series)),
                        "service_level_cap": np.ones(len(series))})
    if customers is None or not len(customers):
        return out
    cols = [c for c in out.columns if c in customers]
    joined = series[KEYS].astype(str).merge(
        customers[[*KEYS, *cols]].astype(dict.fromkeys(KEYS, str)).drop_duplicates(KEYS),
        on=KEYS, how="left")
    for c in cols:
        out[c] = pd.to_numeric(joined[c], errors="coerce").fillna(out[c]).to_numpy(
            dtype=out[c].dtype)
    return out


def _with_uplift(targets: _Targets, exposure: pd.DataFrame) -> _Targets:
    """Targets raised by the customers' service uplift (never lowered, never above the cap)."""
    uplift = exposure["service_uplift"].to_numpy(dtype=float)
    if not (uplift > 0).any():
        return targets
    cap = exposure["service_level_cap"].to_numpy(dtype=float)
    raised = np.maximum(targets.target, np.minimum(targets.target + uplift, cap))
    changed = raised > targets.target
    source = np.where(changed, np.char.add(targets.source.astype(str), "+customers"),
                      targets.source)
    return _Targets(raised, source)


def _whole_units(series: pd.DataFrame, demand: pd.DataFrame | None,
                 as_of: pd.Timestamp) -> np.ndarray:
    """Series whose sales up to ``as_of`` are all whole units: floor(level) covers them too."""
    whole = np.zeros(len(series), dtype=bool)
    if demand is not None and len(demand) and "units_sold" in demand:
        past = demand[pd.to_datetime(demand["date"]) <= as_of]
        frac = (past["units_sold"] - past["units_sold"].round()).abs().fillna(0.0) > 1e-9
        fractional = frac.groupby([past[k] for k in KEYS]).any()
        whole = ~series[KEYS].merge(fractional.rename("_f").reset_index(), on=KEYS,
                                    how="left")["_f"].fillna(True).to_numpy(dtype=bool)
    return whole


def _line_levels(cum: CumulativeDemand, protection: Mixture, terms: _ItemTerms,
                 target: np.ndarray, whole: np.ndarray, settings: ReplenishSettings
                 ) -> _LineLevels:
    """Reorder point, order-up-to and safety stock at each series' own target."""
    spread = lot_spread(terms.pack, terms.moq, whole) if settings.lot_adjustment else None
    levels = policy_levels(cum, terms.lead_time_mean, terms.lead_time_std, target[:, None],
                           settings.review_days, settings.service_level_mode, terms.max_stock,
                           settings.order_up_to_review_periods, spread,
                           settings.cover_earlier_orders, settings.lost_sales, protection,
                           settings.fill_rate_per_cycle)
    plain_point = whole_unit_level(levels.protection_quantile[:, 0], whole)
    reorder_point = whole_unit_level(levels.reorder_point[:, 0], whole)
    order_up_to = np.maximum(whole_unit_level(levels.order_up_to[:, 0], whole), reorder_point)
    safety_stock = np.minimum(np.maximum(reorder_point - levels.lead_time_demand, 0.0),
                              reorder_point)
    return _LineLevels(levels, spread, plain_point, reorder_point, order_up_to, safety_stock)


def _position_and_order(series: pd.DataFrame, stock_position: pd.DataFrame | None,
                        levels: _LineLevels, terms: _ItemTerms) -> _Position:
    """Inventory position where stock is known, the order it calls for and P(stockout in L)."""
    n = len(series)
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
    qty = order_quantity(np.where(known, position, np.inf), levels.reorder_point,
                         levels.order_up_to, terms.pack, terms.moq)
    stockout_prob = np.full(n, np.nan)
    if known.any():
        cdf = levels.policy.lead_demand.cdf(np.where(known, position, 0.0)[:, None])[:, 0]
        stockout_prob = np.where(known, np.clip(1.0 - cdf, 0.0, 1.0), np.nan)
    return _Position(known, on_hand, on_order, backorders, position, qty, stockout_prob)


def _cover(series: pd.DataFrame, position: _Position, daily_forecasts: pd.DataFrame,
           open_purchase_orders: pd.DataFrame | None, as_of: pd.Timestamp, cap: float
           ) -> _Cover:
    """Days of cover and projected stockout date from the daily mean forecast after as_of."""
    fc = daily_forecasts.loc[pd.to_datetime(daily_forecasts["date"]) > as_of,
                             [*KEYS, "date", "forecast"]].copy()
    fc["date"] = pd.to_datetime(fc["date"])
    mean_daily = series[KEYS].merge(
        fc.groupby(KEYS, as_index=False)["forecast"].mean(), on=KEYS, how="left"
    )["forecast"].fillna(0.0).to_numpy()
    on_hand, known = position.on_hand, position.known
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(mean_daily > 0, on_hand / mean_daily, cap)
    cover = np.where(known, np.minimum(cover, cap), np.nan)
    stockout_date = projected_stockout_dates(series[KEYS], on_hand, fc, open_purchase_orders)
    return _Cover(mean_daily, cover, stockout_date.where(known))


def _assemble_lines(series: pd.DataFrame, inputs: ReorderInputs, terms: _ItemTerms,
                    targets: _Targets, levels: _LineLevels, position: _Position, cover: _Cover
                    ) -> pd.DataFrame:
    """The reorder_recommendations columns, then the extras, with an explanation per line."""
    settings, as_of, n = inputs.settings, inputs.as_of, len(series)
    known = position.known
    lines = series[KEYS].copy()
    lines["category"] = series["category"] if "category" in series else terms.category
    lines["model"] = series["model"] if "model" in series else None
    lines["on_hand"] = position.on_hand
    lines["on_order"] = position.on_order
    lines["inventory_position"] = np.where(known, position.position, np.nan)
    lines["lead_time_days"] = terms.lead_time_mean
    lines["review_days"] = settings.review_days
    lines["lead_time_demand"] = levels.policy.lead_time_demand
    lines["safety_stock"] = levels.safety_stock
    lines["reorder_point"] = levels.reorder_point
    lines["order_up_to"] = levels.order_up_to
    lines["recommended_order_qty"] = position.order_qty
    lines["days_of_cover"] = cover.days_of_cover
    lines["stockout_probability"] = position.stockout_probability
    lines["service_level_target"] = targets.target
    lines["abc_class"] = series["abc_class"].to_numpy()
    lines["xyz_class"] = series["xyz_class"].to_numpy()
    lines["projected_stockout_date"] = cover.stockout_date.to_numpy()
    lines["stock_known"] = known
    lines["demand_class"] = series["demand_class"] if "demand_class" in series else None
    lines["pack_size"] = terms.pack
    lines["moq"] = terms.moq
    lines["lead_time_std_days"] = terms.lead_time_std
    lines["lead_time_source"] = terms.lead_time_source
    lines["review_period_demand"] = levels.policy.review_demand
    lines["mean_daily_forecast"] = cover.mean_daily
    lines["max_stock"] = terms.max_stock
    lines["backorders"] = position.backorders
    lines["next_possible_arrival"] = as_of + pd.to_timedelta(np.ceil(terms.lead_time_mean),
                                                             unit="D")
    lines["plan_date"] = as_of
    lines["service_level_source"] = targets.source
    lines["protection_quantile"] = levels.protection_quantile
    lines["lot_spread"] = levels.spread if levels.spread is not None else np.zeros(n)
    lines["explanation"] = explain_lines(lines, series, levels.policy, settings)
    exposure = _customer_exposure(series, inputs.customers)
    lines["customers_at_risk"] = exposure["customers_at_risk"].to_numpy(dtype="int64")
    lines["revenue_at_risk"] = exposure["revenue_at_risk"].to_numpy(dtype=float)
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


def _num(s: pd.Series | None, default: float, n: int) -> np.ndarray:
    if s is None:
        return np.full(n, default)
    return pd.to_numeric(s, errors="coerce").fillna(default).to_numpy(dtype=float)
