"""The page around the sections: CSS, the figure loader, the header, the contents, the frame.

The page embeds plotly.js once (it must open offline) and renders every figure from JSON kept in
the page, drawing those on screen first. DataTables (restock.report.tables) loads before
plotly.js so the tables work while the plots draw.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from restock.report.formatting import esc

# The name the report logged under before the page and its sections were split.
logger = logging.getLogger("restock.report.html")

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
.po-card { border:1px solid var(--line); border-radius:6px; padding:4px 14px 10px; margin:12px 0; }
.table-wrap { overflow-x:auto; border:1px solid var(--line); border-radius:6px;
  margin:6px 0 10px; }
.dt-block { margin:8px 0 14px; }
.dt-wrap { border:none; overflow-x:auto; }
.dt-filters { font-size:13px; margin:6px 0; display:flex; flex-wrap:wrap; gap:6px 14px;
  align-items:center; }
.dt-filters input, .dt-filters select { font-size:13px; padding:2px 4px; }
table.dt th { position:static; }
details summary { cursor:pointer; color:var(--accent); }
.legend { border:1px solid var(--line); border-radius:6px; padding:6px 12px; margin:8px 0;
  font-size:13px; }
.legend ul { margin:4px 0; padding-left:18px; }
.drill-panel { border:1px solid var(--line); border-radius:6px; padding:8px 12px; margin:8px 0; }
.drill-grid { display:grid; grid-template-columns:minmax(0, 2fr) minmax(260px, 1fr); gap:12px; }
table.facts th { position:static; background:none; font-weight:400; color:var(--muted); }
label.drill-pick select { max-width:100%; font-size:14px; }
code { font-size:12px; word-break:break-word; }
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
@media (max-width: 900px) { nav.toc { display:none; } main { padding:8px; }
  .drill-grid { grid-template-columns:1fr; } }
@media print {
  body { background:#fff; font-size:11px; }
  nav.toc, .dt-filters, .dt-layout-row:has(.dt-paging), .dt-buttons, .dt-length, .dt-search,
  .dt-paging, .modebar, label.drill-pick { display:none !important; }
  .layout { display:block; max-width:none; }
  main { padding:0; }
  section { border:none; break-inside:auto; padding:6px 0; }
  .table-wrap, .dt-wrap { overflow:visible !important; max-height:none !important;
    border:none; }
  table { font-size:10px; }
  tr { break-inside:avoid; }
  thead { display:table-header-group; }
  th { position:static !important; }
  .plot-card { break-inside:avoid; }
  details > summary { display:none; }
  a { color:inherit; text-decoration:none; }
}
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


class Page:
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


def render_section(anchor: str, title: str, build: Callable[[], str]) -> str:
    """One section; a failure inside it is reported on the page instead of losing the report."""
    try:
        body = build()
    except Exception as exc:  # noqa: BLE001 - the rest of the report is still worth reading
        logger.exception("report section %s failed", anchor)
        body = f'<p class="error">This section could not be built: {esc(repr(exc))}</p>'
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>{body}</section>'


def render_page(
    as_of: str, run_summary: dict, lead: str, sections: Sequence[tuple[str, str]], body: str,
    after_plotly_js: str = "",
) -> str:
    """The whole HTML document: header with the lead line, contents, sections, plotly.js.

    DataTables (for the ``table.dt`` tables) loads before plotly.js, so the tables are
    interactive while the plots draw; ``after_plotly_js`` runs once Plotly is defined.
    """
    from plotly.offline import get_plotlyjs

    from restock.report.tables import tables_script

    tables = tables_script() if 'class="dt ' in body else ""
    after = f"<script>{after_plotly_js}</script>" if after_plotly_js else ""
    toc = "".join(f'<li><a href="#{a}">{esc(t)}</a></li>' for a, t in sections)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    feed = run_summary.get("feed")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Restock run report {esc(as_of)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>Restock run report: planning for {esc(as_of)}</h1>"
        f"<p>Feed {esc(feed)} &middot; run {esc(run_summary.get('run_id'))} &middot; "
        f"generated {generated}. What to order, why, and how sure we are.</p>{lead}</header>"
        f'<div class="layout"><nav class="toc" aria-label="Contents"><b>Contents</b><ol>{toc}'
        f"</ol></nav><main>{body}</main></div>{tables}"
        # plotly.js once, after the content: the text is readable before the plots draw.
        f"<script>{get_plotlyjs()}</script><script>{RENDER_JS}</script>{after}</body></html>"
    )
