"""Interactive tables: every row in the page, enhanced by DataTables (shipped offline by itables).

A table is plain HTML with every row (readable without JavaScript and printable); DataTables,
loaded once per page from the bundle inside the ``itables`` wheel (base64 in the page, imported
from a blob: URL, so no network), adds sorting, paging, a search box, per-column filters and
"Download CSV" / "Download XLSX" buttons that export every row the filters let through, not
only the page shown.

Cells carry raw values for machines next to the text for people: ``data-order`` (what a column
sorts on, and for numbers what the downloads hold) and ``data-x`` (what the downloads hold
otherwise; without it, the cell's text), so a value shown as "EUR 1,234" sorts as a number
and exports as 1234, and a folded explanation (``.why-text``) exports as its plain text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from restock.report.formatting import esc


@dataclass(frozen=True)
class Column:
    """One column: header label (plain text), css class, filter kind, exported or not."""

    label: str
    css: str = ""
    filter: str | None = None  # "text" (contains), "select" (exact, from the column's values)
    export: bool = True


@dataclass(frozen=True)
class Cell:
    """A cell: ``html`` shown; ``value`` (raw number or text) sorts and is downloaded."""

    html: str
    value: object = None
    search: str | None = None  # the text a select filter matches exactly
    order: object = None  # what the column sorts on, when not ``value`` (e.g. severity rank)


def plain(value: object) -> str:
    """A value as download text ("" for None / NaN); the cell attribute escapes it."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def _attr(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN: sorts first, exports empty
            return ""
        text = repr(round(value, 4))
        text = text[:-2] if text.endswith(".0") else text
    else:
        text = str(value)
    return esc(text)


def data_table(
    table_id: str,
    columns: list[Column],
    rows: list[list[Cell | str]],
    *,
    filename: str,
    order: list[tuple[int, str]] | None = None,
    page_length: int = 25,
    row_classes: list[str] | None = None,
    caption: str = "",
) -> str:
    """An HTML table with every row, marked up for the page's DataTables initialiser.

    ``order``: initial sort as (column index, "asc"|"desc"); ``filename``: the downloads' name
    (without extension). Cells that are plain strings are already-escaped HTML, exported as
    their text.
    """
    head = "".join(
        f'<th class="{c.css}{"" if c.export else " noexport"}">{esc(c.label)}</th>'
        for c in columns
    )
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        cells = []
        for column, cell in zip(columns, row, strict=True):
            css = f' class="{column.css}"' if column.css else ""
            if isinstance(cell, Cell):
                attrs = ""
                if cell.value is not None:
                    value = _attr(cell.value)
                    if column.css == "num" and cell.order is None:
                        attrs += f' data-order="{value}"'  # sorts, and is downloaded
                    else:
                        attrs += f' data-x="{value}"'
                if cell.order is not None:
                    attrs += f' data-order="{_attr(cell.order)}"'
                if cell.search is not None:
                    attrs += f' data-search="{esc(cell.search)}"'
                cells.append(f"<td{css}{attrs}>{cell.html}</td>")
            else:
                cells.append(f"<td{css}>{cell}</td>")
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    filters = _filters(table_id, columns, rows)
    order_json = esc(json.dumps([[i, d] for i, d in (order or [])]))
    cap = f"<caption>{caption}</caption>" if caption else ""
    return (
        f'<div class="dt-block">{filters}<div class="table-wrap dt-wrap">'
        f'<table id="{esc(table_id)}" class="dt display compact" data-filename="{esc(filename)}"'
        f' data-order="{order_json}" data-page-length="{int(page_length)}" '
        f'data-rows="{len(rows)}">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div></div>"
    )


def _filters(table_id: str, columns: list[Column], rows: list[list[Cell | str]]) -> str:
    """Per-column filter inputs above the table (wired up by the page's initialiser)."""
    controls = []
    for j, column in enumerate(columns):
        if column.filter == "text":
            controls.append(
                f'<label>{esc(column.label)} <input type="search" data-col="{j}" '
                f'placeholder="contains…"></label>'
            )
        elif column.filter == "select":
            values = sorted({
                (cell.search if isinstance(cell, Cell) and cell.search is not None else
                 str(cell.value) if isinstance(cell, Cell) and cell.value is not None else
                 str(cell))
                for cell in (row[j] for row in rows)
            })
            options = "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in values)
            controls.append(
                f'<label>{esc(column.label)} <select data-col="{j}">'
                f'<option value="">all</option>{options}</select></label>'
            )
    if not controls:
        return ""
    return (f'<div class="dt-filters" data-for="{esc(table_id)}">'
            f'<b>Filter:</b> {"".join(controls)}</div>')


def datatables_loader() -> str:
    """The DataTables bundle of the installed itables wheel, inlined for offline use (once)."""
    from itables import options as itables_options
    from itables.javascript import generate_init_offline_itables_html

    loader = generate_init_offline_itables_html(itables_options.dt_bundle)
    # Only the loader scripts: itables appends a <noscript> notebook hint the page has no use
    # for (and that links to the web).
    return loader[:loader.index("</script>") + len("</script>")]


def datatables_global() -> str:
    """The window property the itables loader resolves to the DataTables module."""
    from itables.javascript import _itables_underscore_version

    return _itables_underscore_version()


TABLES_JS = """
(async function () {
  var tables = Array.prototype.slice.call(document.querySelectorAll("table.dt"));
  if (!tables.length) { document.body.setAttribute("data-tables-ready", "0"); return; }
  var mod = await window[%(global)s];
  var DataTable = mod.default;
  function exportBody(data, row, column, node) {
    if (!node || !node.getAttribute) return data;
    var v = node.getAttribute("data-x");
    if (v === null && node.classList.contains("num")) v = node.getAttribute("data-order");
    if (v !== null) return v;
    var folded = node.querySelector(".why-text");  // a folded explanation: its text only
    return (folded || node).textContent.trim();
  }
  function regexEscape(s) { return s.replace(/[.*+?^${}()|[\\]\\\\]/g, "\\\\$&"); }
  tables.forEach(function (el) {
    var name = el.getAttribute("data-filename") || el.id;
    var exportOptions = {columns: ":not(.noexport)", format: {body: exportBody},
                         modifier: {search: "applied", order: "applied", page: "all"}};
    var dt = new DataTable(el, {
      pageLength: parseInt(el.getAttribute("data-page-length"), 10) || 25,
      lengthMenu: [10, 25, 50, 100, {label: "All", value: -1}],
      order: JSON.parse(el.getAttribute("data-order") || "[]"),
      autoWidth: false,
      layout: {topStart: ["pageLength", "buttons"], topEnd: "search"},
      buttons: [
        {extend: "csvHtml5", text: "Download CSV", filename: name, title: null,
         exportOptions: exportOptions, className: "dl-csv"},
        {extend: "excelHtml5", text: "Download XLSX", filename: name, title: null,
         sheetName: name.slice(0, 31), exportOptions: exportOptions, className: "dl-xlsx"}
      ]
    });
    el._restockTable = dt;
    var bar = document.querySelector('.dt-filters[data-for="' + el.id + '"]');
    if (bar) {
      bar.querySelectorAll("input[data-col]").forEach(function (input) {
        input.addEventListener("input", function () {
          dt.column(+input.getAttribute("data-col")).search(input.value).draw();
        });
      });
      bar.querySelectorAll("select[data-col]").forEach(function (sel) {
        sel.addEventListener("change", function () {
          var v = sel.value;
          dt.column(+sel.getAttribute("data-col"))
            .search(v ? "^" + regexEscape(v) + "$" : "", true, false).draw();
        });
      });
    }
  });
  // Printing shows every row (and every folded explanation), then restores the page.
  var saved = null;
  function beforePrint() {
    if (saved) return;
    saved = tables.map(function (el) { return el._restockTable.page.len(); });
    tables.forEach(function (el) { el._restockTable.page.len(-1).draw(false); });
    document.querySelectorAll("details:not([open])").forEach(function (d) {
      d.setAttribute("open", ""); d.setAttribute("data-print-opened", "");
    });
  }
  function afterPrint() {
    if (!saved) return;
    tables.forEach(function (el, i) { el._restockTable.page.len(saved[i]).draw(false); });
    document.querySelectorAll("details[data-print-opened]").forEach(function (d) {
      d.removeAttribute("open"); d.removeAttribute("data-print-opened");
    });
    saved = null;
  }
  window.addEventListener("beforeprint", beforePrint);
  window.addEventListener("afterprint", afterPrint);
  var media = window.matchMedia("print");
  media.addEventListener("change", function (e) {
    if (e.matches) beforePrint(); else afterPrint();
  });
  document.body.setAttribute("data-tables-ready", String(tables.length));
})().catch(function (err) {
  document.body.setAttribute("data-tables-ready", "failed");
  throw err;
});
"""


def tables_script() -> str:
    """The loader plus the initialiser of every ``table.dt`` on the page."""
    return datatables_loader() + "<script>" + TABLES_JS % {
        "global": json.dumps(datatables_global())} + "</script>"
