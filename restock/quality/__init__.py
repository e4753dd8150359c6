"""Data quality: reject reasons, quarantine accounting, GX suites.

- ``restock.feed.reader`` gives every raw row its ``_reject_reason`` (docs/DATA_QUALITY.md).
- ``accounting``: ``quarantine_rows`` (the quarantine table) and ``accounting_results`` (rows in
  = accepted + quarantined, per table).
- ``gx_suites``: ``run_raw_suites`` (GX 1.x, imported lazily) plus freshness, drift and spike
  warnings, with GX Data Docs.
- ``mart_checks``: blocking checks on forecasts and reorder lines.
"""
