"""Purchase orders per supplier: reorder lines grouped into the orders a buyer places.

Rules (each proposal says which one applied in ``rule_applied``)
---------------------------------------------------------------
* Grouping: the reorder lines with a positive quantity (after transfers) are grouped by the
  product's supplier; the order date is the supplier's next order day on or after as_of
  (``order_weekdays``, e.g. ``mon,thu``; empty = every day). One regular proposal per supplier
  and order date, plus one expedite proposal when some lines need it.
* Pack and MOQ: quantities are rounded UP to whole packs, then raised to the MOQ in whole packs.
  The pack is the product's pack_size when it is above 1, else the supplier's case_size
  (a default for its products), else 1.
* Expedite (``expedite``): a line projected to run out before its regular delivery (next order
  day + lead time), when the supplier has express_lead_time_days and the express order
  (placed on as_of) arrives earlier than the regular one, goes to an express proposal dated
  as_of, expected as_of + express lead time; its ``express_cost`` is value x express_cost_pct /
  100. The supplier's minimum is waived for express orders (min_order_met still says whether it
  was reached).
* Minimum (min_order_value on sum(qty x unit_cost), min_order_units on sum(qty)):
  - met, or no minimum: ``minimum_met`` / ``no_minimum``; a supplier absent from the suppliers
    table: ``no_supplier_terms`` (behaviour as without the table: lines as they are).
  - missed, and no item of the proposal is projected to run out before the delivery of the
    next order day: ``deferred``. The proposal moves to that day (no extra stock is bought; the
    next run sees the lines again with one more day of demand). Deferral comes first because it
    buys nothing the items do not need.
  - missed, and some item would run out if deferred: ``topped_up``. Items of the same supplier
    are raised, nearest to their reorder point first (days of cover above the reorder point:
    (position + qty - reorder_point) / mean daily demand), in whole packs, each up to
    min(order_up_to, max_stock) (rounded DOWN to packs, so a top-up never exceeds either), an
    item not yet ordered only by at least its MOQ, until the minimum is met. When even all that
    headroom does not reach it: ``topped_up_short`` and min_order_met = False, the proposal
    still goes out (an item would run out otherwise) and says so.
* Coverage: every reorder line with a positive quantity is in exactly one purchase order line;
  a positive line that cannot be placed (stock unknown) is returned in ``unplaced`` with its
  reason.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from restock.contract import ACTION_INPUT_TABLES, ACTION_PUBLISHED_TABLES

log = logging.getLogger("restock.inventory.purchase_orders")

KEYS = ["sku", "location"]
SUPPLIER_COLUMNS = ACTION_INPUT_TABLES["suppliers"].column_names
PROPOSAL_COLUMNS = ACTION_PUBLISHED_TABLES["purchase_order_proposals"]
PROPOSAL_EXTRA_COLUMNS = ("kind", "min_order_value", "min_order_units", "express_cost", "note")
PO_LINE_COLUMNS = ACTION_PUBLISHED_TABLES["purchase_order_lines"]
PO_LINE_EXTRA_COLUMNS = (
    "supplier", "reorder_qty", "topup_qty", "unit_cost", "value", "pack", "moq",
)
RULES = ("minimum_met", "no_minimum", "no_supplier_terms", "deferred", "topped_up",
         "topped_up_short", "expedite")
WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


@dataclass(frozen=True)
class PurchaseOrderSettings:
    """How proposals are formed.

    Attributes
    ----------
    unknown_supplier : str
        Supplier name for products without one.
    first_order_offset_days : int
        Order days are counted from as_of + this (0: an order can go out on as_of itself).
    """

    unknown_supplier: str = "(no supplier)"
    first_order_offset_days: int = 0


@dataclass
class PurchasePlan:
    """Result of :func:`build_purchase_orders`."""

    proposals: pd.DataFrame  # purchase_order_proposals (+ PROPOSAL_EXTRA_COLUMNS)
    lines: pd.DataFrame  # purchase_order_lines (+ PO_LINE_EXTRA_COLUMNS)
    unplaced: pd.DataFrame  # sku, location, qty, reason: positive lines not ordered


# ------------------------------------------------------------------------------------------------
# Rounding and calendar
# ------------------------------------------------------------------------------------------------
def pack_round(qty, pack, moq) -> np.ndarray:
    """Round UP to whole packs, then raise to the MOQ in whole packs; <= 0 gives 0."""
    raw = np.asarray(qty, dtype=float)
    p = np.asarray(pack, dtype=float)
    p = np.where(np.isfinite(p) & (p > 0), p, 1.0)
    m = np.asarray(moq, dtype=float)
    m = np.where(np.isfinite(m) & (m > 0), m, 1.0)
    packs = np.ceil(np.maximum(np.nan_to_num(raw), 0.0) / p - 1e-9)
    min_packs = np.ceil(m / p - 1e-9)
    return np.where(np.nan_to_num(raw) > 1e-9, np.maximum(packs, min_packs) * p, 0.0)


def pack_floor(qty, pack) -> np.ndarray:
    """Round DOWN to whole packs (never negative)."""
    raw = np.maximum(np.nan_to_num(np.asarray(qty, dtype=float)), 0.0)
    p = np.asarray(pack, dtype=float)
    p = np.where(np.isfinite(p) & (p > 0), p, 1.0)
    return np.floor(raw / p + 1e-9) * p


def parse_weekdays(text) -> frozenset[int]:
    """``"mon,thu"`` -> {0, 3}; empty or missing -> every day. Unknown names raise ValueError."""
    if text is None or (isinstance(text, float) and math.isnan(text)) or not str(text).strip():
        return frozenset(range(7))
    days = set()
    for part in re.split(r"[,;/ ]+", str(text).strip().lower()):
        if not part:
            continue
        if part[:3] not in WEEKDAYS:
            raise ValueError(f"unknown weekday {part!r} in order_weekdays {text!r}")
        days.add(WEEKDAYS[part[:3]])
    return frozenset(days)


def next_order_day(start: pd.Timestamp, weekdays: frozenset[int]) -> pd.Timestamp:
    """The first day on or after ``start`` whose weekday is in ``weekdays``."""
    start = pd.Timestamp(start).normalize()
    for i in range(7):
        day = start + pd.Timedelta(days=i)
        if day.weekday() in weekdays:
            return day
    return start


def days_to_next_order(
    lines: pd.DataFrame,
    products: pd.DataFrame | None,
    suppliers: pd.DataFrame | None,
    as_of: pd.Timestamp | str,
    settings: PurchaseOrderSettings | None = None,
) -> np.ndarray:
    """Days from ``as_of`` to each line's supplier's next order weekday (0 when ``as_of`` is
    one). A line's supplier is its ``supplier`` column, else its product's; a supplier missing
    from ``suppliers``, or with no order_weekdays, orders every day (0)."""
    settings = settings or PurchaseOrderSettings()
    as_of = pd.Timestamp(as_of).normalize()
    terms = _terms(suppliers)
    if not terms or not len(lines):
        return np.zeros(len(lines))
    wait = {name: float((next_order_day(as_of, t["weekdays"]) - as_of).days)
            for name, t in terms.items()}
    supplier = _line_suppliers(lines.reset_index(drop=True), products, settings)
    return supplier.map(wait).fillna(0.0).to_numpy(dtype=float)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", str(text)).strip("-")[:40] or "supplier"


def _days(x: float) -> pd.Timedelta:
    return pd.Timedelta(days=math.ceil(max(float(x), 0.0) - 1e-9))


def _fmt(x: float) -> str:
    return f"{x:.0f}" if abs(x - round(x)) < 0.05 or abs(x) >= 100 else f"{x:.1f}"


# ------------------------------------------------------------------------------------------------
# Proposals
# ------------------------------------------------------------------------------------------------
def build_purchase_orders(
    lines: pd.DataFrame,
    products: pd.DataFrame | None,
    suppliers: pd.DataFrame | None,
    as_of: pd.Timestamp | str,
    settings: PurchaseOrderSettings | None = None,
) -> PurchasePlan:
    """Group reorder lines into purchase order proposals per supplier (rules: module docstring).

    Parameters
    ----------
    lines : DataFrame
        Reorder lines after transfers: sku, location, recommended_order_qty, inventory_position,
        reorder_point, order_up_to, lead_time_days, mean_daily_forecast, on_hand; optional
        supplier, unit_cost, pack_size, moq, max_stock, stock_known, projected_stockout_date,
        transfer_in.
    products : DataFrame or None
        sku, supplier, unit_cost (used when the lines do not carry them).
    suppliers : DataFrame or None
        The feed's suppliers table (SUPPLIER_COLUMNS). None: no minimums, every day an order
        day, no expedite: each supplier's lines become one proposal as they are.
    as_of : date
    settings : PurchaseOrderSettings, optional

    Returns
    -------
    PurchasePlan
    """
    settings = settings or PurchaseOrderSettings()
    as_of = pd.Timestamp(as_of).normalize()
    df = _prepare(lines, products, suppliers, as_of, settings)
    terms = _terms(suppliers)
    proposals, po_lines, unplaced = [], [], []
    positive = df["recommended_order_qty"] > 1e-9
    bad = positive & ~df["stock_known"]
    for r in df[bad].itertuples():
        unplaced.append({"sku": r.sku, "location": r.location, "qty": r.recommended_order_qty,
                         "reason": "stock unknown: count the shelf before ordering"})
    for supplier, group in df[df["stock_known"]].groupby("supplier", sort=True):
        if not (group["recommended_order_qty"] > 1e-9).any():
            continue
        t = terms.get(supplier)
        p, ln = _supplier_orders(supplier, group, t, as_of, settings)
        proposals += p
        po_lines += ln
    prop = _frame(proposals, [*PROPOSAL_COLUMNS, *PROPOSAL_EXTRA_COLUMNS])
    pol = _frame(po_lines, [*PO_LINE_COLUMNS, *PO_LINE_EXTRA_COLUMNS])
    unp = _frame(unplaced, ["sku", "location", "qty", "reason"])
    if len(prop):
        log.info("%d purchase order proposals (%s) for %d lines, %d unplaced", len(prop),
                 ", ".join(f"{k} {v}" for k, v in prop["rule_applied"].value_counts().items()),
                 len(pol), len(unp))
    return PurchasePlan(prop, pol, unp)


_DTYPES = {"order_date": "datetime64[ns]", "expected_date": "datetime64[ns]", "lines": "int64",
           "min_order_met": "bool"}
_TEXT = {"supplier", "proposal_id", "rule_applied", "kind", "note", "sku", "location", "reason"}


def _frame(records: list[dict], columns: list[str]) -> pd.DataFrame:
    """Records as a frame with stable dtypes, also when there are none."""
    if records:
        return pd.DataFrame(records, columns=columns)
    return pd.DataFrame({c: pd.Series(dtype=_DTYPES.get(c, object if c in _TEXT else float))
                         for c in columns})


def _terms(suppliers: pd.DataFrame | None) -> dict[str, dict]:
    if suppliers is None or not len(suppliers):
        return {}
    s = suppliers.copy()
    for c in SUPPLIER_COLUMNS[1:]:
        if c not in s:
            s[c] = np.nan
    out = {}
    for r in s.drop_duplicates("supplier").to_dict("records"):
        num = {c: pd.to_numeric(pd.Series([r[c]]), errors="coerce").iloc[0]
               for c in SUPPLIER_COLUMNS[1:] if c != "order_weekdays"}
        out[str(r["supplier"])] = {**num, "weekdays": parse_weekdays(r["order_weekdays"])}
    return out


def _line_suppliers(lines: pd.DataFrame, products: pd.DataFrame | None,
                    settings: PurchaseOrderSettings) -> pd.Series:
    """Each line's supplier: its own ``supplier``, else its product's, else
    settings.unknown_supplier (as text)."""
    if "supplier" in lines:
        supplier = lines["supplier"]
    elif products is not None and len(products) and "supplier" in products:
        supplier = lines["sku"].map(products.drop_duplicates("sku").set_index("sku")["supplier"])
    else:
        supplier = pd.Series(np.nan, index=lines.index, dtype=object)
    supplier = supplier.where(supplier.notna() & (supplier.astype(str).str.strip() != ""),
                              settings.unknown_supplier)
    return supplier.astype(str)


def _prepare(lines, products, suppliers, as_of, settings) -> pd.DataFrame:
    df = lines.copy().reset_index(drop=True)
    prod = products.drop_duplicates("sku").set_index("sku") if products is not None \
        and len(products) else pd.DataFrame()
    df["supplier"] = _line_suppliers(df, products, settings)
    if "unit_cost" not in df:
        df["unit_cost"] = df["sku"].map(prod["unit_cost"]) if "unit_cost" in prod else np.nan
    num = {c: pd.to_numeric(df[c], errors="coerce") if c in df else pd.Series(np.nan,
           index=df.index) for c in ("recommended_order_qty", "inventory_position",
                                     "reorder_point", "order_up_to", "lead_time_days",
                                     "mean_daily_forecast", "on_hand", "on_order", "unit_cost",
                                     "pack_size", "moq", "max_stock", "transfer_in")}
    for c, v in num.items():
        df[c] = v
    df["recommended_order_qty"] = df["recommended_order_qty"].fillna(0.0)
    known = df["inventory_position"].notna()
    if "stock_known" in lines:
        known &= lines["stock_known"].fillna(False).astype(bool).to_numpy()
    df["stock_known"] = known
    case = df["supplier"].map({str(k): v for k, v in (suppliers.set_index("supplier")
                                                        ["case_size"].items())}) \
        if suppliers is not None and len(suppliers) and "case_size" in suppliers else np.nan
    case = pd.to_numeric(pd.Series(case, index=df.index), errors="coerce")
    own = df["pack_size"]
    df["pack"] = np.where(own > 1, own, np.where(case >= 1, case, 1.0))
    df["moq"] = df["moq"].where(df["moq"] >= 1, 1.0)
    df["lead_time_days"] = df["lead_time_days"].fillna(1.0)
    df["mean_daily_forecast"] = df["mean_daily_forecast"].fillna(0.0).clip(lower=0.0)
    df["transfer_in"] = df["transfer_in"].fillna(0.0)
    # Projected stockout date: the line's own when it has one and nothing is in transit to it,
    # else on hand (plus units in transit) over the mean daily forecast.
    with np.errstate(divide="ignore", invalid="ignore"):
        days = np.where(df["mean_daily_forecast"] > 0,
                        (df["on_hand"].fillna(0.0) + df["transfer_in"])
                        / df["mean_daily_forecast"], np.inf)
    days = np.minimum(days, 10_000)
    fallback = pd.Series(as_of + pd.to_timedelta(np.floor(days), unit="D"), index=df.index)
    fallback[df["mean_daily_forecast"] <= 0] = pd.NaT
    if "projected_stockout_date" in df:
        own_date = pd.to_datetime(df["projected_stockout_date"])
        df["stockout_date"] = own_date.where(df["transfer_in"] <= 0, fallback)
    else:
        df["stockout_date"] = fallback
    return df


def _runs_out_before(group: pd.DataFrame, delivery: pd.Series) -> pd.Series:
    """Lines projected to run out before ``delivery`` (per line)."""
    return group["stockout_date"].notna() & (group["stockout_date"] < delivery)


def _supplier_orders(supplier, group, t, as_of, settings) -> tuple[list[dict], list[dict]]:
    g = group.copy()
    g["qty"] = pack_round(g["recommended_order_qty"], g["pack"], g["moq"])
    g["reorder_qty"] = g["qty"]
    g["topup_qty"] = 0.0
    g["reason"] = ""
    base_reason = ("Reorder: position " + g["inventory_position"].map(_fmt) + " <= reorder point "
                   + g["reorder_point"].map(_fmt) + ", order up to " + g["order_up_to"].map(_fmt))
    g.loc[g["qty"] > 0, "reason"] = base_reason[g["qty"] > 0]
    weekdays = t["weekdays"] if t else frozenset(range(7))
    start = as_of + pd.Timedelta(days=settings.first_order_offset_days)
    order_date = next_order_day(start, weekdays)
    lead = g["lead_time_days"]
    if t and np.isfinite(t["lead_time_days"]):
        lead = lead.fillna(t["lead_time_days"])
    regular_delivery = order_date + pd.to_timedelta(np.ceil(lead - 1e-9), unit="D")
    proposals, po_lines = [], []
    slug = _slug(supplier)
    regular = g["qty"] > 0

    # Expedite: express (ordered today) arrives before the regular delivery and the line runs
    # out before that regular delivery.
    express_lt = t["express_lead_time_days"] if t else np.nan
    if np.isfinite(express_lt):
        express_date = as_of + _days(express_lt)
        rush = regular & _runs_out_before(g, regular_delivery) & (express_date < regular_delivery)
        if rush.any():
            x = g[rush].copy()
            x["reason"] = ("Expedite: projected to run out on "
                           + x["stockout_date"].dt.strftime("%Y-%m-%d") + ", before the regular "
                           "delivery on " + regular_delivery[rush].dt.strftime("%Y-%m-%d")
                           + f"; express arrives {express_date:%Y-%m-%d}. " + x["reason"])
            pid = f"{as_of:%Y%m%d}-{slug}-X"
            pct = t["express_cost_pct"] if np.isfinite(t["express_cost_pct"]) else 0.0
            prop = _proposal(supplier, pid, as_of, express_date, x, t, "expedite")
            prop["express_cost"] = prop["value"] * pct / 100.0
            prop["note"] = (f"express order: minimum waived; extra cost {pct:g}% of value"
                            + ("" if prop["min_order_met"] else " (minimum not reached)"))
            proposals.append(prop)
            po_lines += _po_lines(pid, supplier, x)
            regular &= ~rush
    if not regular.any():
        return proposals, po_lines

    pid = f"{as_of:%Y%m%d}-{slug}-R"
    r = g[regular].copy()
    expected = regular_delivery[regular].max()
    if not t:
        prop = _proposal(supplier, pid, order_date, expected, r, t, "no_supplier_terms")
        prop["note"] = "supplier not in the suppliers table: no minimum, order days or express"
        return proposals + [prop], po_lines + _po_lines(pid, supplier, r)
    if not _has_minimum(t):
        prop = _proposal(supplier, pid, order_date, expected, r, t, "no_minimum")
        return proposals + [prop], po_lines + _po_lines(pid, supplier, r)
    if _meets(r, t):
        prop = _proposal(supplier, pid, order_date, expected, r, t, "minimum_met")
        return proposals + [prop], po_lines + _po_lines(pid, supplier, r)

    # Minimum missed: defer when nothing runs out before the next order day's delivery.
    next_day = next_order_day(order_date + pd.Timedelta(days=1), weekdays)
    deferred_delivery = next_day + pd.to_timedelta(np.ceil(lead[regular] - 1e-9), unit="D")
    if not _runs_out_before(r, deferred_delivery).any():
        r["reason"] = (f"Deferred to the order day {next_day:%Y-%m-%d}: the minimum is not met "
                       "and no item of the order runs out before its delivery then. "
                       + r["reason"])
        prop = _proposal(supplier, pid, next_day, deferred_delivery.max(), r, t, "deferred")
        prop["note"] = (f"minimum missed ({_shortfall(r, t)}); deferred from {order_date:%Y-%m-%d}"
                        f" to {next_day:%Y-%m-%d}")
        return proposals + [prop], po_lines + _po_lines(pid, supplier, r)

    # Else top up with the items nearest to their reorder point, within order-up-to / max stock.
    pool = g[~g.index.isin(g.index[g["qty"] > 0].difference(r.index))].copy()  # no expedited
    pool = _top_up(pool, t)
    r = pool[pool["qty"] > 0].copy()
    met = _meets(r, t)
    rule = "topped_up" if met else "topped_up_short"
    delivery = order_date + pd.to_timedelta(np.ceil(r["lead_time_days"] - 1e-9), unit="D")
    prop = _proposal(supplier, pid, order_date, delivery.max(), r, t, rule)
    prop["note"] = ("minimum reached by topping up the items nearest to their reorder point"
                    if met else f"minimum not reachable within order-up-to and max stock "
                    f"({_shortfall(r, t)}); sent anyway: an item would run out if deferred")
    return proposals + [prop], po_lines + _po_lines(pid, supplier, r)


def _has_minimum(t) -> bool:
    return bool((np.isfinite(t["min_order_value"]) and t["min_order_value"] > 0)
                or (np.isfinite(t["min_order_units"]) and t["min_order_units"] > 0))


def _value(r: pd.DataFrame) -> float:
    return float((r["qty"] * r["unit_cost"].fillna(0.0)).sum())


def _meets(r: pd.DataFrame, t) -> bool:
    if not t:
        return True
    ok = True
    if np.isfinite(t["min_order_value"]):
        ok &= _value(r) >= t["min_order_value"] - 1e-6
    if np.isfinite(t["min_order_units"]):
        ok &= float(r["qty"].sum()) >= t["min_order_units"] - 1e-6
    return bool(ok)


def _shortfall(r: pd.DataFrame, t) -> str:
    parts = []
    if np.isfinite(t["min_order_value"]) and _value(r) < t["min_order_value"] - 1e-6:
        parts.append(f"value {_value(r):.2f} < {t['min_order_value']:.2f}")
    if np.isfinite(t["min_order_units"]) and r["qty"].sum() < t["min_order_units"] - 1e-6:
        parts.append(f"units {_fmt(r['qty'].sum())} < {_fmt(t['min_order_units'])}")
    return "; ".join(parts)


def top_up_headroom(pool: pd.DataFrame) -> np.ndarray:
    """Units each line may still gain: min(order_up_to, max_stock) - (position + qty), in whole
    packs rounded down (never negative)."""
    cap = pool["order_up_to"].to_numpy(dtype=float)
    max_stock = pool["max_stock"].to_numpy(dtype=float)
    cap = np.where(np.isfinite(max_stock), np.minimum(cap, max_stock), cap)
    room = cap - pool["inventory_position"].to_numpy(dtype=float) - pool["qty"].to_numpy(float)
    return pack_floor(np.where(np.isfinite(room), room, 0.0), pool["pack"].to_numpy(float))


def _top_up(pool: pd.DataFrame, t) -> pd.DataFrame:
    """Raise lines nearest to their reorder point (days of cover) until the minimum is met."""
    pool = pool.copy()
    pool["headroom"] = top_up_headroom(pool)
    mean = pool["mean_daily_forecast"].to_numpy(float)
    above = (pool["inventory_position"] + pool["qty"] - pool["reorder_point"]).to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pool["cover"] = np.where(mean > 0, above / mean, np.inf)
    min_value = t["min_order_value"] if np.isfinite(t["min_order_value"]) else 0.0
    min_units = t["min_order_units"] if np.isfinite(t["min_order_units"]) else 0.0
    for idx in pool.sort_values(["cover", "sku", "location"]).index:
        r = pool.loc[pool["qty"] > 0]
        need_value = min_value - _value(r)
        need_units = min_units - float(r["qty"].sum())
        if need_value <= 1e-6 and need_units <= 1e-6:
            break
        pack = float(pool.at[idx, "pack"])
        room_packs = int(round(pool.at[idx, "headroom"] / pack))
        if room_packs < 1:
            continue
        cost = pool.at[idx, "unit_cost"]
        want = math.ceil(max(need_units, 0.0) / pack - 1e-9)
        if np.isfinite(cost) and cost > 0:
            want = max(want, math.ceil(max(need_value, 0.0) / (pack * cost) - 1e-9))
        if pool.at[idx, "qty"] <= 0:  # not yet ordered: at least its MOQ
            want = max(want, math.ceil(pool.at[idx, "moq"] / pack - 1e-9))
        packs = min(want, room_packs)
        if packs < 1 or (pool.at[idx, "qty"] <= 0 and packs * pack < pool.at[idx, "moq"] - 1e-9):
            continue
        add = packs * pack
        pool.at[idx, "qty"] += add
        pool.at[idx, "topup_qty"] += add
        cover = pool.at[idx, "cover"]
        up_to = _fmt(pool.at[idx, "order_up_to"])
        note = (f"Top-up of {_fmt(add)} to reach the supplier's minimum: "
                f"{'no demand forecast' if not np.isfinite(cover) else _fmt(cover) + ' days'} "
                f"of cover above the reorder point, up to order-up-to {up_to}"
                + (f" / max stock {_fmt(pool.at[idx, 'max_stock'])}"
                   if np.isfinite(pool.at[idx, "max_stock"]) else ""))
        old = pool.at[idx, "reason"]
        pool.at[idx, "reason"] = f"{old}; {note}" if old else note
    return pool


def _proposal(supplier, pid, order_date, expected, r, t, rule) -> dict:
    units = float(r["qty"].sum())
    return {
        "supplier": supplier,
        "proposal_id": pid,
        "order_date": pd.Timestamp(order_date),
        "expected_date": pd.Timestamp(expected),
        "lines": int((r["qty"] > 0).sum()),
        "units": units,
        "value": _value(r),
        "min_order_met": _meets(r, t) if t else True,
        "rule_applied": rule,
        "kind": "expedite" if rule == "expedite" else "regular",
        "min_order_value": t["min_order_value"] if t else np.nan,
        "min_order_units": t["min_order_units"] if t else np.nan,
        "express_cost": 0.0,
        "note": "",
    }


def _po_lines(pid, supplier, r: pd.DataFrame) -> list[dict]:
    r = r[r["qty"] > 0]
    return [{
        "proposal_id": pid, "sku": x.sku, "location": x.location, "qty": float(x.qty),
        "reason": x.reason, "supplier": supplier, "reorder_qty": float(x.reorder_qty),
        "topup_qty": float(x.topup_qty), "unit_cost": float(x.unit_cost),
        "value": float(x.qty * (0.0 if not np.isfinite(x.unit_cost) else x.unit_cost)),
        "pack": float(x.pack), "moq": float(x.moq),
    } for x in r.itertuples()]
