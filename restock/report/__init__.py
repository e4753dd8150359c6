"""The run report: a self-contained HTML page (plotly, offline) for supply-chain leads."""

from restock.report.data import ReportLimits
from restock.report.html import build_report

__all__ = ["ReportLimits", "build_report"]
