"""Spare-parts workbooks (``.xlsx`` / ``.xls``) -> a contract feed at week or month grain.

``restock import spare-parts SRC --out DIR``: SRC is a workbook or a folder holding exactly one
(any file name). The reference file is MAN (../shared/data/spare_parts/MAN.xlsx, sheet ``Data``);
the same code reads the other common shapes of spare-parts demand:

Finding the table
    The sheet is ``sheet`` or else the one sheet that fits (a SKU header and either period
    columns or date + quantity columns); with none or several the error lists every sheet. The
    header row is the first of the first 40 rows with a SKU column (``sku``, ``sku nr``,
    ``part number``, ``item``, ``material`` ... or ``sku_column``); the header may span several
    rows (MAN: the column meaning in row 1, units and a legend in rows 4-6): it ends at the first
    row with a SKU. Rows without a SKU below it (totals, notes) are not parts and are counted in
    ``rows_without_sku``. Header text matches without case, punctuation or a parenthesised unit:
    ``Lead time (weeks)`` is the lead time column, and its unit.

Wide tables (one column per period)
    A period header is a date cell, a date text (``2023-01``, ``Jan 2023``, ``2023-01-01``,
    ``2012-W05``), a ``week N`` label with the year in another header row above or below (or
    carried over the year boundary as in MAN, whose first weeks have a title in place of the
    year), or a relative label (``latest``/``last``/``current``/``t``, ``last -1``, ``t-2``, ...),
    which needs ``end`` (the date of the latest period) and ``grain``. Other columns not named
    as attributes (MAN's per-part statistics) are ignored. The grain is ``grain`` or what the
    headers say (``week N`` -> week, month texts -> month, dates spaced 7 days -> week, on the 1st
    one month apart -> month, 1 day apart -> day).

Long tables (one row per part and period)
    A SKU, a date (``date``, ``period``, ``week``, ``month`` or ``date_column``) and a quantity
    column (``quantity``, ``qty``, ``demand``, ``usage`` ... or ``quantity_column``); optional
    ``location`` / ``warehouse`` / ``plant``. Dates are moved to their period's first day (ISO
    Monday, the 1st of the month) unless a weekly series' dates already share a weekday, and
    rows of one part, location and period are summed. Part attributes come from each part's
    first row.

Dates written
    Every sales date is the first day of its period: the Monday of a ``week N`` (ISO week), the
    1st of a month; weekly dates from the file keep their weekday. The feed gets a ``feed.yml``
    with ``grain: week|month|day`` (../shared/DATA_CONTRACT.md, v1.1): a weekly or monthly row is
    that period's total demand, not one day's.

Products
    ``lead_time_days`` from the lead time column in ``lead_time_unit`` (days, weeks, or months of
    365.25 / 12 days; default: the unit in the column's header text, else an error) or the
    ``lead_time_days`` option for every part; 0 is valid (same-day supply). ``unit_cost`` (cost
    price), ``unit_price`` (price), ``moq``, ``category``, ``supplier``, ``name``, ``pack_size``
    from their columns when present (or the ``*_column`` options). Without a category column the
    lead-time legend of the header (MAN: ``16w/asia``, ``7w/nl``) gives the sourcing region:
    category ``SPARES_<REGION>``, supplier ``<REGION>`` (``SPARES_OTHER`` when a lead time is not
    in the legend); without a legend, ``SPARES``. MAN's extra columns are kept:
    ``fixed_order_cost`` (EUR per order), ``holding_cost_per_year`` (EUR per unit per year),
    ``products_per_unit`` (sub packaging).

Faithful, no cleaning
    A file that does not fit (no sheet, no header, a period header that cannot be read, a date
    cell of a long table that is not a date, a repeated SKU) raises
    :class:`~restock.importers.common.SourceFormatError` with one line naming the file, the
    sheet, the row and the column (Excel numbering: row 1, column A). A value the feed contract
    checks (a text quantity, lead time or MOQ, a negative lead time) is written as the file has
    it, for the reader to quarantine with its reason; such cells are counted in
    ``unreadable_cells``. An empty demand cell is no demand (``empty_cells``); zero cells are not
    written (the pipeline's daily spine fills zeros).

Modules, in the order of a conversion (each imports only the ones after it):

- ``convert``: :func:`import_spare_parts`, the whole conversion, and the locations table;
- ``products``: the products table from the parts' attribute cells (lead time unit, legend);
- ``wide``: a wide table (one column per period) -> parts and sales rows;
- ``long``: a long table (one row per part and period) -> parts and sales rows;
- ``sheet``: the workbook, the sheet that fits, its header rows and column meanings;
- ``periods``: period header and date cells, grains, period starts;
- ``cells``: cell values and the Excel names of places in a sheet;
- ``options``: :class:`SparePartsOptions`, the choices a user can make.
"""

from restock.importers.spare_parts.convert import import_spare_parts
from restock.importers.spare_parts.options import SparePartsOptions

__all__ = ["SparePartsOptions", "import_spare_parts"]
