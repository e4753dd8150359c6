"""Which service objective fits a feed: cycle service (stockout days) or fill rate (lost units).

``replenish.objective`` (restock.inventory.settings) is a first-class setting; when a config
does not set it, an importer or the ingest can call :func:`suggest_objective` on the feed's
sales and write the answer into the config it generates.

Rule (documented thresholds, parameters below)
----------------------------------------------
A feed is **order-driven** when its demand comes from many identified customers in big lines:

* at least ``min_customer_share`` (0.5) of its positive sale lines carry a ``customer_id``,
* at least ``min_customers`` (20) distinct customers, and
* the median units per positive sale line is at least ``min_median_units`` (3): shop-till
  baskets of identified (loyalty) customers sell one or two units a line; wholesale order lines
  sell packs and cases.

An order-driven feed gets ``fill_rate``: one missing line of 48 units is 48 lost units, and a
buyer there counts units, not days (issue 15: on UCI Online Retail the cycle-service policy
cut stockout days while losing more units than the static rule). Everything else (store sales,
daily aggregates without customers) gets ``cycle_service``.

Measured on the shared data: UCI Online Retail 2009-2010 (as imported): 79% of lines with a
customer, 4,314 customers, median 3 units a line -> fill_rate; the demo feed, M5 and
FreshRetailNet are daily aggregates without customer_id -> cycle_service.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def objective_evidence(sales: pd.DataFrame) -> dict[str, float]:
    """The figures :func:`suggest_objective` decides on (for its log line and the report)."""
    qty_col = "quantity" if "quantity" in sales else "units_sold"
    qty = pd.to_numeric(sales[qty_col], errors="coerce")
    lines = sales[qty > 0]
    q = qty[qty > 0]
    if "customer_id" in lines:
        cust = lines["customer_id"]
        known = cust.notna() & (cust.astype(str).str.strip() != "")
        share, customers = float(known.mean()) if len(lines) else 0.0, int(cust[known].nunique())
    else:
        share, customers = 0.0, 0
    return {"lines": int(len(lines)), "customer_share": share, "customers": customers,
            "median_units_per_line": float(q.median()) if len(q) else 0.0}


def suggest_objective(
    sales: pd.DataFrame,
    min_customer_share: float = 0.5,
    min_customers: int = 20,
    min_median_units: float = 3.0,
) -> str:
    """``"fill_rate"`` for an order-driven feed, else ``"cycle_service"`` (module docstring).

    Parameters
    ----------
    sales : DataFrame
        The feed's sales (``quantity`` or ``units_sold``; ``customer_id`` optional).
    """
    return decide_objective(objective_evidence(sales), min_customer_share, min_customers,
                            min_median_units)


def decide_objective(
    e: dict[str, float],
    min_customer_share: float = 0.5,
    min_customers: int = 20,
    min_median_units: float = 3.0,
) -> str:
    """The rule of the module docstring on :func:`objective_evidence`'s figures."""
    order_driven = (e["customer_share"] >= min_customer_share
                    and e["customers"] >= min_customers
                    and e["median_units_per_line"] >= min_median_units)
    return "fill_rate" if order_driven else "cycle_service"


def feed_objective_evidence(feed_dir: Path) -> dict[str, float] | None:
    """:func:`objective_evidence` of a feed directory's sales files, read by DuckDB (only the
    ``quantity`` and ``customer_id`` columns; about a second at M5 size). None when the feed has
    no sales file, or its files carry no ``quantity`` column."""
    import duckdb

    from restock.feed.files import table_files

    files = table_files(Path(feed_dir), "sales")
    if not files:
        return None
    selects, params = [], []
    with duckdb.connect() as con:
        for path in files:
            reader = "read_parquet" if path.suffix.lower() == ".parquet" else "read_csv"
            columns = {c.lower(): c for c in con.sql(
                f"select * from {reader}(?) limit 0", params=[str(path)]).columns}
            if "quantity" not in columns:
                return None
            customer = (f'"{columns["customer_id"]}"' if "customer_id" in columns
                        else "null")
            selects.append(f'select try_cast("{columns["quantity"]}" as double) as q, '
                           f"nullif(trim(cast({customer} as varchar)), '') as c "
                           f"from {reader}(?)")
            params.append(str(path))
        lines, share, customers, median = con.execute(
            "select count(*), coalesce(avg((c is not null)::int), 0), count(distinct c), "
            "coalesce(median(q), 0) from (" + " union all ".join(selects) + ") where q > 0",
            params).fetchone()
    return {"lines": int(lines), "customer_share": float(share), "customers": int(customers),
            "median_units_per_line": float(median)}


def suggest_feed_objective(feed_dir: Path) -> tuple[str, dict[str, float] | None]:
    """The objective :func:`suggest_objective` gives a feed directory's sales, with its
    evidence (``cycle_service`` and None when the sales cannot be read here: the reader will
    say why)."""
    try:
        evidence = feed_objective_evidence(feed_dir)
    except Exception:  # noqa: BLE001 - a broken file is the reader's to report, in its words
        return "cycle_service", None
    if evidence is None:
        return "cycle_service", None
    return decide_objective(evidence), evidence
