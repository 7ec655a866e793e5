"""Self-contained HTML reports of a run: tables plus matplotlib PNGs embedded as data URIs."""

from opencook.data.report.data_report import render_data_report, write_data_report

__all__ = ["render_data_report", "write_data_report"]
