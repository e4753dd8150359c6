"""The policy replay: stockout rate against inventory for Restock and the static rule, and what
transfers between locations add (policy recommended_transfers) at the same inventory."""

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

TRANSFER_POLICY = "recommended_transfers"
POLICY_NAMES = {"recommended": "Restock", TRANSFER_POLICY: "Restock with transfers"}


def frontier_section(replay: pd.DataFrame, headline: dict | None, page: Page,
                     comparison: pd.DataFrame | None = None) -> str:
    """The frontier figure and table; ``comparison`` (policy_replay_comparison) adds the table
    of what transfers add when the replay played them."""
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
        service = policy in POLICY_NAMES
        param_text = (fmt_level(param) if service and finite(param) is not None
                      and param < 1 else f"{fmt_num(param, 0)} days" if policy == "static"
                      else fmt_num(param, 2))
        rows.append([
            esc(POLICY_NAMES.get(policy, policy)), param_text,
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
        + transfers_block(comparison)
    )


def transfers_block(comparison: pd.DataFrame | None) -> str:
    """What transfers add: at each point of Restock's frontier with transfers, its stockout
    rate and lost units against Restock's without transfers at the same inventory."""
    if is_empty(comparison) or "compared_with" not in comparison.columns:
        return ""
    rows = comparison.loc[comparison["compared_with"].astype(str) == TRANSFER_POLICY]
    if rows.empty:
        return ""
    rows = rows.sort_values("static_parameter")
    value = str(rows["inventory_measure"].iloc[0]) == "avg_inventory_value"
    inside = rows.loc[rows["within_frontier"].astype(bool)]
    cuts = pd.to_numeric(inside.get("transfers_stockout_cut"), errors="coerce").dropna()
    if cuts.empty:
        said = ("No point of the frontier with transfers falls inside Restock's frontier: no "
                "comparison at the same inventory.")
    else:
        lose = int((cuts < 0).sum())
        said = (f"At the same inventory {'value' if value else '(units)'}, transfers change the "
                f"stockout rate by {_signed(-cuts.max())} to {_signed(-cuts.min())} at the "
                f"{len(cuts)} comparable points"
                + (f"; they do not help at {lose} of them." if lose else "."))
    body = []
    for r in rows.to_dict("records"):
        body.append([
            fmt_level(r.get("static_parameter")),
            fmt_num(r.get("static_avg_inventory"), 0),
            fmt_pct(r.get("static_stockout_rate"), 2),
            fmt_pct(r.get("restock_stockout_rate_at_same_inventory"), 2),
            fmt_pct(r.get("transfers_stockout_cut"), 0),
            fmt_num(r.get("static_lost_units"), 0),
            fmt_num(r.get("restock_lost_units_at_same_inventory"), 0),
            fmt_pct(r.get("transfers_lost_units_cut"), 0),
            fmt_num(r.get("units_transferred"), 0),
            "yes" if bool(r.get("within_frontier")) else "no (not compared)",
        ])
    return (
        f'<h3>What transfers between locations add</h3><p>{esc(said)} Each row is one service '
        "level of Restock's policy replayed with the transfer planner run at every review "
        "before the orders (lane lead times, units leave the source at once); it is compared "
        "with Restock without transfers at the same average inventory.</p>"
        + table([("service level", ""),
                 (f"avg inventory ({'value' if value else 'units'})", "num"),
                 ("stockout rate with transfers", "num"), ("without, same inventory", "num"),
                 ("cut", "num"), ("lost units with", "num"), ("without", "num"),
                 ("cut", "num"), ("units moved", "num"), ("within frontier", "")], body)
    )


def _signed(change: float) -> str:
    """A relative change as "-12%" / "+3%"."""
    return f"{100 * change:+.0f}%"
