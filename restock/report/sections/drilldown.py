"""The per-SKU drill-down: pick any planned SKU-location (or click one in a table) and see its
sales history, forecast band, stock, order and the line's reasoning.

The numbers of every reorder line travel once, as compact JSON in the page; one chart is drawn
on demand by the script in ``DRILL_JS``, so 3,000 SKUs cost ~2 MB, not 3,000 plots.
"""

from __future__ import annotations

import json

import pandas as pd

import restock.report.data as prep
from restock.report.data import ReportLimits, is_empty, missing_columns
from restock.report.formatting import defs, empty, esc, fmt_num


def json_for_script(payload: object) -> str:
    """JSON safe inside <script type="application/json">: <, > and & as \\u escapes."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def drilldown_section(
    reorder: pd.DataFrame, alerts: pd.DataFrame, history: pd.DataFrame,
    forecasts: pd.DataFrame, products: pd.DataFrame | None, as_of: pd.Timestamp,
    limits: ReportLimits, currency: str,
) -> str:
    if is_empty(reorder) or missing_columns(reorder, ["sku", "location"]):
        return empty("No reorder lines this run, so there is no SKU to drill into.")
    payload = prep.drilldown_series(reorder, alerts, history, forecasts, products, as_of,
                                    limits.drilldown_history_days)
    series = payload["series"]

    def rank(item: dict) -> tuple:
        qty = item.get("recommended_order_qty") or 0
        return (0 if qty > 0 else 1, -(item.get("value") or qty), item["sku"], item["loc"])

    series.sort(key=rank)
    payload["cur"] = currency or ""
    options = _options(series)
    # The line's numbers travel as one list per series (names once, in "n"): ~30% smaller.
    payload["n"] = list(prep.DRILL_NUMBERS)
    payload["series"] = [
        {**{k: v for k, v in s.items() if k not in prep.DRILL_NUMBERS},
         "n": [s.get(name) for name in prep.DRILL_NUMBERS]}
        for s in series
    ]
    no_history = "" if not is_empty(history) else (
        '<p class="note">No sales history was passed to the report: the chart shows the '
        "forecast only.</p>")
    no_forecast = "" if not is_empty(forecasts) else (
        '<p class="note">No forecasts were passed to the report: the chart shows history '
        "only.</p>")
    return (
        "<p>Pick a SKU-location (or click a SKU in the tables above): its last "
        f"{limits.drilldown_history_days} days of sales, the forecast band from the planning "
        "date on, its stock and order, and why the order is what it is.</p>"
        + no_history + no_forecast
        + f'<label class="drill-pick">SKU-location <select id="drill-pick">{"".join(options)}'
        f"</select></label> <span class=\"note\">{len(series):,} planned SKU-locations, lines "
        "to place first (most valuable first).</span>"
        '<div id="drill-panel" class="drill-panel" aria-live="polite">'
        '<h3 id="drill-title"></h3><div class="drill-grid">'
        '<div><div id="drill-chart" class="plot"></div></div>'
        '<div><table class="facts"><tbody id="drill-facts"></tbody></table></div></div>'
        '<details id="drill-why-box" open><summary>Why this order</summary>'
        '<p id="drill-why"></p></details></div>'
        + defs([("Chart", "grey: units sold per day (red x: stock-out day, sales below demand); "
                          "blue: the forecast mean with its p50-p90 band.")])
        + f'<script type="application/json" id="drill-data">{json_for_script(payload)}</script>'
    )


def _options(series: list[dict]) -> list[str]:
    options = []
    for i, s in enumerate(series):
        label = f"{s['sku']} @ {s['loc']}"
        if s.get("name"):
            label += f" - {s['name']}"
        qty = s.get("recommended_order_qty")
        label += f" (order {fmt_num(qty)})" if qty else " (no order now)"
        options.append(f'<option value="{i}">{esc(label)}</option>')
    return options


DRILL_JS = """
(function () {
  var source = document.getElementById("drill-data");
  var pick = document.getElementById("drill-pick");
  if (!source || !pick) return;
  var data = JSON.parse(source.textContent);
  data.series.forEach(function (s) {
    data.n.forEach(function (name, j) { s[name] = s.n[j]; });
  });
  var byKey = {};
  data.series.forEach(function (s, i) { byKey[s.sku + "\\u001f" + s.loc] = i; });
  function day(iso, n) {
    var d = new Date(iso + "T00:00:00Z"); d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }
  function days(iso, n) {
    var out = [];
    for (var i = 0; i < n; i++) out.push(day(iso, i));
    return out;
  }
  function num(v, digits) {
    if (v === null || v === undefined) return "\\u2013";
    return v.toLocaleString("en-US", {maximumFractionDigits: digits || 0,
                                      minimumFractionDigits: digits || 0});
  }
  function money(v) {
    var t = num(v, 0);
    if (!data.cur || t === "\\u2013") return t;
    return data.cur.length === 1 ? data.cur + t : data.cur + " " + t;
  }
  function pct(v, digits) {
    return v === null || v === undefined ? "\\u2013" : (v * 100).toFixed(digits) + "%";
  }
  function level(v) {
    if (v === null || v === undefined) return "\\u2013";
    for (var d = 0; d <= 3; d++) {
      var t = (v * 100).toFixed(d);
      if (Math.abs(Number(t) - v * 100) < 1e-9 || d === 3) return t + "%";
    }
  }
  function fact(body, label, value) {
    var tr = document.createElement("tr");
    var th = document.createElement("th"); th.textContent = label;
    var td = document.createElement("td"); td.textContent = value; td.className = "num";
    tr.appendChild(th); tr.appendChild(td); body.appendChild(tr);
  }
  function show(i) {
    var s = data.series[i];
    if (!s) return;
    var title = s.sku + " @ " + s.loc + (s.name ? " \\u2013 " + s.name : "") +
      (s.cat ? " (" + s.cat + ")" : "");
    document.getElementById("drill-title").textContent = title;
    var body = document.getElementById("drill-facts");
    body.textContent = "";
    var stock = s.unknown ? "unknown (no inventory data)" : num(s.on_hand);
    fact(body, "order now (units)", num(s.recommended_order_qty));
    if (s.value !== null && s.value !== undefined)
      fact(body, "order value" + (data.basis ? " (at " + data.basis + ")" : ""), money(s.value));
    fact(body, "on hand", stock);
    fact(body, "on order", num(s.on_order));
    fact(body, "inventory position", num(s.inventory_position));
    fact(body, "reorder point", num(s.reorder_point, 1));
    fact(body, "order-up-to level", num(s.order_up_to, 1));
    fact(body, "safety stock", num(s.safety_stock, 1));
    fact(body, "lead time + review (days)", num(s.lead_time_days) + " + " + num(s.review_days));
    fact(body, "days of cover", num(s.days_of_cover, 1));
    fact(body, "stockout probability", pct(s.stockout_probability, 0));
    fact(body, "service level target", level(s.service_level_target));
    fact(body, "alert", s.sev ? s.sev + (s.out ? ", stockout projected " + s.out : "") : "none");
    if (s.model) fact(body, "forecast model", s.model);
    document.getElementById("drill-why").textContent = s.why || "No explanation recorded.";
    var traces = [];
    if (s.h && s.h.length) {
      var hx = days(data.h0, s.h.length);
      traces.push({type: "scatter", mode: "lines", name: "units sold", x: hx, y: s.h,
                   line: {color: "#4a4a4a", width: 1.5}});
      if (s.c && s.c.length) {
        traces.push({type: "scatter", mode: "markers", name: "stock-out day",
                     x: s.c.map(function (j) { return hx[j]; }),
                     y: s.c.map(function (j) { return s.h[j]; }),
                     marker: {color: "#b23a48", symbol: "x", size: 7}});
      }
    }
    if (s.m && s.m.length) {
      var fx = days(data.f0, s.m.length);
      if (s.p50 && s.p90) {
        traces.push({type: "scatter", mode: "lines", x: fx, y: s.p50, line: {width: 0},
                     showlegend: false, hoverinfo: "skip"});
        traces.push({type: "scatter", mode: "lines", x: fx, y: s.p90, fill: "tonexty",
                     fillcolor: "rgba(31,95,139,0.20)", line: {width: 0},
                     name: "forecast p50-p90"});
      }
      traces.push({type: "scatter", mode: "lines", name: "forecast (mean)", x: fx, y: s.m,
                   line: {color: "#1f5f8b", width: 2}});
    }
    var layout = {template: "none", height: 320, margin: {l: 50, r: 10, t: 10, b: 40},
                  hovermode: "x unified", yaxis: {title: {text: "units per day"},
                  gridcolor: "#e6e8eb", rangemode: "tozero"}, xaxis: {gridcolor: "#e6e8eb"},
                  legend: {orientation: "h", y: -0.18},
                  shapes: [{type: "line", xref: "x", yref: "paper", x0: data.asof, x1: data.asof,
                            y0: 0, y1: 1, line: {color: "#9aa3ab", dash: "dash", width: 1}}]};
    var chart = document.getElementById("drill-chart");
    chart.setAttribute("data-sku", s.sku);
    chart.setAttribute("data-loc", s.loc);
    Plotly.react(chart, traces, layout, {displaylogo: false, responsive: true}).then(function () {
      document.body.setAttribute("data-drill-shown", s.sku + " @ " + s.loc);
    });
  }
  pick.addEventListener("change", function () { show(+pick.value); });
  document.addEventListener("click", function (e) {
    var a = e.target.closest ? e.target.closest("a.drill") : null;
    if (!a) return;
    var i = byKey[a.getAttribute("data-sku") + "\\u001f" + a.getAttribute("data-loc")];
    if (i === undefined) return;
    e.preventDefault();
    pick.value = String(i);
    show(i);
    document.getElementById("drilldown").scrollIntoView();
  });
  show(0);
})();
"""


def drill_link(sku: object, location: object, text_html: str) -> str:
    """A SKU cell that opens the drill-down panel for its line."""
    return (f'<a class="drill" href="#drilldown" data-sku="{esc(sku)}" '
            f'data-loc="{esc(location)}">{text_html}</a>')
