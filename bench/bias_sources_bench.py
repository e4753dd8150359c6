"""Where Restock's point forecasts over-forecast: bias and mean RMSSE per source, vs MA28 and naive.

What it measures
----------------
The same feed, as-of and scoring as ``bench/accuracy_bench.py`` (daily net demand clipped at 0;
history up to ``--as-of``, default ``--horizon`` days before the last sales date; scored on the
``--horizon`` days after; series without an RMSSE scale left out). One ``run_forecasting`` call
(default ``ForecastSettings``, changed by ``--set key=value``, value read as JSON when it parses)
and, on the same series and days, seasonal naive (last 7 days repeated) and the 28-day moving
average (MA28, pre-first-sale days counted as 0, as in accuracy_bench).

Printed per source, side by side for restock / MA28 / naive: series, share of restock's net
error (sum of forecast - actual over the group / over all series; negative shares when the total
is an under-forecast and the group over-forecasts), total bias
(sum(forecast - actual) / sum(actual)) and mean RMSSE. Sources:

- ``cold start``: series younger than ``min_history_days`` at as_of (no backtest), by the
  model that forecast them;
- ``model=...``: the other series, by the model their unit selected;
- ``class=...``: the other series, by demand class (smooth, erratic, intermittent, lumpy);
- ``spike``: series (any) whose largest day of the last 28 days is more than half of those 28
  days' total (one order line dominates MA28's level).

Usage::

    .venv/bin/python bench/bias_sources_bench.py FEED [--as-of D] [--horizon 28]
        [--set cold_start_model=select] [--set 'candidates=["seasonal_naive", ...]']
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402
from accuracy_bench import held_out, to_demand  # noqa: E402

from restock.forecasting.metrics import rmsse  # noqa: E402


def group_rows(name: str, mask: np.ndarray, actual: np.ndarray, forecasts: dict[str, np.ndarray],
               scale: np.ndarray, net_total: float) -> dict:
    row: dict = {"source": name, "series": int(mask.sum())}
    a = actual[mask]
    for method, f in forecasts.items():
        err = (f[mask] - a).sum()
        row[f"{method} bias"] = err / max(a.sum(), 1e-9)
        row[f"{method} RMSSE"] = float(np.mean(rmsse(a, f[mask], scale[mask]))) if mask.any() \
            else np.nan
    net = (forecasts["restock"][mask] - a).sum()
    row["share of net error"] = net / net_total if net_total else np.nan
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("feed", type=Path)
    parser.add_argument("--as-of", default=None)
    parser.add_argument("--horizon", type=int, default=28)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="ForecastSettings field (JSON value), repeatable")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    common.setup_logging(args.verbose)
    overrides = common.parse_settings(args.set)
    print(f"bias_sources_bench {datetime.now().isoformat(timespec='seconds')} "
          f"commit {common.git_commit()} settings {overrides or 'defaults'}")
    t0 = time.perf_counter()
    keys, history, actual, dates, as_of, scale = held_out(args.feed, args.as_of, args.horizon)
    n_hist, h = history.shape[1], actual.shape[1]
    scored = np.isfinite(scale) & (scale > 0)

    from restock.forecasting import ForecastSettings, run_forecasting

    settings = ForecastSettings(**{"horizon": args.horizon, **overrides})
    result = run_forecasting(to_demand(keys, history, dates[:n_hist]), as_of, settings)
    wide = result.demand_forecasts.pivot_table(index=["sku", "location"], columns="date",
                                               values="forecast", aggfunc="first")
    wide = wide.reindex(index=pd.MultiIndex.from_frame(keys[["sku", "location"]]),
                        columns=pd.date_range(as_of + pd.Timedelta(days=1), periods=h))
    assign = result.series_assignments.set_index(["sku", "location"]).reindex(
        pd.MultiIndex.from_frame(keys[["sku", "location"]]))
    forecasts = {
        "restock": np.nan_to_num(wide.to_numpy(dtype=float)),
        "MA28": np.repeat(history[:, -28:].mean(axis=1, keepdims=True), h, axis=1),
        "naive": np.tile(history[:, -7:], -(-h // 7))[:, :h],
    }
    forecasts = {k: v[scored] for k, v in forecasts.items()}
    a, sc = actual[scored], scale[scored]
    model = assign["model"].to_numpy()[scored].astype(str)
    cold = assign["is_cold_start"].fillna(False).to_numpy(dtype=bool)[scored]
    dclass = assign["demand_class"].to_numpy()[scored].astype(str)
    last28 = history[scored][:, -28:]
    spike = last28.max(axis=1) > 0.5 * np.maximum(last28.sum(axis=1), 1e-9)
    net_total = (forecasts["restock"] - a).sum()

    rows = [group_rows("all", np.ones(len(a), dtype=bool), a, forecasts, sc, net_total)]
    for m in sorted(set(model[cold])):
        rows.append(group_rows(f"cold start ({m})", cold & (model == m), a, forecasts, sc,
                               net_total))
    for m in sorted(set(model[~cold])):
        rows.append(group_rows(f"model={m}", ~cold & (model == m), a, forecasts, sc, net_total))
    for c in sorted(set(dclass[~cold])):
        rows.append(group_rows(f"class={c}", ~cold & (dclass == c), a, forecasts, sc,
                               net_total))
    rows.append(group_rows("spike (any)", spike, a, forecasts, sc, net_total))
    table = pd.DataFrame(rows).set_index("source")
    cols = ["series", "share of net error"] + [f"{m} {k}" for k in ("bias", "RMSSE")
                                                   for m in forecasts]
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(f"{args.feed}: as_of {as_of.date()}, h={h}, {int(scored.sum())} series scored "
              f"({int((~scored).sum())} without an RMSSE scale left out)\n")
        print(table[cols].to_string(float_format=lambda x: f"{x:.4f}"))
    if result.adaptations:
        print("adaptations:", "; ".join(result.adaptations))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
