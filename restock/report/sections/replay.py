"""The policy replay: stockout rate against inventory for Restock and the static rule."""

from __future__ import annotations

import numpy as np
import pandas as pd

import restock.report.data as prep
import restock.report.figures as figures
from restock.report.chrome import Page
from restock.report.data import is_empty, missing_columns
from restock.report.formatting import (
    defs,
    empty,
    esc,
    finite,
    fmt_level,
    fmt_num,
    fmt_pct,
    lacks,
    table,
)
from restock.report.sections.summary import NO_REPLAY_YET, headline_numbers, replay_dating


def frontier_section(replay: pd.DataFrame, headline: dict | None, page: Page) -> str:
    needed = ["policy", "parameter", "category", "avg_inventory_units", "stockout_rate"]
    if is_empty(replay):
        return empty(f"No policy replay to show: {NO_REPLAY_YET} (it needs enough sales "
                     "history before the planning date).")
    if missing_columns(replay, needed):
        return lacks(replay, needed, "policy replay")
    measure = (headline or {}).get("inventory_measure")
    totals, axis = prep.frontier(replay, measure if isinstance(measure, str) else None)
    static_point = None
    numbers = headline_numbers(headline)
    if numbers is not None:
        param = finite(headline.get("static_parameter"))  # type: ignore[union-attr]
        static_rows = totals.loc[(totals["policy"].astype(str) == "static")
                                 & np.isclose(totals["parameter"].astype(float), param or -1)]
        if len(static_rows):
            static_point = {"x": float(static_rows[axis].iloc[0]), "y": numbers[0]}
        elif axis == "avg_inventory_units" and finite(headline.get("static_avg_inventory")):
            static_point = {"x": float(headline["static_avg_inventory"]), "y": numbers[0]}
    fig = page.figure(
        figures.frontier_figure(totals, axis, headline, static_point),
        "Each Restock point is one service-level target; each static point is one buffer of days "
        "of cover. The red circle is the static rule of the headline, the star Restock at the "
        "same inventory.",
    )
    rows = []
    for r in totals.to_dict("records"):
        policy = str(r["policy"])
        param = r.get("parameter")
        param_text = (fmt_level(param) if policy == "recommended" and finite(param) is not None
                      and param < 1 else f"{fmt_num(param, 0)} days" if policy == "static"
                      else fmt_num(param, 2))
        rows.append([
            "Restock" if policy == "recommended" else esc(policy), param_text,
            fmt_num(r.get("avg_inventory_units"), 1), fmt_num(r.get("avg_inventory_value"), 0),
            fmt_pct(r.get("stockout_rate"), 2), fmt_pct(r.get("fill_rate"), 1),
            fmt_num(r.get("orders")),
        ])
    dating = replay_dating(replay)
    return (
        (f'<p class="note">{esc(dating)}</p>' if dating else "")
        + defs([
            ("Stockout rate", "share of SKU-location-days with unmet demand in the replay."),
            ("Average inventory", "mean stock on hand over the replay days."),
            ("Fill rate", "units served / units demanded."),
        ])
        + f'<div class="plots">{fig}</div>'
        + table([("policy", ""), ("parameter", ""), ("avg inventory (units)", "num"),
                 ("avg inventory (value)", "num"), ("stockout rate", "num"),
                 ("fill rate", "num"), ("orders", "num")], rows)
    )
