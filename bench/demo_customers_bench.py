"""The at-risk customers of the demo feed scored against the demo's churn truth (issue 18).

What it measures
----------------
The demo feed (``restock demo``) knows which regular customers its stock-outs drove off
(``customer_churn.parquet`` beside ``true_demand.parquet``; the mechanism is documented in
restock/feed/demo/customers.py). The bench runs ``build_customer_tables`` on the feed's sales
and inventory cut at ``as_of`` (default: 56 days before the last sales day, so churn after
as_of is observable in the truth) and scores the ``at_risk`` flag:

- universe: the customers of ``customer_stockout_impact`` (a purchase in the 90 days up to
  as_of) who are still customers at as_of (truth ``churn_date`` empty or after as_of); those
  the truth says were already gone at as_of are counted and left out;
- positives: truth churners with ``churn_date`` in (as_of, as_of + horizon] (horizon: up to the
  last sales day);
- precision = at-risk positives / at-risk, recall = at-risk positives / positives (targets
  >= 0.6 and >= 0.4); also precision over every at-risk row (gone customers included) and
  against every churner up to the window's end (customers already gone at as_of counting as
  found: the at-risk list as a win-back list);
- the ceiling of any rule that needs a hit (churners among hit / repeat-hit customers, the
  share of churners hit at all, the churners who had already decided to leave at as_of), and
  the library's hits (hit definition) against the true hits (``customer_hits.parquet``);
- the churn model's out-of-time AUC (and without hit features) and the churn rate of hit vs
  not-hit customers, as ``build_customer_tables`` reports them.

``--as-of`` may be given several times (e.g. an earlier as_of to tune on, a later one to
confirm). Prints the figures with the date and git commit.

Usage::

    .venv/bin/restock demo --out /tmp/demo/feed
    .venv/bin/python bench/demo_customers_bench.py --feed /tmp/demo/feed [--as-of 2024-05-05]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402


def score(customers: pd.DataFrame, truth: pd.DataFrame, as_of: pd.Timestamp,
          until: pd.Timestamp) -> dict:
    """Precision / recall of ``customers.at_risk`` against truth churners in (as_of, until]."""
    t = truth.set_index("customer_id").reindex(customers["customer_id"])
    churn_date = pd.to_datetime(t["churn_date"]).to_numpy()
    gone = (pd.notna(churn_date) & (churn_date <= as_of.to_datetime64()))
    positive = (pd.notna(churn_date) & (churn_date > as_of.to_datetime64())
                & (churn_date <= until.to_datetime64()))
    at_risk = customers["at_risk"].to_numpy(dtype=bool)
    universe = ~gone
    flagged = at_risk & universe
    tp = int((flagged & positive).sum())
    return {
        "customers": len(customers), "gone_at_as_of": int(gone.sum()),
        "universe": int(universe.sum()), "positives": int((positive & universe).sum()),
        "at_risk": int(flagged.sum()), "true_positives": tp,
        "precision": tp / flagged.sum() if flagged.any() else float("nan"),
        "recall": tp / (positive & universe).sum() if (positive & universe).any()
        else float("nan"),
        "precision_all_rows": tp / at_risk.sum() if at_risk.any() else float("nan"),
        # against every truth churner up to the window's end, gone before as_of included
        "precision_any_churner": (tp + int((at_risk & gone).sum())) / at_risk.sum()
        if at_risk.any() else float("nan"),
        "base_rate": (positive & universe).sum() / max(universe.sum(), 1),
    }


def score_hits(detected: pd.DataFrame, true_hits: pd.DataFrame, as_of: pd.Timestamp,
               days: int = 90) -> dict:
    """The library's hits (the hit definition, from the feed only) against the true hits."""
    keys = ["customer_id", "sku", "location", "date"]

    def window(frame: pd.DataFrame) -> pd.DataFrame:
        d = pd.to_datetime(frame["date"]).dt.normalize()
        f = frame.assign(date=d)[keys]
        return f[(d > as_of - pd.Timedelta(days=days)) & (d <= as_of)].drop_duplicates()

    det, true = window(detected), window(true_hits)
    both = det.merge(true, on=keys)
    return {"detected": len(det), "true": len(true), "matched": len(both),
            "precision": len(both) / max(len(det), 1), "recall": len(both) / max(len(true), 1)}


def ceiling(customers: pd.DataFrame, truth: pd.DataFrame, as_of: pd.Timestamp,
            until: pd.Timestamp) -> dict:
    """What a hit-based at-risk rule could reach: positives among hit customers (the feed's
    view) and churners who had decided to leave by as_of (the truth's view)."""
    t = truth.set_index("customer_id").reindex(customers["customer_id"])
    cd = pd.to_datetime(t["churn_date"])
    present = ~(cd <= as_of).to_numpy()
    pos = ((cd > as_of) & (cd <= until)).to_numpy() & present
    hit = customers["hits_90d"].to_numpy() > 0
    rep = customers["repeat_hit"].to_numpy(dtype=bool)
    decided = (pd.to_datetime(t["decision_date"]) <= as_of).to_numpy()
    return {"positives_hit": int((pos & hit).sum()), "hit": int((hit & present).sum()),
            "positives_repeat": int((pos & rep).sum()), "repeat": int((rep & present).sum()),
            "positives_decided": int((pos & decided).sum()), "positives": int(pos.sum())}


def oracle(customers: pd.DataFrame, truth: pd.DataFrame, true_hits: pd.DataFrame | None,
           as_of: pd.Timestamp, until: pd.Timestamp, min_precision: float = 0.6) -> dict:
    """A yardstick for any rule that sees only the feed up to ``as_of``: a rule that sees the
    truth's state at ``as_of`` instead, i.e. who has already decided to leave
    (``decision_date`` <= as_of) and their true hits in the 90 days (capped at 4).

    Over the bench's universe (customers of the table still present at as_of), the cells
    (decided, hits) are ranked by their own share of churners in the window (in-sample) and
    taken while precision stays >= ``min_precision``: the recall there is what an at-risk list
    of that precision reaches when it knows every decision already taken. Not a strict bound
    (a rule could still foresee some later decisions, e.g. from items that run out often),
    but the churners it cannot see, background departures (at once, no warning in the feed)
    and stock-out leavers who decide after as_of, are out of reach of the feed as well."""
    t = truth.set_index("customer_id").reindex(customers["customer_id"])
    cd = pd.to_datetime(t["churn_date"])
    present = ~(cd <= as_of).to_numpy()
    pos = (((cd > as_of) & (cd <= until)).to_numpy() & present)
    decided = (pd.to_datetime(t["decision_date"]) <= as_of).to_numpy()
    if true_hits is not None and len(true_hits):
        d = pd.to_datetime(true_hits["date"])
        h = true_hits[(d > as_of - pd.Timedelta(days=90)) & (d <= as_of)]
        n = h.groupby("customer_id").size().reindex(customers["customer_id"]).fillna(0)
    else:
        n = pd.Series(0, index=customers["customer_id"])
    cells = pd.DataFrame({"decided": decided, "hits": n.clip(upper=4).to_numpy(),
                          "pos": pos})[present]
    g = cells.groupby(["decided", "hits"])["pos"].agg(["mean", "sum", "count"])
    g = g.sort_values("mean", ascending=False)
    tp, k = g["sum"].cumsum(), g["count"].cumsum()
    ok = (tp / k) >= min_precision
    best_tp = int(tp[ok].iloc[-1]) if ok.any() else 0
    best_k = int(k[ok].iloc[-1]) if ok.any() else 0
    n_pos = int(pos.sum())
    n_dec = int((decided & present).sum())
    return {"decided": n_dec, "decided_positive": int((decided & pos).sum()),
            "decided_precision": (decided & pos).sum() / max(n_dec, 1),
            "decided_recall": (decided & pos).sum() / max(n_pos, 1),
            "background_positives": int((pos & (t["cause"] == "background").to_numpy()).sum()),
            "positives": n_pos, "best_flagged": best_k,
            "best_precision": best_tp / max(best_k, 1), "best_recall": best_tp / max(n_pos, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feed", type=Path, required=True, help="a demo feed folder")
    parser.add_argument("--truth", type=Path,
                        help="customer_churn.parquet (default FEED_truth/customer_churn.parquet)")
    parser.add_argument("--as-of", action="append", default=None,
                        help="as_of date(s); default 56 days before the last sales day")
    parser.add_argument("--horizon", type=int, default=None,
                        help="days after as_of in which a churner counts (default: to the end)")
    args = parser.parse_args()
    from restock.customers.tables import build_customer_tables

    truth_path = args.truth or args.feed.parent / f"{args.feed.name}_truth" / \
        "customer_churn.parquet"
    t0 = time.perf_counter()
    sales = pd.read_parquet(args.feed / "sales.parquet")
    inventory = pd.read_parquet(args.feed / "inventory.parquet")
    truth = pd.read_parquet(truth_path)
    hits_path = truth_path.parent / "customer_hits.parquet"
    true_hits = pd.read_parquet(hits_path) if hits_path.exists() else None
    end = pd.to_datetime(sales["date"]).max().normalize()
    dates = [pd.Timestamp(d) for d in args.as_of] if args.as_of else \
        [end - pd.Timedelta(days=56)]
    print(f"demo customers bench, {dt.date.today()}, commit {common.git_commit()}")
    print(f"feed {args.feed}: {len(sales):,} sales lines, {sales['customer_id'].nunique():,} "
          f"customers ({int((truth['kind'] == 'regular').sum()):,} regulars in the truth, "
          f"{int((truth['cause'] == 'stockout').sum()):,} left after stock-outs, "
          f"{int((truth['cause'] == 'background').sum()):,} for other reasons); last day "
          f"{end.date()}")
    for as_of in dates:
        until = end if args.horizon is None else min(end, as_of + pd.Timedelta(
            days=args.horizon))
        started = time.perf_counter()
        out = build_customer_tables(sales, inventory, as_of)
        seconds = time.perf_counter() - started
        cust, churn = out.customer_stockout_impact, out.churn
        s = score(cust, truth, as_of, until)
        print(f"\nas_of {as_of.date()}, churners in ({as_of.date()}, {until.date()}]; "
              f"tables in {seconds:.0f} s")
        print(f"  customer_stockout_impact {s['customers']:,} rows; already gone at as_of "
              f"(truth) {s['gone_at_as_of']:,}; scored {s['universe']:,}, of whom churn in the "
              f"window {s['positives']:,} (base rate {s['base_rate']:.1%})")
        print(f"  hit in the 90 days {int((cust['hits_90d'] > 0).sum()):,}, repeat-hit "
              f"{int(cust['repeat_hit'].sum()):,}, at risk {int(cust['at_risk'].sum()):,}")
        print(f"  at_risk precision {s['precision']:.3f} ({s['true_positives']}/{s['at_risk']})"
              f", recall {s['recall']:.3f} ({s['true_positives']}/{s['positives']}) "
              f"[targets >= 0.6 / >= 0.4]; precision over every at-risk row "
              f"{s['precision_all_rows']:.3f}, against every churner up to "
              f"{until.date()} (gone before as_of included) {s['precision_any_churner']:.3f}")
        c = ceiling(cust, truth, as_of, until)
        print(f"  ceiling of a hit-based rule: churners in the window among hit customers "
              f"{c['positives_hit']}/{c['hit']} = {c['positives_hit'] / max(c['hit'], 1):.3f}, "
              f"among repeat-hit {c['positives_repeat']}/{c['repeat']} = "
              f"{c['positives_repeat'] / max(c['repeat'], 1):.3f}; churners hit at all "
              f"{c['positives_hit']}/{c['positives']} (the most recall a hit-requiring rule "
              f"can have); churners who had decided to leave by as_of "
              f"{c['positives_decided']}/{c['positives']}")
        o = oracle(cust, truth, true_hits, as_of, until)
        print(f"  oracle (the truth's state at as_of: decided to leave, true hits): flagging the "
              f"{o['decided']} who had decided gives precision {o['decided_precision']:.3f}, "
              f"recall {o['decided_recall']:.3f}; best recall at precision >= 0.6 "
              f"{o['best_recall']:.3f} (precision {o['best_precision']:.3f}, "
              f"{o['best_flagged']} flagged); churners in the window who left for other "
              f"reasons (background, at once) {o['background_positives']}/{o['positives']}")
        if true_hits is not None:
            h = score_hits(out.hits, true_hits, as_of)
            print(f"  hit definition vs true hits (90 days to as_of): detected {h['detected']:,}"
                  f", true {h['true']:,}, precision {h['precision']:.3f}, recall "
                  f"{h['recall']:.3f}")
        if churn.eval_cutoff is not None:
            print(f"  churn model out of time: trained on cutoffs "
                  f"{', '.join(str(c.date()) for c in churn.train_cutoffs)} "
                  f"({churn.n_train:,} snapshots), scored at {churn.eval_cutoff.date()} "
                  f"({churn.n_eval:,}): AUC {churn.auc:.3f} (without hit features "
                  f"{churn.auc_rfm_only:.3f}; among customers buying an item regularly "
                  f"{churn.auc_exposed:.3f})")
            print(f"  churn rate hit {churn.churn_rate_hit:.1%} (n={churn.n_hit}) vs not hit "
                  f"{churn.churn_rate_not_hit:.1%} (n={churn.n_not_hit}); not hit but buying "
                  f"an item regularly {churn.churn_rate_not_hit_exposed:.1%} "
                  f"(n={churn.n_not_hit_exposed})")
            print(f"  coefficients (standardised): {churn.coefficients}")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
