"""Customers hit by stock-outs on UCI Online Retail II 2009-2010 (customers, no inventory).

What it measures
----------------
The feed is the project's own import (``restock import online-retail``; written to a temporary
folder unless ``--feed`` names one already imported). Sales lines whose sku is not in products
(service codes: POST, M, ...) are left out, as the feed reader quarantines them. as_of = the
last sales date (2010-12-09).

- stock-out days inferred from order lines per day (``value="lines"``: a wholesaler's
  quantities are lumpy, its order lines are counts) for every sku x country, no inventory;
  ``--measure quantity`` infers them from units, as the nightly does by default;
- hits with the default definition (3 purchase days of the item in 180 days; stock-out
  probability >= 0.7; visit or repurchase due);
- the churn model (restock.customers.churn): logistic regression on recency, frequency,
  monetary value, tenure and hits, fitted on cutoffs 2010-03-14 .. 2010-06-12 (labels end by
  2010-09-10) and scored out of time at 2010-09-10 (labels: a purchase in the 90 days up to
  2010-12-09): AUC, the AUC of the same model without hit features, the churn rate of hit vs
  not-hit customers (and of not-hit customers who buy an item regularly, the comparable group).
- the three tables' row counts, customers hit / at risk, the top items by customers hit.

Prints the figures with the date and git commit.

Usage::

    .venv/bin/python bench/customer_impact_bench.py [--feed /tmp/uci_feed] [--measure quantity]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

UCI = common.DATA / "uci_online_retail"



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feed", type=Path, help="an already imported feed folder")
    parser.add_argument("--measure", choices=("lines", "quantity"), default="lines",
                        help="sales measure of the stock-out inference (default lines; the "
                        "nightly's default, customers.measure, is quantity)")
    args = parser.parse_args()
    common.require(UCI)
    common.setup_logging(False)
    from restock.customers.tables import build_customer_tables

    t0 = time.perf_counter()
    print(f"customer impact bench (UCI Online Retail II 2009-2010), {dt.date.today()}, "
          f"commit {common.git_commit()}")
    with tempfile.TemporaryDirectory() as tmp:
        feed = args.feed
        if feed is None:
            from restock.importers.online_retail import import_online_retail

            feed = Path(tmp) / "uci_feed"
            import_online_retail(UCI, feed)
        sales = pd.read_parquet(feed / "sales.parquet")
        products = pd.read_csv(feed / "products.csv", dtype={"sku": str})
    known = sales["sku"].isin(products["sku"])
    sales = sales[known]
    print(f"sales lines {len(sales):,} (left out {int((~known).sum()):,} of non-product "
          f"codes); with customer_id {sales['customer_id'].notna().mean():.1%}; "
          f"{sales['customer_id'].nunique():,} customers; "
          f"{sales[['sku', 'location']].drop_duplicates().shape[0]:,} sku x country series")

    started = time.perf_counter()
    out = build_customer_tables(sales, None, None, value=args.measure)
    seconds = time.perf_counter() - started
    as_of = pd.to_datetime(sales["date"]).max().normalize()
    cust, skus, days, hits, churn = (out.customer_stockout_impact, out.sku_customer_impact,
                                     out.stockout_days, out.hits, out.churn)
    print(f"as_of {as_of.date()}; stock-outs inferred from {args.measure} per day; computed in "
          f"{seconds:.0f} s")
    likely = days[days["probability"] >= 0.7]
    n_series = likely[["sku", "location"]].drop_duplicates().shape[0]
    print(f"\nstockout_days (last 90 days, p >= 0.5): {len(days):,} rows; p >= 0.7: "
          f"{len(likely):,} series-days ({n_series:,} series)")
    print(f"hits (all history up to as_of): {len(hits):,} "
          f"({hits['reason'].value_counts().to_dict()}), "
          f"{hits['customer_id'].nunique():,} customers")
    risk_hit = cust.loc[cust["hits_90d"] > 0, "churn_risk"].mean()
    risk_not = cust.loc[cust["hits_90d"] == 0, "churn_risk"].mean()
    print(f"customer_stockout_impact: {len(cust):,} rows = customers with a purchase in the last "
          f"90 days ({cust['customer_id'].is_unique and 'each once' or 'DUPLICATES'}); hit "
          f"{int((cust['hits_90d'] > 0).sum()):,}, repeat-hit {int(cust['repeat_hit'].sum()):,}, "
          f"at risk {int(cust['at_risk'].sum()):,}; churn_risk mean "
          f"{cust['churn_risk'].mean():.3f} (hit {risk_hit:.3f}, not hit {risk_not:.3f})")
    print(f"sku_customer_impact: {len(skus):,} rows; with customers hit "
          f"{int((skus['customers_hit_90d'] > 0).sum()):,}; revenue at risk "
          f"{skus['revenue_at_risk'].sum():,.0f} (sum over items: a customer counts per item)")
    print(skus.head(5).to_string(index=False))

    print(f"\nchurn model, out of time: trained on cutoffs "
          f"{', '.join(str(c.date()) for c in churn.train_cutoffs)} ({churn.n_train:,} "
          f"customer snapshots), scored at {churn.eval_cutoff.date()} ({churn.n_eval:,} "
          "customers, churned = no purchase in the next 90 days)")
    print(f"  AUC {churn.auc:.3f} (same model without hit features: {churn.auc_rfm_only:.3f})")
    print(f"  churn rate hit {churn.churn_rate_hit:.1%} (n={churn.n_hit}) vs not hit "
          f"{churn.churn_rate_not_hit:.1%} (n={churn.n_not_hit}); not hit but buying an item "
          f"regularly {churn.churn_rate_not_hit_exposed:.1%} (n={churn.n_not_hit_exposed})")
    print(f"  coefficients (standardised): {churn.coefficients}")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
