"""The run summary, the headline (stockouts at the same inventory) and the page's lead line."""

from __future__ import annotations

import pandas as pd

from restock.report.data import is_empty
from restock.report.formatting import (
    defs,
    empty,
    esc,
    finite,
    fmt_duration,
    fmt_num,
    fmt_pct,
    table,
)


def summary_section(run_summary: dict, as_of: str) -> str:
    info = [
        ("Feed", run_summary.get("feed")),
        ("Planning date (as of)", run_summary.get("as_of", as_of)),
        ("Run id", run_summary.get("run_id")),
    ]
    parts = ['<div class="kpis">']
    for label, value in info:
        parts.append(f'<div class="kpi"><span>{label}</span><b>{esc(value)}</b></div>')
    parts.append("</div>")
    parts.append('<div class="side-by-side"><div>')
    rows = run_summary.get("rows") or {}
    parts.append("<h3>Rows per published table</h3>")
    if rows:
        parts.append(table(
            [("table", ""), ("rows", "num")],
            [[esc(name), fmt_num(count)] for name, count in rows.items()], compact=True,
        ))
    else:
        parts.append(empty("No row counts were recorded for this run."))
    parts.append("</div><div>")
    durations = run_summary.get("durations") or {}
    parts.append("<h3>Time per stage</h3>")
    if durations:
        total = sum(v for v in (finite(d) for d in durations.values()) if v is not None)
        body = [[esc(stage), fmt_duration(sec)] for stage, sec in durations.items()]
        body.append(["<b>total</b>", f"<b>{fmt_duration(total)}</b>"])
        parts.append(table([("stage", ""), ("duration", "num")], body, compact=True))
    else:
        parts.append(empty("No stage durations were recorded for this run."))
    parts.append("</div></div>")
    warnings = run_summary.get("warnings") or []
    parts.append("<h3>Warnings</h3>")
    if warnings:
        items = "".join(f"<li>{esc(w)}</li>" for w in warnings)
        parts.append(f'<ul class="warnings">{items}</ul>')
    else:
        parts.append('<p class="note">No warnings.</p>')
    return "".join(parts)


def headline_numbers(headline: dict | None) -> tuple[float, float, float] | None:
    if not headline:
        return None
    before = finite(headline.get("static_stockout_rate"))
    after = finite(headline.get("restock_stockout_rate_at_same_inventory"))
    if before is None or after is None:
        return None
    cut = finite(headline.get("relative_cut"))
    if cut is None and before > 0:
        cut = 1 - after / before
    return before, after, (cut if cut is not None else float("nan"))


def replay_dating(replay: pd.DataFrame | None) -> str:
    """"Replayed on D, on the history to A." for the replay's rows (it runs weekly in its own
    job; a nightly shows the last one), or "" when the rows carry no date."""
    if is_empty(replay) or "replayed_at" not in replay or replay["replayed_at"].isna().all():
        return ""
    ran = pd.Timestamp(replay["replayed_at"].max())
    upto = replay["replay_as_of"].max() if "replay_as_of" in replay else None
    upto_text = f", on the history to {pd.Timestamp(upto).date()}" if pd.notna(upto) else ""
    return f"Replayed on {ran:%Y-%m-%d %H:%M} UTC{upto_text} (the replay runs weekly)."


NO_REPLAY_YET = ("no policy replay has run yet: it runs weekly (schedule "
                 "restock_replay_weekly) or on demand with `restock replay`")


def headline_section(headline: dict | None, replay: pd.DataFrame) -> str:
    numbers = headline_numbers(headline)
    if numbers is None:
        why = (
            "the policy replay ran but produced no comparable headline point"
            if not is_empty(replay) else NO_REPLAY_YET
        )
        return empty(f"No headline this run: {why}. See the sections below for orders.")
    before, after, cut = numbers
    headline = headline or {}
    parameter = headline.get("static_parameter")
    inventory = headline.get("static_avg_inventory")
    measure = "value" if headline.get("inventory_measure") == "avg_inventory_value" else ""
    inventory_text = " ".join(w for w in ("average inventory", measure, fmt_num(inventory, 1)) if w)
    static_label = f"a {fmt_num(parameter, 0)}-day static buffer" if finite(parameter) else \
        "the static rule"
    caveat = ""
    if headline.get("within_frontier") is False or str(headline.get("within_frontier")) == "False":
        caveat = ('<p class="note">Caution: the static rule\'s inventory lies outside the range '
                  "Restock's service levels covered, so Restock's rate there is extrapolated.</p>")
    cut_text = (
        f"a {fmt_pct(cut, 0)} relative cut" if finite(cut) is not None and cut >= 0
        else f"a {fmt_pct(-cut, 0)} relative increase" if finite(cut) is not None else ""
    )
    return (
        f'<p class="headline">At the same inventory, stockout rate '
        f'<span class="before">{fmt_pct(before)}</span><span class="arrow">&rarr;</span>'
        f'<span class="after">{fmt_pct(after)}</span></p>'
        f"<p>Replaying the recent past day by day, ordering as Restock recommends instead of "
        f"{static_label} ({inventory_text}) gives "
        f"{cut_text} in stockouts while holding the same average stock.</p>"
        + (f'<p class="note">{esc(replay_dating(replay))}</p>' if replay_dating(replay) else "")
        + caveat
        + defs([
            ("Stockout rate", "share of SKU-location-days on which some demand went unserved."),
            ("Same inventory", "Restock's service-level curve read at the static rule's average "
                               "inventory (see the frontier below)."),
        ])
    )


def lead_line(
    headline: dict | None, reorder: pd.DataFrame, alerts: pd.DataFrame
) -> str:
    """The page's first sentence: the headline and what needs doing today, with links."""
    facts = []
    numbers = headline_numbers(headline)
    if numbers is not None:
        facts.append(f'<a href="#headline">stockout rate {fmt_pct(numbers[0])} &rarr; '
                     f"{fmt_pct(numbers[1])} at the same inventory</a>")
    if not is_empty(reorder) and "recommended_order_qty" in reorder.columns:
        qty = pd.to_numeric(reorder["recommended_order_qty"], errors="coerce").fillna(0)
        facts.append(f'<a href="#orders">{int((qty > 0).sum()):,} order lines to place now</a>')
    if not is_empty(alerts) and "severity" in alerts.columns:
        critical = int((alerts["severity"].astype(str).str.lower() == "critical").sum())
        facts.append(f'<a href="#alerts">{critical:,} critical stockout alerts</a>')
    return f'<p class="lead">{" &middot; ".join(facts)}</p>' if facts else ""
