"""The run report: one self-contained HTML page that supply-chain leads read each morning.

What to order, why, and how sure: the page embeds plotly.js once (it must open offline) and
renders every figure from JSON kept in the page, so it stays well under 10 MB for 3,000+ SKUs.
"""

from __future__ import annotations

import html
import logging
import math
import os
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from restock.report import data as prep
from restock.report import figures
from restock.report.data import ReportLimits, is_empty, missing_columns

logger = logging.getLogger("restock.report.html")

SECTIONS = (
    ("summary", "Run summary"),
    ("headline", "Headline: stockouts at the same inventory"),
    ("orders", "Reorder lines to place now"),
    ("leaderboard", "Model leaderboard per category"),
    ("accuracy", "Forecast accuracy by horizon and fold"),
    ("series", "Forecast vs actual for key SKUs"),
    ("frontier", "Policy replay: stockouts against inventory"),
    ("quality", "Data quality"),
)

DASH = "–"

CSS = """
:root { --ink:#24292f; --muted:#5f6b73; --line:#d8dde2; --bg:#f6f7f9; --accent:#1f5f8b;
  --good:#e6f4ea; --bad:#b23a48; --warn:#8a6d3b; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:var(--ink); background:var(--bg); }
header { background:#fff; border-bottom:1px solid var(--line); padding:18px 28px; }
header h1 { margin:0; font-size:22px; }
header p { margin:4px 0 0; color:var(--muted); }
header p.lead { color:var(--ink); font-size:17px; font-weight:600; margin-top:8px; }
header p.lead a { color:var(--accent); }
.layout { display:flex; max-width:1440px; margin:0 auto; }
nav.toc { position:sticky; top:0; align-self:flex-start; width:230px; flex:none;
  padding:20px 8px 20px 24px; font-size:14px; }
nav.toc ol { margin:0; padding-left:18px; }
nav.toc li { margin:4px 0; }
nav.toc a { color:var(--accent); text-decoration:none; }
nav.toc a:hover { text-decoration:underline; }
main { flex:1; min-width:0; padding:12px 28px 48px 12px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:16px 22px;
  margin:14px 0; }
h2 { font-size:19px; margin:2px 0 10px; }
h3 { font-size:16px; margin:18px 0 6px; }
p.def, dl.defs { color:var(--muted); font-size:13px; margin:4px 0 10px; }
dl.defs dt { font-weight:600; display:inline; color:var(--ink); }
dl.defs dd { display:inline; margin:0; }
dl.defs dd::after { content:""; display:block; }
p.empty { color:var(--muted); font-style:italic; }
p.error { color:var(--bad); font-weight:600; }
.headline { font-size:26px; font-weight:700; margin:6px 0; }
.headline .arrow { color:var(--muted); padding:0 6px; }
.headline .after { color:#2f7a4a; }
.kpis { display:flex; flex-wrap:wrap; gap:10px; margin:8px 0 12px; }
.kpi { border:1px solid var(--line); border-radius:6px; padding:8px 14px; min-width:150px; }
.kpi b { display:block; font-size:20px; }
.kpi span { color:var(--muted); font-size:12px; }
.table-wrap { overflow-x:auto; max-height:560px; overflow-y:auto; border:1px solid var(--line);
  border-radius:6px; margin:6px 0 10px; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { padding:5px 9px; border-bottom:1px solid #eef0f2; text-align:left; vertical-align:top; }
th { background:#f0f2f5; position:sticky; top:0; z-index:1; font-weight:600; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
td.num { white-space:nowrap; }
td.explain { min-width:240px; max-width:520px; color:#3b444b; }
tbody tr:nth-child(even) { background:#fafbfc; }
tr.group-start td { border-top:2px solid var(--line); }
.table-wrap.compact { display:inline-block; min-width:280px; }
.side-by-side { display:flex; flex-wrap:wrap; gap:28px; }
tr.chosen, tbody tr.chosen:nth-child(even) { background:var(--good); font-weight:600; }
.badge { display:inline-block; font-size:11px; font-weight:700; padding:1px 7px;
  border-radius:10px; background:#2f7a4a; color:#fff; margin-left:6px; }
.sev { font-weight:700; text-transform:uppercase; font-size:11px; }
.sev-critical, .sev-high, .failed-error { color:var(--bad); }
.sev-medium, .sev-warning, .failed-warning { color:var(--warn); }
.plot { width:100%; min-height:320px; }
.plots { display:grid; grid-template-columns:repeat(auto-fit, minmax(460px, 1fr)); gap:12px; }
.plot-card { border:1px solid var(--line); border-radius:6px; padding:4px 6px; }
.plot-card p { margin:2px 6px 6px; font-size:12px; color:var(--muted); }
.note { font-size:13px; color:var(--muted); }
ul.warnings li { color:var(--warn); }
@media (max-width: 900px) { nav.toc { display:none; } main { padding:8px; } }
"""

RENDER_JS = """
(function () {
  var config = {displaylogo: false, responsive: true,
                modeBarButtonsToRemove: ["lasso2d", "select2d"]};
  var specs = Array.prototype.slice.call(document.querySelectorAll("script.fig-data"));
  function target(s) { return document.getElementById(s.getAttribute("data-target")); }
  function draw(s) {
    var spec = JSON.parse(s.textContent);
    return Plotly.newPlot(target(s), spec.data, spec.layout, config);
  }
  function inView(s) {
    var r = target(s).getBoundingClientRect();
    return r.top < window.innerHeight && r.bottom > 0;
  }
  // Plots on screen first; the rest one per task, so the page scrolls while they draw.
  var first = specs.filter(inView);
  var rest = specs.filter(function (s) { return !inView(s); });
  var jobs = first.map(draw);
  Promise.all(jobs).then(function () {
    document.body.setAttribute("data-first-view-ready", String(jobs.length));
  });
  (function next() {
    if (!rest.length) {
      Promise.all(jobs).then(function () {
        document.body.setAttribute("data-plots-ready", String(jobs.length));
      });
      return;
    }
    jobs.push(draw(rest.shift()));
    setTimeout(next, 0);
  })();
})();
"""


# ---------------------------------------------------------------- formatting helpers


def esc(value: object) -> str:
    """HTML-escape any value from the data (None and NaN become a dash)."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return DASH  # None, NaN, NaT and pd.NA alike
    return html.escape(str(value))


def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def fmt_num(value: object, digits: int = 0) -> str:
    """A number with thousands separators, or a dash when unknown."""
    number = _finite(value)
    return DASH if number is None else f"{number:,.{digits}f}"


def fmt_pct(value: object, digits: int = 1) -> str:
    """A share (0.084) as a percentage ("8.4%"), or a dash when unknown."""
    number = _finite(value)
    return DASH if number is None else f"{number * 100:.{digits}f}%"


def fmt_date(value: object) -> str:
    """A date as YYYY-MM-DD, or a dash."""
    if value is None or value is pd.NaT:
        return DASH
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return esc(value)
    return DASH if pd.isna(stamp) else stamp.strftime("%Y-%m-%d")


def fmt_duration(seconds: object) -> str:
    """Seconds as "42.0 s" or "3 min 05 s"."""
    number = _finite(seconds)
    if number is None:
        return esc(seconds)
    if number < 60:
        return f"{number:.1f} s"
    minutes, rest = divmod(int(round(number)), 60)
    return f"{minutes} min {rest:02d} s"


def table(
    headers: list[tuple[str, str]],
    rows: list[list[str]],
    row_classes: list[str] | None = None,
    compact: bool = False,
) -> str:
    """An HTML table. Headers are (label, css class); cells are already-escaped HTML."""
    head = "".join(f'<th class="{cls}">{label}</th>' for label, cls in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        cells = "".join(
            f'<td class="{headers[j][1]}">{cell}</td>' if headers[j][1] else f"<td>{cell}</td>"
            for j, cell in enumerate(row)
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    wrap = "table-wrap compact" if compact else "table-wrap"
    return (
        f'<div class="{wrap}"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def defs(items: list[tuple[str, str]]) -> str:
    """One-line definitions of the metrics a section shows."""
    inner = "".join(f"<dt>{term}:</dt> <dd>{text}</dd>" for term, text in items)
    return f'<dl class="defs">{inner}</dl>'


def empty(text: str) -> str:
    """A sentence saying why a section has nothing to show."""
    return f'<p class="empty">{text}</p>'


def _lacks(frame: pd.DataFrame, needed: list[str], what: str) -> str:
    """A sentence naming the columns ``frame`` lacks (empty string when it has them all)."""
    missing = missing_columns(frame, needed)
    return empty(f"The {what} table lacks columns: {esc(', '.join(missing))}.") if missing else ""


def _capped_note(shown: int, total: int, what: str) -> str:
    if total <= shown:
        return ""
    return f'<p class="note">Showing the first {shown:,} of {total:,} {what}.</p>'


# ---------------------------------------------------------------- the page


class _Page:
    """Collects figures while sections are built; each figure becomes a div + JSON block."""

    def __init__(self) -> None:
        self.figure_ids: list[str] = []

    def figure(self, figure_json: str, caption: str = "", css: str = "plot") -> str:
        fig_id = f"fig-{len(self.figure_ids) + 1}"
        self.figure_ids.append(fig_id)
        # plotly's JSON escapes <, > and /, so "</script>" cannot occur inside it.
        cap = f"<p>{caption}</p>" if caption else ""
        return (
            f'<div class="plot-card"><div class="{css}" id="{fig_id}"></div>{cap}'
            f'<script type="application/json" class="fig-data" data-target="{fig_id}">'
            f"{figure_json}</script></div>"
        )


def _section(anchor: str, title: str, build: Callable[[], str]) -> str:
    """One section; a failure inside it is reported on the page instead of losing the report."""
    try:
        body = build()
    except Exception as exc:  # noqa: BLE001 - the rest of the report is still worth reading
        logger.exception("report section %s failed", anchor)
        body = f'<p class="error">This section could not be built: {esc(repr(exc))}</p>'
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>{body}</section>'


def _frame(value: pd.DataFrame | None) -> pd.DataFrame:
    return value if value is not None else pd.DataFrame()


# ---------------------------------------------------------------- sections


def _summary_section(run_summary: dict, as_of: str) -> str:
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
        total = sum(v for v in (_finite(d) for d in durations.values()) if v is not None)
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


def _headline_numbers(headline: dict | None) -> tuple[float, float, float] | None:
    if not headline:
        return None
    before = _finite(headline.get("static_stockout_rate"))
    after = _finite(headline.get("restock_stockout_rate_at_same_inventory"))
    if before is None or after is None:
        return None
    cut = _finite(headline.get("relative_cut"))
    if cut is None and before > 0:
        cut = 1 - after / before
    return before, after, (cut if cut is not None else float("nan"))


def _headline_section(headline: dict | None, replay: pd.DataFrame) -> str:
    numbers = _headline_numbers(headline)
    if numbers is None:
        why = (
            "the policy replay ran but produced no comparable headline point"
            if not is_empty(replay) else "no policy replay ran this run"
        )
        return empty(f"No headline this run: {why}. See the sections below for orders.")
    before, after, cut = numbers
    headline = headline or {}
    parameter = headline.get("static_parameter")
    inventory = headline.get("static_avg_inventory")
    measure = "value" if headline.get("inventory_measure") == "avg_inventory_value" else ""
    inventory_text = " ".join(w for w in ("average inventory", measure, fmt_num(inventory, 1)) if w)
    static_label = f"a {fmt_num(parameter, 0)}-day static buffer" if _finite(parameter) else \
        "the static rule"
    caveat = ""
    if headline.get("within_frontier") is False or str(headline.get("within_frontier")) == "False":
        caveat = ('<p class="note">Caution: the static rule\'s inventory lies outside the range '
                  "Restock's service levels covered, so Restock's rate there is extrapolated.</p>")
    cut_text = (
        f"a {fmt_pct(cut, 0)} relative cut" if _finite(cut) is not None and cut >= 0
        else f"a {fmt_pct(-cut, 0)} relative increase" if _finite(cut) is not None else ""
    )
    return (
        f'<p class="headline">At the same inventory, stockout rate '
        f'<span class="before">{fmt_pct(before)}</span><span class="arrow">&rarr;</span>'
        f'<span class="after">{fmt_pct(after)}</span></p>'
        f"<p>Replaying the recent past day by day, ordering as Restock recommends instead of "
        f"{static_label} ({inventory_text}) gives "
        f"{cut_text} in stockouts while holding the same average stock.</p>"
        + caveat
        + defs([
            ("Stockout rate", "share of SKU-location-days on which some demand went unserved."),
            ("Same inventory", "Restock's service-level curve read at the static rule's average "
                               "inventory (see the frontier below)."),
        ])
    )


def _orders_section(
    reorder: pd.DataFrame, alerts: pd.DataFrame, products: pd.DataFrame | None,
    limits: ReportLimits,
) -> str:
    parts = []
    needed = ["sku", "location", "recommended_order_qty"]
    if is_empty(reorder):
        parts.append(empty("No reorder lines this run (no products with forecasts to plan)."))
    elif missing_columns(reorder, needed):
        parts.append(_lacks(reorder, needed, "reorder"))
    else:
        lines, totals = prep.top_orders(reorder, products, limits.top_orders)
        value = totals["value"]
        value_kpi = (
            f'<div class="kpi"><span>order value (at {esc(totals["value_basis"])})</span>'
            f"<b>{fmt_num(value)}</b></div>" if value is not None else ""
        )
        unknown_kpi = (
            f'<div class="kpi"><span>stock unknown (no inventory data)</span>'
            f'<b>{totals["stock_unknown"]:,}</b></div>' if totals["stock_unknown"] else ""
        )
        parts.append(
            '<div class="kpis">'
            f'<div class="kpi"><span>lines to place now</span>'
            f'<b>{totals["lines_to_place"]:,}</b></div>'
            f'<div class="kpi"><span>SKU-locations planned</span>'
            f'<b>{totals["lines_total"]:,}</b></div>'
            f'<div class="kpi"><span>units to order</span><b>{fmt_num(totals["units"])}</b></div>'
            f"{value_kpi}{unknown_kpi}</div>"
        )
        if not lines.empty:
            parts.append(_orders_table(lines, totals["value_basis"]))
            parts.append(_capped_note(len(lines), totals["lines_to_place"], "lines to place"))
        elif not totals["stock_unknown"]:
            parts.append(empty("Nothing needs ordering now: every inventory position is above "
                               "its reorder point."))
        if totals["stock_unknown"]:
            parts.append(_unknown_stock(reorder, products, totals, limits))
        parts.append(defs([
            ("Order qty", "units to order now to bring the inventory position up to the "
                          "order-up-to level (rounded up to pack size and MOQ)."),
            ("Inventory position", "on hand + on order - backorders."),
            ("Days of cover", "days the stock on hand lasts at the forecast demand."),
            ("Stockout probability", "chance that demand over the lead time exceeds the "
                                     "inventory position: running out before anything ordered "
                                     "today can arrive."),
            ("Service target", "the chance of getting through a replenishment cycle without a "
                               "stockout that the reorder point is sized for."),
        ]))
    parts.append('<h3 id="alerts">Stockout alerts</h3>')
    if is_empty(alerts):
        parts.append(empty("No stockout alerts this run (either every position is covered, or "
                           "no inventory data was supplied, so stock levels are unknown)."))
    elif missing_columns(alerts, ["sku", "location", "severity"]):
        parts.append(_lacks(alerts, ["sku", "location", "severity"], "alerts"))
    else:
        parts.append(_alerts_table(alerts, limits))
    return "".join(parts)


def _unknown_stock(
    reorder: pd.DataFrame, products: pd.DataFrame | None, totals: dict, limits: ReportLimits
) -> str:
    """Lines without inventory data: no quantity, but the levels to compare with a shelf count."""
    lines = prep.unknown_stock_lines(reorder, products, limits.top_orders)
    rows = []
    for r in lines.to_dict("records"):
        sku = esc(r.get("sku"))
        if isinstance(r.get("product_name"), str) and r.get("product_name"):
            sku += f'<br><span class="note">{esc(r["product_name"])}</span>'
        rows.append([sku, esc(r.get("location")), fmt_num(r.get("reorder_point")),
                     fmt_num(r.get("order_up_to")), fmt_num(r.get("on_order")),
                     esc(r.get("explanation"))])
    return (
        f"<h3>Stock unknown: count these shelves</h3><p>{totals['stock_unknown']:,} "
        "SKU-locations have no inventory data, so no quantity is recommended for them. If shelf "
        "stock + open orders is at or below the reorder point, order up to the order-up-to "
        "level. Largest order-up-to value first.</p>"
        + table([("SKU", ""), ("location", ""), ("reorder point", "num"),
                 ("order up to", "num"), ("on order", "num"), ("why", "explain")], rows)
        + _capped_note(len(lines), totals["stock_unknown"], "lines with unknown stock")
    )


def _alerts_table(alerts: pd.DataFrame, limits: ReportLimits) -> str:
    shown, counts = prep.sorted_alerts(alerts, limits.alerts)
    count_text = ", ".join(f"{n:,} {esc(sev)}" for sev, n in counts.items())
    has_arrival = "next_possible_arrival" in shown.columns
    has_reason = "reason" in shown.columns
    rows = []
    for r in shown.to_dict("records"):
        sev = str(r.get("severity"))
        row = [f'<span class="sev sev-{esc(sev.lower())}">{esc(sev)}</span>', esc(r.get("sku")),
               esc(r.get("location")), fmt_date(r.get("projected_stockout_date"))]
        if has_arrival:
            row.append(fmt_date(r.get("next_possible_arrival")))
        row += [fmt_pct(r.get("stockout_probability"), 0), fmt_num(r.get("recommended_order_qty"))]
        if has_reason:
            row.append(esc(r.get("reason")))
        rows.append(row)
    headers = [("severity", ""), ("SKU", ""), ("location", ""), ("projected stockout", "")]
    if has_arrival:
        headers.append(("earliest arrival if ordered today", ""))
    headers += [("stockout probability", "num"), ("order qty", "num")]
    if has_reason:
        headers.append(("reason", "explain"))
    return (
        f"<p>{len(alerts):,} alerts: {count_text}. Most severe first, then the soonest.</p>"
        + table(headers, rows)
        + _capped_note(len(shown), len(alerts), "alerts")
        + defs([("Projected stockout", "first day the expected stock reaches zero without a new "
                                       "order.")])
    )


def _orders_table(lines: pd.DataFrame, value_basis: str | None) -> str:
    headers = [("SKU", ""), ("location", ""), ("order qty", "num")]
    if value_basis:
        headers.append((f"value ({esc(value_basis)})", "num"))
    headers += [("on hand + on order", "num"), ("days of cover", "num"),
                ("stockout prob.", "num"), ("why", "explain")]
    rows = []
    for r in lines.to_dict("records"):
        sku = esc(r.get("sku"))
        name = r.get("product_name")
        if isinstance(name, str) and name:
            sku += f'<br><span class="note">{esc(name)}</span>'
        on_hand = r.get("on_hand")
        # Unknown stock (no inventory feed) is said in words, not shown as a zero.
        stock = fmt_num(on_hand) if _finite(on_hand) is not None else "unknown"
        row = [sku, esc(r.get("location")), f"<b>{fmt_num(r.get('recommended_order_qty'))}</b>"]
        if value_basis:
            row.append(fmt_num(r.get("order_value")))
        row += [
            f"{stock} + {fmt_num(r.get('on_order'))}", fmt_num(r.get("days_of_cover"), 1),
            fmt_pct(r.get("stockout_probability"), 0),
            f"{esc(r.get('explanation'))}<br><span class=\"note\">model {esc(r.get('model'))}"
            f" &middot; service target {fmt_pct(r.get('service_level_target'), 0)}</span>",
        ]
        rows.append(row)
    return table(headers, rows)


def _leaderboard_section(
    metrics: pd.DataFrame, selection: pd.DataFrame, limits: ReportLimits
) -> str:
    parts = [defs([
        ("RMSSE", "root mean squared error scaled by a naive forecast's error on the history; "
                  "below 1 beats naive. The selection score."),
        ("MASE", "mean absolute error scaled the same way."),
        ("WAPE", "total absolute error / total units sold."),
        ("Bias", "(forecast units - actual units) / actual units; above 0 = over-forecast."),
        ("p90 coverage", "share of days with sales at or under the p90 forecast; target 90%."),
        ("Value added", "1 - chosen score / naive score: the share of the naive forecast's error "
                        "the chosen model removes."),
    ])]
    if not is_empty(selection) and not missing_columns(selection, ["category", "selected_model"]):
        parts.append("<h3>Chosen model per category and demand class</h3>")
        rows = []
        for r in selection.head(limits.leaderboard_groups).to_dict("records"):
            rows.append([
                esc(r.get("category")), esc(r.get("demand_class")),
                f'{esc(r.get("selected_model"))}<span class="badge">chosen</span>',
                fmt_pct(r.get("value_added")),
                f'{fmt_num(r.get("score"), 3)} vs {fmt_num(r.get("naive_score"), 3)}',
                f'{esc(r.get("runner_up"))} ({fmt_num(r.get("runner_up_score"), 3)})',
                fmt_num(r.get("n_series")), esc(r.get("reason")),
            ])
        parts.append(table(
            [("category", ""), ("demand class", ""), ("chosen model", ""),
             ("value added", "num"), ("score vs naive", "num"), ("runner-up", ""),
             ("series", "num"), ("reason", "explain")],
            rows, ["selection"] * len(rows),
        ))
        parts.append(_capped_note(min(len(selection), limits.leaderboard_groups), len(selection),
                                  "selections"))
    elif is_empty(metrics):
        return empty("No backtest ran this run, so there is no leaderboard.")
    if is_empty(metrics) or missing_columns(metrics, ["category", "model"]):
        parts.append(empty("No backtest metrics this run: the chosen models above could not be "
                           "compared with the alternatives."))
        return "".join(parts)
    leader = prep.mark_chosen(prep.leaderboard(metrics), selection)
    has_class = "demand_class" in leader.columns
    metric_cols = [m for m in prep.METRIC_COLUMNS if m in leader.columns]
    labels = {"rmsse": "RMSSE", "mase": "MASE", "wape": "WAPE", "bias": "bias",
              "pinball_p90": "pinball p90", "coverage_p90": "p90 coverage"}
    categories = list(leader.groupby("category", sort=True, dropna=False))
    for category, group in categories[: limits.leaderboard_groups]:
        parts.append(f"<h3>{esc(category)}: models compared in the backtest</h3>")
        rows, classes = [], []
        sub_groups = group.groupby("demand_class", sort=True, dropna=False) if has_class \
            else [(None, group)]
        for demand_class, sub in sub_groups:
            for i, r in enumerate(sub.to_dict("records")):
                name = esc(r["model"])
                if r["is_chosen"]:
                    name += '<span class="badge">chosen</span>'
                row = [esc(demand_class) if i == 0 else ""] if has_class else []
                row.append(name)
                for m in metric_cols:
                    value = r.get(m)
                    row.append(fmt_pct(value) if m in ("wape", "bias", "coverage_p90")
                               else fmt_num(value, 3))
                row.append(fmt_num(r.get("folds")))
                rows.append(row)
                css = ["chosen" if r["is_chosen"] else "", "group-start" if i == 0 else ""]
                classes.append(" ".join(c for c in css if c))
        headers = ([("demand class", "")] if has_class else []) + [("model", "")]
        headers += [(labels[m], "num") for m in metric_cols] + [("folds", "num")]
        parts.append(table(headers, rows, classes))
    parts.append(_capped_note(min(len(categories), limits.leaderboard_groups), len(categories),
                              "categories"))
    return "".join(parts)


def _accuracy_section(
    predictions: pd.DataFrame, metrics: pd.DataFrame, selection: pd.DataFrame, page: _Page,
    limits: ReportLimits,
) -> str:
    parts = [defs([
        ("WAPE", "total absolute error / total units sold, pooled over the backtested series; "
                 "stock-out days are left out because their sales understate demand."),
        ("Bias", "(forecast - actual) / actual; above 0 = over-forecast (excess stock), "
                 "below 0 = under-forecast (stockouts)."),
        ("Days ahead", "how far after the backtest cutoff the forecast day lies."),
        ("p90 coverage", "share of days at or under the p90 forecast; well calibrated = 90%."),
    ])]
    needed = ["model", "fold", "cutoff", "date", "forecast", "actual"]
    plots = []
    if is_empty(predictions) and is_empty(metrics):
        return empty("No backtest predictions this run, so accuracy by horizon and fold cannot "
                     "be shown.")
    if is_empty(predictions) or missing_columns(predictions, needed):
        parts.append(empty("No backtest predictions this run, so accuracy by horizon and fold "
                           "cannot be shown."))
    else:
        models = prep.most_used_models(predictions, limits.max_models_plotted)
        subset = predictions.loc[predictions["model"].astype(str).isin(models)]
        errors = prep.error_frame(subset, keys=("model", "fold"))
        by_horizon = prep.accuracy_by_horizon(subset, errors)
        by_fold = prep.accuracy_by_fold(subset, errors)
        plots.append(page.figure(figures.horizon_figure(by_horizon, models, "wape"),
                                 "Error grows with the days ahead; flat lines are good."))
        plots.append(page.figure(figures.horizon_figure(by_horizon, models, "bias"),
                                 "Bias near 0 at every horizon means no systematic over/under."))
        plots.append(page.figure(figures.fold_figure(by_fold, models),
                                 "Stable error across folds means the ranking is not luck."))
    if not is_empty(metrics) and "coverage_p90" in metrics.columns and "model" in metrics.columns:
        coverage = prep.coverage_of_selected(prep.leaderboard(metrics), selection)
        if len(coverage):
            plots.append(page.figure(figures.coverage_figure(coverage),
                                     "Green: within 5 points of 90%. Red: bands too narrow "
                                     "(below) or too wide (above)."))
    elif not is_empty(predictions):
        parts.append(empty("No backtest metrics this run, so p90 coverage per category is not "
                           "shown."))
    if plots:
        parts.append(f'<div class="plots">{"".join(plots)}</div>')
    return "".join(parts)


def _series_section(
    history: pd.DataFrame, predictions: pd.DataFrame, forecasts: pd.DataFrame,
    selection: pd.DataFrame, products: pd.DataFrame | None, as_of: pd.Timestamp, page: _Page,
    limits: ReportLimits,
) -> str:
    has_forecasts = not is_empty(forecasts) and not missing_columns(
        forecasts, ["sku", "location", "date", "forecast", "p50", "p90"])
    has_predictions = not is_empty(predictions) and not missing_columns(
        predictions, ["sku", "location", "model", "fold", "cutoff", "date", "forecast", "actual"])
    if not has_forecasts and not has_predictions:
        return empty("No forecasts and no backtest predictions this run: nothing to plot.")
    per_series, category_default = prep.selected_model_per_series(forecasts, selection)
    picks: list[tuple[str, str, str]] = []  # sku, location, why
    basis = None
    if has_forecasts:
        top, basis = prep.top_value_series(forecasts, products, limits.top_value_series)
        label = f"forecast value at {basis}" if basis else "forecast units"
        for r in top.itertuples(index=False):
            picks.append((str(r.sku), str(r.location),
                          f"Top by {esc(label)}: {fmt_num(r.value)} over the horizon."))
    if has_predictions:
        exclude = {(s, loc) for s, loc, _ in picks}
        worst = prep.worst_series(predictions, per_series, category_default,
                                  limits.worst_series, exclude)
        for r in worst.itertuples(index=False):
            picks.append((str(r.sku), str(r.location),
                          f"Among the largest backtest misses: WAPE {fmt_pct(r.wape, 0)} for "
                          f"{esc(r.model)}."))
    if not picks:
        return empty("No series qualified for plotting.")
    keys = pd.DataFrame(picks, columns=["sku", "location", "why"])
    names = prep.product_names(products)
    hist = _rows_for(history, keys, ["sku", "location", "date", "units_sold", "is_censored"])
    fc = _rows_for(forecasts, keys, ["sku", "location", "date", "forecast", "p50", "p90"]) \
        if has_forecasts else pd.DataFrame()
    bt = _rows_for(predictions, keys, ["sku", "location", "model", "fold", "cutoff", "date",
                                       "forecast", "p50", "p90", "actual"]) \
        if has_predictions else pd.DataFrame()
    model_of = {(str(r.sku), str(r.location)): str(r.model) for r in per_series.itertuples()}
    plots = []
    for sku, location, why in picks:
        model = model_of.get((sku, location))
        s_bt = _one(bt, sku, location)
        if len(s_bt):
            cat = str(s_bt["category"].iloc[0]) if "category" in s_bt else ""
            model = model or category_default.get(cat)
            chosen = s_bt.loc[s_bt["model"].astype(str) == str(model)] if model else s_bt.iloc[:0]
            # Not the forecasting model in the backtest sample: show its best-known stand-in.
            s_bt = chosen if len(chosen) else s_bt.loc[s_bt["model"] == s_bt["model"].iloc[0]]
            model = model if len(chosen) else str(s_bt["model"].iloc[0])
        s_hist = _one(hist, sku, location)
        start = as_of - pd.Timedelta(days=limits.history_tail_days)
        if len(s_bt):
            start = min(start, pd.Timestamp(s_bt["date"].min()) - pd.Timedelta(days=14))
        s_hist = s_hist.loc[s_hist["date"] >= start] if len(s_hist) else s_hist
        title = f"{esc(sku)} @ {esc(location)}"
        if sku in names.index:
            title += f" - {esc(names[sku])}"
        if model:
            title += f" ({esc(model)})"
        note = why if len(s_bt) else why + " Not in the backtest sample."
        plots.append(page.figure(
            figures.series_figure(title, s_hist, s_bt, _one(fc, sku, location), as_of), note))
    intro = (
        "<p>The most valuable SKU-locations, then those the backtest forecast worst. Grey: units "
        "sold (red x: stock-out day, sales below demand). Orange: the backtest forecast made at "
        "each fold's cutoff, with its p50-p90 band. Blue: the forecast from the planning date "
        "on.</p>"
    )
    return intro + defs([
        ("p50-p90 band", "half of the days should land below p50; 9 in 10 below p90."),
    ]) + f'<div class="plots">{"".join(plots)}</div>'


def _rows_for(frame: pd.DataFrame, keys: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Rows of ``frame`` for the plotted series only (big frames are filtered once, here)."""
    if is_empty(frame):
        return pd.DataFrame(columns=columns)
    cols = [c for c in [*columns, "category"] if c in frame.columns]
    # Cheap sku filter first (history can hold millions of rows), exact pairs on the rest.
    out = frame.loc[frame["sku"].astype(str).isin(set(keys["sku"])), cols]
    wanted = {f"{s}\x1f{loc}" for s, loc in zip(keys["sku"], keys["location"], strict=True)}
    pair = out["sku"].astype(str) + "\x1f" + out["location"].astype(str)
    out = out.loc[pair.isin(wanted)].copy()
    out["sku"] = out["sku"].astype(str)
    out["location"] = out["location"].astype(str)
    out["date"] = pd.to_datetime(out["date"])
    for c in ("forecast", "p50", "p90", "actual", "units_sold"):
        if c in out.columns:
            out[c] = pd.to_numeric(out[c], errors="coerce")
        elif c in columns:
            out[c] = np.nan  # e.g. a backtest without quantiles: plot the mean only
    if "is_censored" in columns and "is_censored" not in out.columns:
        out["is_censored"] = False
    return out


def _one(frame: pd.DataFrame, sku: str, location: str) -> pd.DataFrame:
    if frame.empty:
        return frame
    return frame.loc[(frame["sku"] == sku) & (frame["location"] == location)]


def _frontier_section(replay: pd.DataFrame, headline: dict | None, page: _Page) -> str:
    needed = ["policy", "parameter", "category", "avg_inventory_units", "stockout_rate"]
    if is_empty(replay):
        return empty("No policy replay this run (it needs enough sales history before the "
                     "planning date).")
    if missing_columns(replay, needed):
        return _lacks(replay, needed, "policy replay")
    measure = (headline or {}).get("inventory_measure")
    totals, axis = prep.frontier(replay, measure if isinstance(measure, str) else None)
    static_point = None
    numbers = _headline_numbers(headline)
    if numbers is not None:
        param = _finite(headline.get("static_parameter"))  # type: ignore[union-attr]
        static_rows = totals.loc[(totals["policy"].astype(str) == "static")
                                 & np.isclose(totals["parameter"].astype(float), param or -1)]
        if len(static_rows):
            static_point = {"x": float(static_rows[axis].iloc[0]), "y": numbers[0]}
        elif axis == "avg_inventory_units" and _finite(headline.get("static_avg_inventory")):
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
        param_text = (fmt_pct(param, 0) if policy == "recommended" and _finite(param) is not None
                      and param < 1 else f"{fmt_num(param, 0)} days" if policy == "static"
                      else fmt_num(param, 2))
        rows.append([
            "Restock" if policy == "recommended" else esc(policy), param_text,
            fmt_num(r.get("avg_inventory_units"), 1), fmt_num(r.get("avg_inventory_value"), 0),
            fmt_pct(r.get("stockout_rate"), 2), fmt_pct(r.get("fill_rate"), 1),
            fmt_num(r.get("orders")),
        ])
    return (
        defs([
            ("Stockout rate", "share of SKU-location-days with unmet demand in the replay."),
            ("Average inventory", "mean stock on hand over the replay days."),
            ("Fill rate", "units served / units demanded."),
        ])
        + f'<div class="plots">{fig}</div>'
        + table([("policy", ""), ("parameter", ""), ("avg inventory (units)", "num"),
                 ("avg inventory (value)", "num"), ("stockout rate", "num"),
                 ("fill rate", "num"), ("orders", "num")], rows)
    )


def _quality_section(
    results: pd.DataFrame, out_dir: Path, data_docs_index: Path | None, limits: ReportLimits
) -> str:
    parts = []
    if data_docs_index is not None:
        rel = Path(os.path.relpath(Path(data_docs_index).resolve(), out_dir.resolve())).as_posix()
        href = urllib.parse.quote(rel)
        missing = "" if Path(data_docs_index).exists() else " (not found when the report was built)"
        parts.append(f'<p>Full validation detail: <a href="{esc(href)}">Great Expectations Data '
                     f"Docs</a>{missing}.</p>")
    else:
        parts.append('<p class="note">No Data Docs were built for this run.</p>')
    needed = ["source", "check", "severity", "passed"]
    if is_empty(results):
        parts.append(empty("No data quality results were recorded this run."))
        return "".join(parts)
    if missing_columns(results, needed):
        return "".join(parts) + _lacks(results, needed, "data quality")
    passed = results["passed"].map(
        lambda v: str(v).lower() in ("true", "1", "t", "yes") if not isinstance(v, bool) else v
    )
    severity = results["severity"].astype(str).str.lower()
    rank = np.where(~passed, np.where(severity == "error", 0, 1), 2)
    ordered = results.assign(_rank=rank, _passed=passed).sort_values(
        ["_rank", "source", "check"], kind="mergesort")
    n_err = int(((~passed) & (severity == "error")).sum())
    n_warn = int(((~passed) & (severity != "error")).sum())
    parts.append(
        '<div class="kpis">'
        f'<div class="kpi"><span>checks run</span><b>{len(results):,}</b></div>'
        f'<div class="kpi"><span>failed, blocking (error)</span><b>{n_err:,}</b></div>'
        f'<div class="kpi"><span>failed, warning only</span><b>{n_warn:,}</b></div></div>'
    )
    shown = ordered.head(limits.quality_rows)
    rows = []
    for r in shown.to_dict("records"):
        sev = str(r.get("severity"))
        status = ("passed" if r["_passed"]
                  else f'<span class="failed-{esc(sev.lower())}"><b>FAILED</b></span>')
        rows.append([status, esc(sev), esc(r.get("source")), esc(r.get("check")),
                     fmt_num(r.get("failed_rows")), esc(r.get("detail"))])
    parts.append(table([("result", ""), ("severity", ""), ("source", ""), ("check", ""),
                        ("failed rows", "num"), ("detail", "explain")], rows))
    parts.append(_capped_note(len(shown), len(results), "checks"))
    parts.append(defs([("Severity", "an error blocks publishing the run's tables; a warning is "
                                    "reported and the run goes on.")]))
    return "".join(parts)


def _lead_line(
    headline: dict | None, reorder: pd.DataFrame, alerts: pd.DataFrame
) -> str:
    """The page's first sentence: the headline and what needs doing today, with links."""
    facts = []
    numbers = _headline_numbers(headline)
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


# ---------------------------------------------------------------- entry point


def build_report(
    out_dir: Path,
    *,
    as_of: str,
    run_summary: dict,
    backtest_metrics: pd.DataFrame | None,
    model_selection: pd.DataFrame | None,
    demand_forecasts: pd.DataFrame | None,
    history: pd.DataFrame | None,
    backtest_predictions: pd.DataFrame | None,
    reorder_recommendations: pd.DataFrame | None,
    stockout_alerts: pd.DataFrame | None,
    policy_replay: pd.DataFrame | None,
    policy_headline: dict | None,
    data_quality_results: pd.DataFrame | None,
    data_docs_index: Path | None = None,
    products: pd.DataFrame | None = None,
    limits: ReportLimits | None = None,
) -> Path:
    """Write the run report to ``out_dir/index.html`` and return its path.

    Inputs are the published tables (restock.contract.PUBLISHED_TABLES columns) plus ``history``
    (sku, location, date, units_sold, is_censored) and the backtest predictions. Any of them may
    be empty or None: the section then says so. The page is self-contained (plotly.js embedded
    once) so it opens offline.
    """
    from plotly.offline import get_plotlyjs

    limits = limits or ReportLimits()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    as_of_ts = pd.Timestamp(as_of)
    page = _Page()
    metrics, selection = _frame(backtest_metrics), _frame(model_selection)
    forecasts, predictions = _frame(demand_forecasts), _frame(backtest_predictions)
    replay = _frame(policy_replay)
    builders: dict[str, Callable[[], str]] = {
        "summary": lambda: _summary_section(run_summary or {}, as_of),
        "headline": lambda: _headline_section(policy_headline, replay),
        "orders": lambda: _orders_section(_frame(reorder_recommendations),
                                          _frame(stockout_alerts), products, limits),
        "leaderboard": lambda: _leaderboard_section(metrics, selection, limits),
        "accuracy": lambda: _accuracy_section(predictions, metrics, selection, page, limits),
        "series": lambda: _series_section(_frame(history), predictions, forecasts, selection,
                                          products, as_of_ts, page, limits),
        "frontier": lambda: _frontier_section(replay, policy_headline, page),
        "quality": lambda: _quality_section(_frame(data_quality_results), out_dir,
                                            data_docs_index, limits),
    }
    body = "".join(_section(anchor, title, builders[anchor]) for anchor, title in SECTIONS)
    toc = "".join(f'<li><a href="#{a}">{esc(t)}</a></li>' for a, t in SECTIONS)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    try:
        lead = _lead_line(policy_headline, _frame(reorder_recommendations), _frame(stockout_alerts))
    except Exception:  # the sections below still say everything
        logger.exception("report lead line failed")
        lead = ""
    feed = (run_summary or {}).get("feed")
    document = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Restock run report {esc(as_of)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>Restock run report: planning for {esc(as_of)}</h1>"
        f"<p>Feed {esc(feed)} &middot; run {esc((run_summary or {}).get('run_id'))} &middot; "
        f"generated {generated}. What to order, why, and how sure we are.</p>{lead}</header>"
        f'<div class="layout"><nav class="toc" aria-label="Contents"><b>Contents</b><ol>{toc}'
        f"</ol></nav><main>{body}</main></div>"
        # plotly.js once, after the content: the text is readable before the plots draw.
        f"<script>{get_plotlyjs()}</script><script>{RENDER_JS}</script></body></html>"
    )
    path = out_dir / "index.html"
    tmp = out_dir / "index.html.tmp"
    tmp.write_text(document, encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees a half-written report
    logger.info("report written: %s (%d figures, %.1f MB)", path, len(page.figure_ids),
                path.stat().st_size / 1e6)
    return path
