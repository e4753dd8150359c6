"""Explanations: one sentence per reorder line that a buyer can check by hand.

Each sentence walks the numbers of its line in order: the forecast and its backtest score, the
lead time and review period, the demand over the protection interval and the quantile taken at
the target (lowered for ordering in lots when it was), the reorder point and safety stock, then
the position against the reorder point and how the order was rounded to packs and the MOQ.
Stock unknown lines say what to compare a shelf count with.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from restock.inventory.levels import PolicyLevels, lost_sales_quantile
from restock.inventory.settings import ReplenishSettings


def explain_lines(
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


def _plural(n: float, word: str) -> str:
    return word if abs(n - 1) < 1e-9 else word + "s"


def _fmt(x: float) -> str:
    """A quantity for a sentence: whole numbers without decimals, else one decimal."""
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:.0f}" if abs(x - round(x)) < 0.05 or abs(x) >= 100 else f"{x:.1f}"
