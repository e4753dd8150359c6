"""The demo chain's supplier terms and transfer lanes (issue 19), fixed: no random draws.

They take nothing from the generator, so every other table of a seed stays byte-identical
whether or not these two are written.

Suppliers are the eight of ``chain.CATEGORIES`` with their nominal lead times; their terms mix
what a buyer meets: minimum order values (and one minimum in units), one to three order days a
week, case sizes (the pack of products without their own pack_size) and express delivery at a
surcharge for five of them. Lanes join the five stores both ways: 1 day between neighbouring
regions (east coast, Midwest / Mountain, Mountain / West), 2 days otherwise; the online shop and
the distribution centre have none (their stock is not shelf stock to move).
"""

from __future__ import annotations

import pandas as pd

from restock.feed.demo.chain import CATEGORIES, LOCATIONS

# supplier -> (min_order_value, min_order_units, order_weekdays, case_size,
#              express_lead_time_days, express_cost_pct); lead time from CATEGORIES
SUPPLIER_TERMS: dict[str, tuple[float, float | None, str, int | None, float | None,
                                float | None]] = {
    "FRESHFARM": (150.0, None, "mon,wed,fri", 6, None, None),
    "DAILYDAIRY": (200.0, None, "tue,fri", 6, 1.0, 15.0),
    "PANTRYCO": (500.0, None, "mon,thu", 12, 2.0, 10.0),
    "BEVWORKS": (400.0, 48.0, "wed", 24, None, None),
    "CLEANPRO": (300.0, None, "tue", 6, 3.0, 12.0),
    "HOMEGOODS": (600.0, None, "mon", 4, 5.0, 20.0),
    "PLAYTIME": (800.0, None, "thu", 2, 7.0, 25.0),
    "FUNFACTORY": (1000.0, None, "fri", None, None, None),
}

# unordered store pairs one day apart; every other pair of stores is two days apart
NEAR_STORES = frozenset({frozenset(p) for p in (
    ("S01", "S03"), ("S02", "S04"), ("S04", "S05"), ("S02", "S03"),
)})
LANE_COST_PER_UNIT = {1: 0.20, 2: 0.35}


def suppliers_table() -> pd.DataFrame:
    """The contract's ``suppliers`` table for the demo chain."""
    lead = {name: days for cat in CATEGORIES.values() for name, days, _ in cat.suppliers}
    rows = []
    for supplier, (value, units, days, case, express, pct) in SUPPLIER_TERMS.items():
        rows.append({
            "supplier": supplier,
            "lead_time_days": lead[supplier],
            "min_order_value": value,
            "min_order_units": units,
            "order_weekdays": days,
            "case_size": case,
            "express_lead_time_days": express,
            "express_cost_pct": pct,
        })
    frame = pd.DataFrame(rows)
    for c in ("case_size",):
        frame[c] = frame[c].astype("Int64")
    return frame


def transfer_lanes_table() -> pd.DataFrame:
    """The contract's ``transfer_lanes`` table: every ordered pair of distinct stores."""
    stores = [loc[0] for loc in LOCATIONS if loc[3] == "store"]
    rows = []
    for a in stores:
        for b in stores:
            if a == b:
                continue
            days = 1 if frozenset((a, b)) in NEAR_STORES else 2
            rows.append({"from_location": a, "to_location": b, "lead_time_days": days,
                         "cost_per_unit": LANE_COST_PER_UNIT[days]})
    return pd.DataFrame(rows)
