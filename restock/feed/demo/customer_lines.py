"""Sale lines of the demo's customers: what :func:`restock.feed.demo.customers.simulate_customers`
drew, turned into sale lines with customer ids, orders, returns and the truth tables.

The mechanism (regulars, hits, leaving, occasional shoppers) is described in
:mod:`restock.feed.demo.customers`; this module only writes it down as the feed's rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from restock.feed.demo.customers import OCCASIONAL_LINE_UNITS, TRUTH_COLUMNS


def customer_sales(sales: pd.DataFrame, sim: dict, history: pd.DatetimeIndex,
                   sku_codes: np.ndarray, loc_codes: np.ndarray,
                   loc_names: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split the demo's daily sales rows into customer lines; the churn truth.

    ``sales`` is the daily table of ``tables.sales_table`` (positive rows one per series-day,
    plus return rows); ``sim`` = :func:`simulate_customers`. Returns the sales lines with
    ``order_id``, ``line_id`` and ``customer_id`` (same daily totals per sku, location and
    date), the truth frame (``TRUTH_COLUMNS``) and the true hits (customer_id, sku, location,
    date: every time a regular was turned away by a stock-out).

    Notes
    -----
    The steps draw from ``sim["rng"]`` in a fixed order (occasional lines and their shoppers,
    the customer codes, the shoppers of unmatched returns): keep it, or the same seed no longer
    gives the same feed.
    """
    rng = sim["rng"]
    reg = sim["regular"]
    n_reg = len(sim["customers"]["loc"])
    sim_loc = np.asarray(sim["loc_of_series"])
    pool = sim["pool"]
    pool_offset = n_reg + np.r_[0, np.cumsum(pool)[:-1]]
    occ_series, occ_day, occ_cust, occ_qty = _occasional_lines(
        rng, sim["occasional"], sim_loc, pool, pool_offset)
    n_customers = n_reg + int(pool.sum())
    # ids reveal nothing: a random permutation of numbers
    codes = _codes("C", rng.permutation(n_customers) + 1, max(7, len(str(n_customers))))

    line_series = np.concatenate([reg["series"], occ_series])
    line_day = np.concatenate([reg["day"], occ_day])
    line_cust = np.concatenate([reg["customer"], occ_cust])
    line_qty = np.concatenate([reg["qty"], occ_qty])
    positive = sales[sales["quantity"] > 0]
    series_index = pd.MultiIndex.from_arrays([sku_codes, loc_codes])
    row_of_line = _daily_row_of_lines(positive, series_index, history, line_series, line_day,
                                      line_qty)
    # lines in the order day, location, customer, sku (integer keys: fast)
    sku_rank = np.unique(sku_codes, return_inverse=True)[1]
    line_loc = sim_loc[line_series]
    o = np.lexsort((sku_rank[line_series], line_cust, line_loc, line_day))
    lines = positive.iloc[row_of_line[o]].reset_index(drop=True)
    lines["quantity"] = line_qty[o].astype(lines["quantity"].dtype)
    lines["_cust"] = line_cust[o]
    lines["_day"] = line_day[o]
    lines["_loc"] = line_loc[o]
    ret = _return_customers(rng, sales[sales["quantity"] <= 0], lines, history, series_index,
                            sim_loc, pool, pool_offset)
    frame, first_day = _orders(lines, ret, n_customers, codes, list(sales.columns))

    seen = np.zeros(n_customers, dtype=bool)
    seen[lines["_cust"].to_numpy()] = True
    seen[ret["_cust"].to_numpy()] = True
    truth = _churn_truth(sim["customers"], pool, codes, loc_names, first_day, history)
    truth = truth[seen].sort_values("customer_id").reset_index(drop=True)
    hits = _true_hits(sim["hits"], codes, sku_codes, loc_codes, history)
    hits = hits[hits["customer_id"].isin(truth["customer_id"])]
    hits = hits.sort_values(["customer_id", "date", "sku"]).reset_index(drop=True)
    return frame, truth[list(TRUTH_COLUMNS)], hits


def _occasional_lines(rng: np.random.Generator, occ: np.ndarray, sim_loc: np.ndarray,
                      pool: np.ndarray, pool_offset: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The occasional units of each series-day as lines: (series, day, customer, qty).

    A line is ``1 + Geometric`` units (mean ``OCCASIONAL_LINE_UNITS``), so a busy day has many
    small lines as in a real till roll; each line goes to a shopper drawn uniformly from the
    location's occasional pool (customer numbers from ``pool_offset``).
    """
    si, di = np.nonzero(occ > 0)
    units = occ[si, di]
    unit_owner = np.repeat(np.arange(len(si)), units)
    starts = np.ones(len(unit_owner), dtype=bool)
    starts[1:] = (unit_owner[1:] != unit_owner[:-1]) | (
        rng.random(len(unit_owner) - 1) < 1.0 / OCCASIONAL_LINE_UNITS)
    line_of_unit = np.cumsum(starts) - 1
    occ_qty = np.bincount(line_of_unit)
    occ_owner = unit_owner[starts]
    occ_series, occ_day = si[occ_owner], di[occ_owner]
    occ_loc = sim_loc[occ_series]
    occ_cust = pool_offset[occ_loc] + (rng.random(len(occ_loc)) * pool[occ_loc]).astype(
        np.int64)
    return occ_series, occ_day, occ_cust, occ_qty


def _daily_row_of_lines(positive: pd.DataFrame, series_index: pd.MultiIndex,
                        history: pd.DatetimeIndex, line_series: np.ndarray,
                        line_day: np.ndarray, line_qty: np.ndarray) -> np.ndarray:
    """For each customer line, the position of its daily sales row in ``positive``.

    Raises ``AssertionError`` unless the lines add up to the daily rows exactly: the customers
    only split the demo's sales, they never change the totals the rest of the feed is built on.
    """
    n_hist = len(history)
    row_series = series_index.get_indexer(pd.MultiIndex.from_arrays(
        [positive["sku"].to_numpy(), positive["location"].to_numpy()]))
    row_day = (pd.to_datetime(positive["date"]) - history[0]).dt.days.to_numpy()
    row_key = row_series.astype(np.int64) * n_hist + row_day
    if len(np.unique(row_key)) != len(row_key):
        raise AssertionError("demo sales must hold one positive row per series-day")
    order = np.argsort(row_key)
    line_key = line_series.astype(np.int64) * n_hist + line_day
    pos = np.searchsorted(row_key[order], line_key)
    row_of_line = order[pos]
    if not np.array_equal(row_key[row_of_line], line_key):
        raise AssertionError("a customer line has no daily sales row")
    check = np.bincount(row_of_line, weights=line_qty, minlength=len(positive))
    if not np.array_equal(check.astype(np.int64), positive["quantity"].to_numpy(np.int64)):
        raise AssertionError("customer lines do not add up to the daily sales")
    return row_of_line


def _return_customers(rng: np.random.Generator, returns: pd.DataFrame, lines: pd.DataFrame,
                      history: pd.DatetimeIndex, series_index: pd.MultiIndex,
                      sim_loc: np.ndarray, pool: np.ndarray,
                      pool_offset: np.ndarray) -> pd.DataFrame:
    """The return rows with ``_cust``, ``_day`` and ``_loc``: who brought each item back.

    A return goes to the customer of the latest line of that item at that location before the
    return day (a return follows a purchase); with no such line, to an occasional shopper of
    the location.
    """
    if not len(returns):
        return returns.assign(_cust=np.zeros(0, np.int64), _day=np.zeros(0, np.int64),
                              _loc=np.zeros(0, np.int64))
    ret = returns.reset_index(drop=True).copy()
    ret["_day"] = (pd.to_datetime(ret["date"]) - history[0]).dt.days.to_numpy()
    ret["_order"] = np.arange(len(ret))
    left = ret.sort_values("_day")
    right = lines[["sku", "location", "_day", "_cust"]].sort_values("_day")
    matched = pd.merge_asof(left, right, on="_day", by=["sku", "location"],
                            allow_exact_matches=False, direction="backward")
    matched = matched.sort_values("_order")
    cust = matched["_cust"].to_numpy(dtype=float)
    missing = np.isnan(cust)
    ret_series = series_index.get_indexer(pd.MultiIndex.from_arrays(
        [ret["sku"].to_numpy(), ret["location"].to_numpy()]))
    ret_loc = sim_loc[ret_series]
    fallback = pool_offset[ret_loc] + (rng.random(len(ret)) * pool[ret_loc]).astype(np.int64)
    ret["_cust"] = np.where(missing, fallback, np.nan_to_num(cust)).astype(np.int64)
    ret["_loc"] = ret_loc
    return ret


def _orders(lines: pd.DataFrame, ret: pd.DataFrame, n_customers: int, codes: np.ndarray,
            columns: list[str]) -> tuple[pd.DataFrame, pd.Series]:
    """The sales lines with order, line and customer ids, sorted; each customer's first day.

    A customer's lines at one location on one day form one order (lines numbered 1, 2, ...);
    each return is an order of its own, after the day's sales. ``lines`` must be sorted by
    day, location, customer and sku. Returns the feed's sales frame (``columns`` plus
    ``order_id``, ``line_id``, ``customer_id``) and the first day (index) per customer number;
    the id columns are added to ``lines`` and ``ret`` too.
    """
    basket = lines["_day"].to_numpy(np.int64) * (n_customers + 1) * 16 + \
        lines["_loc"].to_numpy(np.int64) * (n_customers + 1) + lines["_cust"].to_numpy()
    new_order = np.r_[True, basket[1:] != basket[:-1]]
    order_no = np.cumsum(new_order)
    first_line = np.flatnonzero(new_order)
    line_no = np.arange(len(lines)) - np.repeat(first_line, np.diff(np.r_[first_line,
                                                                          len(lines)]))
    lines["order_id"] = _codes("O", order_no, 8)
    lines["line_id"] = _small_codes(line_no + 1)
    lines["_order"] = order_no
    ret["order_id"] = _codes("R", np.arange(1, len(ret) + 1), 6)
    ret["line_id"] = "1"
    ret["_order"] = np.int64(0)
    frame = pd.concat([lines, ret], ignore_index=True)
    cust_all = frame["_cust"].to_numpy(np.int64)
    frame["customer_id"] = codes[cust_all]
    # date, location, then the orders (returns after the day's sales), lines in order
    o = np.lexsort((np.r_[line_no, np.zeros(len(ret), np.int64)],
                    frame["_order"].to_numpy(np.int64),
                    np.r_[np.zeros(len(lines), np.int64), np.ones(len(ret), np.int64)],
                    frame["_loc"].to_numpy(np.int64), frame["_day"].to_numpy(np.int64)))
    first_day = pd.Series(frame["_day"].to_numpy(np.int64)).groupby(cust_all).min()
    frame = frame[[*columns, "order_id", "line_id", "customer_id"]].take(o)
    return frame.reset_index(drop=True), first_day


def _to_date(day0: pd.Timestamp, days: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Day numbers from ``day0`` as datetime64[ns]; NaT where ``ok`` is False."""
    out = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[ns]")
    out[ok] = (day0 + pd.to_timedelta(days[ok], unit="D")).to_numpy()
    return out


def _churn_truth(a: dict, pool: np.ndarray, codes: np.ndarray, loc_names: np.ndarray,
                 first_day: pd.Series, history: pd.DatetimeIndex) -> pd.DataFrame:
    """One truth row per customer number (regulars with their fate, then occasional shoppers).

    The caller keeps the customers that occur in the sales. Occasional shoppers never churn
    and are not tracked for hits, so their fate columns are empty.
    """
    n_reg, n_customers = len(a["loc"]), len(codes)
    n_occ = n_customers - n_reg
    churned = a["depart"] < len(history)
    day0 = history[0]
    no_date = np.full(n_occ, np.datetime64("NaT"), "M8[ns]")
    return pd.DataFrame({
        "customer_id": codes,
        "location": np.concatenate([loc_names[a["loc"]],
                                    loc_names[np.repeat(np.arange(len(pool)), pool)]]),
        "kind": np.r_[np.full(n_reg, "regular"), np.full(n_occ, "occasional")],
        "first_date": _to_date(day0, first_day.reindex(np.arange(n_customers)).fillna(0)
                               .to_numpy(np.int64), np.ones(n_customers, dtype=bool)),
        "churned": np.r_[churned, np.zeros(n_occ, dtype=bool)],
        "churn_date": np.concatenate([_to_date(day0, a["depart"], churned), no_date]),
        "cause": np.r_[np.array(["", "stockout", "background"])[a["cause"]],
                       np.full(n_occ, "")],
        "decision_date": np.concatenate([_to_date(day0, a["decided"], a["decided"] >= 0),
                                         no_date]),
        "hits": np.r_[a["hits"], np.zeros(n_occ, dtype=np.int64)],
        "hits_at_decision": np.r_[a["decision_hits"], np.zeros(n_occ, dtype=np.int64)],
    })


def _true_hits(h: dict, codes: np.ndarray, sku_codes: np.ndarray, loc_codes: np.ndarray,
               history: pd.DatetimeIndex) -> pd.DataFrame:
    """Every time a regular was turned away by a stock-out: customer_id, sku, location, date."""
    return pd.DataFrame({
        "customer_id": codes[h["customer"]] if len(h["customer"]) else
        np.zeros(0, dtype=object),
        "sku": sku_codes[h["series"]], "location": loc_codes[h["series"]],
        "date": _to_date(history[0], h["day"], np.ones(len(h["day"]), dtype=bool)),
    })


def _codes(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """``prefix`` + zero-padded numbers (at least ``width`` digits), as an object array."""
    return np.array([f"{prefix}{n:0{width}d}" for n in np.asarray(numbers).tolist()],
                    dtype=object)


def _small_codes(numbers: np.ndarray) -> np.ndarray:
    """Small positive integers as strings, through a lookup table."""
    top = int(numbers.max()) if len(numbers) else 0
    table = np.array([str(i) for i in range(top + 1)], dtype=object)
    return table[numbers]
