"""Writes tests/data/spare_parts_monthly.xls, the checked-in .xls fixture of test_importers.py.

xlwt (the only writer of the old .xls format) is not a project dependency: run this once in a
throwaway environment (``uv venv /tmp/x && uv pip install --python /tmp/x/bin/python xlwt &&
/tmp/x/bin/python tests/data/make_spare_parts_xls.py``) and commit the file it writes.
"""

from datetime import datetime
from pathlib import Path

import xlwt

book = xlwt.Workbook()
notes = book.add_sheet("Notes")
notes.write(0, 0, "Exported from the maintenance system")
sheet = book.add_sheet("Stock 2023")
month = xlwt.easyxf(num_format_str="mmm-yy")
sheet.write(0, 0, "Spare parts usage 2023")
header = ["Part No", "Description", "Lead time (months)", "Unit price", "MOQ", "Group"]
for c, text in enumerate(header):
    sheet.write(2, c, text)
for i in range(6):
    sheet.write(2, len(header) + i, datetime(2023, i + 1, 1), month)
rows = [
    ["P-100", "Hydraulic seal", 2, 12.5, 5, "HYD", 0, 3, 0, 0, 1, 0],
    ["P-200", "Fuse 10A", 0, 3.0, 1, "ELEC", 1, 1, 0, 2, 0, 4],
    ["P-300", "Relay", 0.5, 7.25, 10, "ELEC", None, 0, "n/a", 0, 0, 2],
    [None, "Total", None, None, None, None, 1, 4, 0, 2, 1, 6],
]
for r, row in enumerate(rows, start=3):
    for c, value in enumerate(row):
        if value is not None:
            sheet.write(r, c, value)
book.save(str(Path(__file__).with_name("spare_parts_monthly.xls")))
