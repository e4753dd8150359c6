"""Data quality: reject reasons, quarantine accounting, GX suites."""
