"""The feed tables and the true demand, built from the simulation and written to disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from restock.feed.demo.chain import LOCATIONS


def sales_table(
    rng: np.random.Generator, sku_info: dict, series: dict, sim: dict, discount: np.ndarray,
    history: pd.DatetimeIndex, sku_codes: np.ndarray, loc_codes: np.ndarray,
) -> pd.DataFrame:
    """Daily sales aggregates (zero days omitted) plus a few return rows."""
    n_hist = len(history)
    sold = sim["sold"]
    si, di = np.nonzero(sold > 0)
    years_in = history.year.to_numpy() - history[0].year
    # list prices rise about 3% every January; a promotion cuts the shelf price
    list_price = sku_info["price"][series["sku_idx"]][si] * 1.03 ** years_in[di]
    disc = discount[si, di]
    sales = pd.DataFrame({
        "date": history[di].date,
        "sku": sku_codes[si],
        "location": loc_codes[si],
        "quantity": sold[si, di],
        "channel": np.where(series["online"][si], "online", "store"),
        "unit_price": np.round(list_price * (1 - disc), 2),
        "promo": disc > 0,
    })
    # about 0.2% of sale days bring a return of 1-2 units within two weeks (not restocked)
    back = np.flatnonzero(rng.random(len(sales)) < 0.002)
    back_day = di[back] + rng.integers(1, 15, len(back))
    keep = back_day < np.minimum(sku_info["stop"][series["sku_idx"]][si[back]], n_hist)
    back, back_day = back[keep], back_day[keep]
    returns = pd.DataFrame({
        "date": history[back_day].date,
        "sku": sales["sku"].to_numpy()[back],
        "location": sales["location"].to_numpy()[back],
        "quantity": -np.minimum(sales["quantity"].to_numpy()[back],
                                rng.integers(1, 3, len(back))),
        "channel": sales["channel"].to_numpy()[back],
        "unit_price": sales["unit_price"].to_numpy()[back],
        "promo": False,
    })
    # returns are daily aggregates too: one row per series-day and price
    keys = ["date", "sku", "location", "channel", "unit_price", "promo"]
    returns = returns.groupby(keys, as_index=False, sort=False)["quantity"].sum()[sales.columns]
    sales = pd.concat([sales, returns], ignore_index=True)
    sales = sales.sort_values(["date", "location", "sku", "quantity"], kind="stable")
    return sales.reset_index(drop=True)


def inventory_table(
    series: dict, sim: dict, history: pd.DatetimeIndex, sku_codes: np.ndarray,
    loc_codes: np.ndarray,
) -> pd.DataFrame:
    """End-of-day stock of every live series-day (on_hand 0 marks a stockout)."""
    si, di = np.nonzero(sim["active"])
    frame = pd.DataFrame({
        "date": history[di].date,
        "sku": sku_codes[si],
        "location": loc_codes[si],
        "on_hand": sim["on_hand"][si, di],
        "on_order": sim["on_order"][si, di],
    })
    return frame.sort_values(["date", "location", "sku"], kind="stable").reset_index(drop=True)


def purchase_order_table(
    sim: dict, history: pd.DatetimeIndex, sku_codes: np.ndarray, loc_codes: np.ndarray
) -> pd.DataFrame:
    """Purchase order lines consistent with the simulation; late ones are still open."""
    day, idx, qty, arrival, received, cancelled = sim["pos"]
    n_hist = len(history)
    start = history[0]
    done = (~cancelled) & (arrival < n_hist)
    status = np.where(cancelled, "cancelled", np.where(done, "received", "open"))
    nominal = sim["nominal_lead"][idx].astype(np.int64)
    frame = pd.DataFrame({
        "po_id": [f"PO{i + 1:07d}" for i in range(len(day))],
        "sku": sku_codes[idx],
        "location": loc_codes[idx],
        "order_date": (start + pd.to_timedelta(day, unit="D")).date,
        "quantity": qty.astype(np.int64),
        "expected_date": (start + pd.to_timedelta(day + nominal, unit="D")).date,
        "received_date": pd.Series(
            (start + pd.to_timedelta(arrival, unit="D")).date
        ).where(done, None),
        "received_quantity": pd.Series(received.astype(np.int64)).astype("Int64").where(
            done, pd.NA
        ),
        "status": status,
    })
    return frame


def drivers_table(temperature: np.ndarray, calendar: pd.DatetimeIndex) -> pd.DataFrame:
    """Daily temperature per location, including the 28 future days (a weather forecast)."""
    n_loc, n_days = temperature.shape
    return pd.DataFrame({
        "date": np.tile(calendar.date, n_loc),
        "location": np.repeat([loc[0] for loc in LOCATIONS], n_days),
        "driver": "temperature",
        "value": temperature.reshape(-1),
    })


def write_truth(
    truth: Path, series: dict, sim: dict, demand: np.ndarray, expected: np.ndarray,
    calendar: pd.DatetimeIndex, n_hist: int, sku_codes: np.ndarray, loc_codes: np.ndarray,
) -> Path:
    """True demand of every live series-day (history), and of the 28 days after it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    truth.parent.mkdir(parents=True, exist_ok=True)

    def write(path: Path, si: np.ndarray, di: np.ndarray) -> None:
        frame = pd.DataFrame({
            "date": calendar[di].date,
            "sku": sku_codes[si],
            "location": loc_codes[si],
            "demand": demand[si, di],
            "expected_demand": np.round(expected[si, di], 4),
        }).sort_values(["date", "location", "sku"], kind="stable")
        table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
        pq.write_table(table, path, compression="zstd")

    si, di = np.nonzero(sim["active"])
    write(truth, si, di)
    future = truth.parent / "true_demand_future.parquet"
    live_at_end = sim["active"][:, n_hist - 1]
    fi, fd = np.nonzero(
        np.repeat(live_at_end[:, None], len(calendar) - n_hist, axis=1)
    )
    write(future, fi, fd + n_hist)
    return future


def write_churn_truth(frame: pd.DataFrame, path: Path) -> None:
    """The customers' churn truth (restock.feed.demo.customers) as Parquet, byte-stable."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    pq.write_table(table, path, compression="zstd")
